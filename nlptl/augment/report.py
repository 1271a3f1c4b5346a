"""What augmentation did, for the run's outputs: a few before/after samples and per-operation counts.

Samples go to `augmentation_samples.jsonl` so a person can check that the copies still read as their label;
counts (produced / unchanged / skipped per operation) go to metrics.json -> train -> augmentation.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from nlptl.io import write_text

SAMPLES_FILE = "augmentation_samples.jsonl"
COUNT_KINDS = ("produced", "unchanged", "skipped")


class SampleRecorder:
    """Keeps the first before/after pairs it is offered, at most an even share per operation, so every
    operation shows up among the handful written."""

    def __init__(self, limit: int, ops: Sequence[str]) -> None:
        self.limit = limit
        self.per_op = math.ceil(limit / max(len(ops), 1))
        self.taken: Counter[str] = Counter()
        self.samples: list[dict[str, Any]] = []

    def wants(self, op: str) -> bool:
        return len(self.samples) < self.limit and self.taken[op] < self.per_op

    def offer(self, op: str, before: Callable[[], dict], after: Callable[[], dict], **extra: Any) -> None:
        """Record one pair if there is room; `before`/`after` are only called then (they format rows)."""
        if self.wants(op):
            self.taken[op] += 1
            self.samples.append({"op": op, **extra, "before": before(), "after": after()})

    def write(self, output_dir: Path) -> Path | None:
        if not self.samples:
            return None
        path = output_dir / SAMPLES_FILE
        write_text(path, "".join(json.dumps(sample, ensure_ascii=False) + "\n" for sample in self.samples))
        return path


def merge_counts(parts: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Sum `AugmentStats.as_dict()` results (one per process) into one."""
    total: dict[str, Counter[str]] = {kind: Counter() for kind in COUNT_KINDS}
    for part in parts:
        for kind in COUNT_KINDS:
            total[kind].update(part.get(kind, {}))
    return {kind: dict(sorted(counts.items())) for kind, counts in total.items()}
