"""Batch orders that waste little compute on padding.

Training: length-grouped batches (shuffle, then sort inside large windows, then shuffle the batches), seeded
by (seed, epoch) so a resumed run sees exactly the same order. Evaluation: batches sorted by length; every
row carries its `example_id` so predictions are put back in the original order afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import Sampler

if TYPE_CHECKING:
    from nlptl.recipe import Recipe


class LengthGroupedBatches(Sampler[list[int]]):
    """Random batches of similar length (as `group_by_length` in the HF Trainer); reproducible per epoch.

    `epoch_lengths`, when given, is asked for each epoch's row lengths as the epoch's batches are drawn (on-the-fly
    augmentation changes them every epoch); `lengths` are the rows' lengths otherwise."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, group_by_length: bool = True,
                 window_batches: int = 50, drop_last: bool = False,
                 epoch_lengths: Callable[[int], Sequence[int]] | None = None) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group_by_length = group_by_length
        self.window = batch_size * window_batches
        self.drop_last = drop_last
        self.epoch_lengths = epoch_lengths
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def lengths_in(self, epoch: int) -> list[int]:
        """The rows' lengths in `epoch`."""
        if self.epoch_lengths is None:
            return self.lengths
        lengths = list(self.epoch_lengths(epoch))
        if len(lengths) != len(self.lengths):
            raise ValueError(f"{len(lengths)} lengths for {len(self.lengths)} rows in epoch {epoch}")
        return lengths

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full if self.drop_last or not rest else full + 1

    def __iter__(self) -> Iterator[list[int]]:
        lengths = self.lengths_in(self.epoch)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(len(lengths), generator=generator).tolist()
        if self.group_by_length:
            windows = [order[i:i + self.window] for i in range(0, len(order), self.window)]
            order = [i for w in windows for i in sorted(w, key=lambda j: lengths[j], reverse=True)]
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.group_by_length:
            shuffled = torch.randperm(len(batches), generator=generator).tolist()
            batches = [batches[i] for i in shuffled]
        yield from batches


class SortedBatches(Sampler[list[int]]):
    """Batches of rows sorted by length, longest first (so a memory problem shows at once)."""

    def __init__(self, lengths: Sequence[int], batch_size: int) -> None:
        order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
        self.batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches


def train_batches(dataset: Any, recipe: Recipe,
                  epoch_lengths: Callable[[int], Sequence[int]] | None = None) -> LengthGroupedBatches:
    """The training batch order: length-grouped random batches, or the order a data set that knows its own
    batching supplies (a multi-task set: one task per batch, `nlptl.multitask.data`)."""
    cfg = recipe.train
    own = getattr(dataset, "train_batches", None)
    if own is not None:
        return own(cfg, recipe.seed, recipe.multitask)  # same interface: set_epoch, __len__, __iter__
    return LengthGroupedBatches(dataset["length"], cfg.batch_size, recipe.seed, group_by_length=cfg.group_by_length,
                                window_batches=cfg.group_window, epoch_lengths=epoch_lengths)


def eval_batches(dataset: Any, batch_size: int, processes: int = 1) -> Sampler[list[int]] | list[list[int]]:
    """Evaluation batches sorted by length (a multi-task set's: sorted within each task)."""
    own = getattr(dataset, "eval_batches", None)
    return own(batch_size, processes) if own is not None else SortedBatches(dataset["length"], batch_size)
