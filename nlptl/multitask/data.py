"""The tasks' splits side by side, batched one task at a time.

`MultitaskDataset` puts each task's tokenized split after the previous one (row ids and `example_id` offset by
the rows before it) and tags every row with its `task_index`. `TaskBatches` decides which task each training
batch comes from: the whole epoch's sequence is drawn from (seed, epoch) alone, so a resumed run (which skips
the batches already done) sees exactly the batches the interrupted one would have.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from typing import Any

import datasets
import torch
from torch.utils.data import Dataset, Sampler

from nlptl.data.batching import LengthGroupedBatches
from nlptl.data.collate import Collator
from nlptl.errors import NlptlError
from nlptl.recipe import MULTITASK_SAMPLING, MultitaskConfig, TrainConfig

EPOCH_STREAMS = 1000  # a task cycled within one epoch draws its k-th pass as sub-epoch epoch * 1000 + k


class MultitaskDataset(Dataset):
    """Rows of several tasks' splits, in task order; a row carries its `task_index`."""

    def __init__(self, parts: dict[str, datasets.Dataset], task_indices: dict[str, int]) -> None:
        self.names = list(parts)
        self.parts = [parts[name] for name in self.names]
        self.task_indices = [task_indices[name] for name in self.names]
        self.offsets = [0]
        for part in self.parts:
            self.offsets.append(self.offsets[-1] + len(part))

    def __len__(self) -> int:
        return self.offsets[-1]

    def part_of(self, index: int) -> int:
        return bisect.bisect_right(self.offsets, index) - 1

    def __getitem__(self, key: int | str) -> Any:
        """A row by its position over all parts, or a column (e.g. `length`) over all parts."""
        if isinstance(key, str):
            return [value for part in self.parts for value in part[key]]
        position = self.part_of(key)
        row = dict(self.parts[position][key - self.offsets[position]])
        row["example_id"] = row["example_id"] + self.offsets[position]
        row["task_index"] = self.task_indices[position]
        return row

    def __getitems__(self, keys: list[int]) -> list[dict]:
        return [self[key] for key in keys]

    def train_batches(self, cfg: TrainConfig, seed: int, multitask: MultitaskConfig) -> TaskBatches:
        parts = [LengthGroupedBatches(part["length"], cfg.batch_size, seed + position,
                                      group_by_length=cfg.group_by_length, window_batches=cfg.group_window)
                 for position, part in enumerate(self.parts)]
        return TaskBatches(parts, self.offsets[:-1], sampling_weights(multitask, [len(p) for p in parts]), seed)

    def eval_batches(self, batch_size: int, processes: int = 1) -> list[list[int]]:
        """Each task's rows sorted by length, longest first, in batches of one task; each task's batch count is a
        multiple of `processes` where it has the rows, so the processes evaluate the same task at once."""
        batches: list[list[int]] = []
        for position, part in enumerate(self.parts):
            lengths = part["length"]
            order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
            count = math.ceil(len(order) / batch_size)
            count = min(len(order), math.ceil(count / processes) * processes)
            bounds = [len(order) * k // max(count, 1) for k in range(count + 1)]  # `count` near-equal batches
            offset = self.offsets[position]
            batches += [[offset + i for i in order[start:end]]
                        for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
        return batches


def sampling_weights(cfg: MultitaskConfig, batches: Sequence[int]) -> list[float]:
    """Probability of each task per batch: proportional to its train batches, uniform, or tempered."""
    if cfg.sampling not in MULTITASK_SAMPLING:
        raise NlptlError(f"multitask.sampling={cfg.sampling!r}: choose one of {', '.join(MULTITASK_SAMPLING)}")
    if cfg.sampling == "temperature" and cfg.temperature <= 0:
        raise NlptlError(f"multitask.temperature={cfg.temperature}: use a positive number (1: proportional)")
    power = {"proportional": 1.0, "uniform": 0.0}.get(cfg.sampling, 1.0 / cfg.temperature)
    weights = [count ** power for count in batches]
    return [weight / sum(weights) for weight in weights]


def quotas(probabilities: Sequence[float], total: int) -> list[int]:
    """Batches per task in an epoch of `total`: the largest-remainder rounding of probability x total."""
    exact = [p * total for p in probabilities]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[:total - sum(counts)]:
        counts[i] += 1
    return counts


class TaskBatches(Sampler[list[int]]):
    """One task's batch at a time. An epoch has as many batches as all tasks together; each task gets its share
    (`sampling_weights`) in a seeded random order, its own batches length-grouped as in single-task training and
    drawn again (a new sub-epoch) when a task with a large share runs out."""

    def __init__(self, parts: list[LengthGroupedBatches], offsets: list[int], probabilities: list[float],
                 seed: int) -> None:
        self.parts, self.offsets, self.probabilities, self.seed = parts, offsets, probabilities, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def task_order(self) -> list[int]:
        """The task of each batch of the epoch: a function of (seed, epoch) only."""
        order = [task for task, count in enumerate(quotas(self.probabilities, len(self))) for _ in range(count)]
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch + 7_919)
        return [order[i] for i in torch.randperm(len(order), generator=generator).tolist()]

    def stream(self, task: int) -> Iterator[list[int]]:
        part = self.parts[task]
        for k in range(EPOCH_STREAMS):
            part.set_epoch(self.epoch * EPOCH_STREAMS + k)
            yield from list(part)

    def __iter__(self) -> Iterator[list[int]]:
        streams = [self.stream(task) for task in range(len(self.parts))]
        for task in self.task_order():
            yield [self.offsets[task] + i for i in next(streams[task])]


class MultitaskCollator:
    """Collates a one-task batch with that task's collator and adds its `task_index` (the head to run)."""

    def __init__(self, collators: list[Collator]) -> None:
        self.collators = collators

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        index = rows[0]["task_index"]
        batch = self.collators[index]([{k: v for k, v in row.items() if k != "task_index"} for row in rows])
        batch["task_index"] = torch.full((len(rows),), index, dtype=torch.long)
        return batch

    def set_epoch(self, epoch: int) -> None:
        for collator in self.collators:
            collator.set_epoch(epoch)
