"""On-the-fly augmentation: the train split is augmented afresh at the start of every epoch.

Each row is replaced, with probability copies/(copies+1), by one fresh augmented version, so its expected mix
matches offline mode (an original plus `copies` copies). Both the choice and the augmentation are seeded by
(seed, epoch, example_id): a row comes out the same however many processes there are, and differently every epoch.
With several processes each augments the rows whose id falls to it (id % processes == rank) and the tokenized rows
are shared, so the work is split and every process holds the same epoch.

Why per epoch and not per batch: batches are grouped by length, and augmentation changes lengths (an insertion adds
a word, a rare synonym several word pieces). Augmenting after grouping padded SST-2 batches ~20% wider; here the
length-grouped sampler asks for each epoch's real lengths (`epoch_lengths`) before it draws the batches, and the
collator only pads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from nlptl.augment.report import SampleRecorder
from nlptl.augment.rows import RowAugmenter
from nlptl.augment.text.engine import AugmentStats
from nlptl.seeding import example_rng

EXAMPLE_ID = "example_id"
ENCODE_CHUNK = 1000  # raw rows tokenized per call of the task's encoder
Rows = list[dict[str, Any]]


def group_lengths(groups: list[Rows]) -> list[int]:
    """One length per raw row: its longest model row (NER sentences may have several windows)."""
    return [max((len(row["input_ids"]) for row in group), default=0) for group in groups]


def encode_in_chunks(encode: Callable[[Rows], list[Rows]], rows: Rows) -> list[Rows]:
    return [group for start in range(0, len(rows), ENCODE_CHUNK) for group in encode(rows[start:start + ENCODE_CHUNK])]


class EpochAugmenter:
    """The train collator for on-the-fly augmentation. `set_epoch` (called by the trainer before each epoch's
    batches are drawn, and by `epoch_lengths`) augments and tokenizes the epoch's rows; `epoch_lengths` answers the
    length-grouped batch sampler; calling it pads the rows of a batch."""

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
        self.stats = AugmentStats()
        self.rows_seen = 0
        self.rows_augmented = 0

    def original_lengths(self) -> list[int]:
        """Each raw row's length before any augmentation."""
        return group_lengths(self.originals)

    def epoch_lengths(self, epoch: int) -> list[int]:
        """Each raw row's length in `epoch` (its augmented version's, when it is replaced that epoch)."""
        self.set_epoch(epoch)
        return group_lengths(self.model_rows)

    def share_work(self, rank: int, processes: int, gather: Callable[[dict], list[dict]]) -> None:
        """Augment only the rows of this process (example_id % processes == rank); `gather` collects every
        process's tokenized rows, so each holds the whole epoch."""
        self.rank, self.processes, self.gather = rank, processes, gather

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

    def fresh(self, row: dict[str, Any], epoch: int) -> dict[str, Any]:
        """The row as it is, or (with probability copies/(copies+1)) this epoch's augmented version of it."""
        self.rows_seen += 1
        example = row[EXAMPLE_ID]
        if example_rng(self.seed, "replace", epoch, example).random() >= self.replace_probability:
            return row
        made = self.rows.augment(row, self.stats, seed=f"{self.seed}:{epoch}:{example}", copies=1)
        if not made:  # nothing to change (e.g. no word with a synonym): the original stays
            return row
        [(op, new)] = made
        self.rows_augmented += 1
        if self.recorder is not None:
            self.recorder.offer(op, lambda: self.rows.show(row), lambda: self.rows.show(new), epoch=epoch,
                                example_id=example)
        return new

    def __call__(self, rows: Rows) -> dict[str, torch.Tensor]:
        if self.epoch is None:
            self.set_epoch(0)
        return self.pad([model_row for row in rows for model_row in self.model_rows[row[EXAMPLE_ID]]])
