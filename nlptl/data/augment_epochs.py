"""On-the-fly augmentation: the train split is augmented afresh at the start of every epoch.

Each row is replaced, with probability copies/(copies+1), by one fresh augmented version, so its expected mix
matches offline mode (an original plus `copies` copies). Both the choice and the augmentation are seeded by
(seed, epoch, example_id): a row comes out the same however many processes there are, and differently every epoch.
With several processes each augments the rows whose id falls to it (id % processes == rank) and the tokenized rows
are shared, so the work is split and every process holds the same epoch.

Why per epoch and not per batch: batches are grouped by length, and augmentation changes lengths (an insertion adds
a word, a rare synonym several word pieces). Augmenting after grouping padded SST-2 batches ~20% wider; here the
length-grouped sampler gets each epoch's real lengths before it draws the batches, and the collator only pads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch

from nlptl.augment import AugmentStats
from nlptl.data.augment_log import SampleRecorder
from nlptl.data.augment_rows import RowAugmenter
from nlptl.seeding import example_rng

EXAMPLE_ID = "example_id"
ENCODE_CHUNK = 1000  # raw rows tokenized per call of the task's encoder
Rows = list[dict[str, Any]]


class LengthAware(Protocol):
    def set_lengths(self, lengths: Sequence[int]) -> None: ...


def group_lengths(groups: list[Rows]) -> list[int]:
    """One length per raw row: its longest model row (NER sentences may have several windows)."""
    return [max((len(row["input_ids"]) for row in group), default=0) for group in groups]


def encode_in_chunks(encode: Callable[[Rows], list[Rows]], rows: Rows) -> list[Rows]:
    return [group for start in range(0, len(rows), ENCODE_CHUNK) for group in encode(rows[start:start + ENCODE_CHUNK])]


class EpochAugmenter:
    """The train collator for on-the-fly augmentation. `set_epoch` (called by the trainer before each epoch's
    batches are drawn) augments and tokenizes the epoch's rows; calling it pads the rows of a batch."""

    def __init__(self, raw: Rows, rows: RowAugmenter, encode: Callable[[Rows], list[Rows]],
                 pad: Callable[[Rows], dict[str, torch.Tensor]], seed: int, copies: int,
                 recorder: SampleRecorder | None = None) -> None:
        self.raw, self.rows, self.encode, self.pad, self.seed, self.recorder = raw, rows, encode, pad, seed, recorder
        self.replace_probability = copies / (copies + 1)
        self.originals = encode_in_chunks(encode, raw)  # rows left as they are need no tokenizing again
        self.model_rows = self.originals
        self.epoch: int | None = None
        self.rank, self.processes = 0, 1
        self.gather: Callable[[dict], list[dict]] = lambda local: [local]
        self.sampler: LengthAware | None = None
        self.stats = AugmentStats()
        self.rows_seen = 0
        self.rows_augmented = 0

    def lengths(self) -> list[int]:
        return group_lengths(self.model_rows)

    def attach(self, sampler: LengthAware | None, rank: int = 0, processes: int = 1,
               gather: Callable[[dict], list[dict]] | None = None) -> None:
        """Tell the length-grouped sampler each epoch's lengths; split the augmentation over processes."""
        self.sampler, self.rank, self.processes = sampler, rank, processes
        self.gather = gather or self.gather

    def set_epoch(self, epoch: int) -> None:
        if epoch == self.epoch:
            return
        replaced = {}
        for row in self.raw[self.rank::self.processes]:  # row i has example_id i
            new = self.fresh(row, epoch)
            if new is not row:
                replaced[row[EXAMPLE_ID]] = new
        local = dict(zip(replaced, encode_in_chunks(self.encode, list(replaced.values())), strict=True))
        merged = {i: group for part in self.gather(local) for i, group in part.items()}
        self.model_rows = [merged.get(i, original) for i, original in enumerate(self.originals)]
        self.epoch = epoch
        if self.sampler is not None:
            self.sampler.set_lengths(self.lengths())

    def fresh(self, row: dict[str, Any], epoch: int) -> dict[str, Any]:
        """The row as it is, or (with probability copies/(copies+1)) this epoch's augmented version of it."""
        self.rows_seen += 1
        example = row[EXAMPLE_ID]
        if example_rng(self.seed, "replace", epoch, example).random() >= self.replace_probability:
            return row
        copies = self.rows.augment(row, self.stats, seed=f"{self.seed}:{epoch}:{example}")
        if not copies:  # nothing to change (e.g. no word with a synonym): the original stays
            return row
        op, new = copies[0]
        self.rows_augmented += 1
        if self.recorder is not None:
            self.recorder.offer(op, lambda: self.rows.show(row), lambda: self.rows.show(new), epoch=epoch,
                                example_id=example)
        return new

    def __call__(self, rows: Rows) -> dict[str, torch.Tensor]:
        if self.epoch is None:
            self.set_epoch(0)
        return self.pad([model_row for row in rows for model_row in self.model_rows[row[EXAMPLE_ID]]])
