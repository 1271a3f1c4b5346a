"""Micro-batching: concurrent requests share one forward on one model copy.

One worker thread owns the model. It takes the oldest waiting request, waits at most `max_wait` for others to
join, and runs them together (up to `max_batch` texts; a larger request runs alone), then answers each request
with its own slice. A batch that fails is retried request by request, so one bad request fails alone.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("nlptl.serve")
PredictFn = Callable[[list[str], "list[str] | None"], list[dict[str, Any]]]


@dataclass
class Job:
    texts: list[str]
    pairs: list[str] | None
    future: Future = field(default_factory=Future)


class MicroBatcher:
    def __init__(self, predict: PredictFn, max_batch: int, max_wait_s: float,
                 on_batch: Callable[[int, float], None] | None = None) -> None:
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch  # called with (texts, seconds) after each forward
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.held: Job | None = None  # a job that did not fit the last batch: first in the next
        self.thread = threading.Thread(target=self.loop, name="nlptl-batcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=30)

    def submit(self, texts: list[str], pairs: list[str] | None = None) -> Future:
        job = Job(texts, pairs)
        self.jobs.put(job)
        return job.future

    def next_batch(self) -> list[Job] | None:
        """The oldest job plus whatever joins within max_wait, up to max_batch texts; None when stopping."""
        first = self.held or self.jobs.get()
        self.held = None
        if first is None:
            return None
        batch, size = [first], len(first.texts)
        deadline = time.monotonic() + self.max_wait_s
        while size < self.max_batch:
            try:
                job = self.jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                self.jobs.put(None)  # stop after this batch
                break
            if size + len(job.texts) > self.max_batch:
                self.held = job
                break
            batch.append(job)
            size += len(job.texts)
        return batch

    def loop(self) -> None:
        while (batch := self.next_batch()) is not None:
            try:
                self.run(batch)
            except BaseException as err:  # never let the worker die: every waiting request gets an answer
                logger.exception("batch failed")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(err)

    def run(self, batch: list[Job]) -> None:
        texts = [text for job in batch for text in job.texts]
        paired = batch[0].pairs is not None
        pairs = [pair for job in batch for pair in (job.pairs or [])] if paired else None
        started = time.perf_counter()
        try:
            results = self.predict(texts, pairs)
        except Exception:
            if len(batch) == 1:
                raise
            for job in batch:  # find the request that failed; the others still get their answers
                try:
                    self.run([job])
                except Exception as err:
                    job.future.set_exception(err)
            return
        if self.on_batch:
            self.on_batch(len(texts), time.perf_counter() - started)
        start = 0
        for job in batch:
            job.future.set_result(results[start:start + len(job.texts)])
            start += len(job.texts)
