"""Augmentation as a stage of the data pipeline: the train split only, after subsampling, before tokenization.

- `offline`: `augment` gives the train split `augment.copies` augmented copies per example (deterministic per seed);
  the pipeline then has the task tokenize it like any split.
- `on_the_fly`: the train split stays raw; `epoch_train` adds `example_id` and `length` columns and builds its
  collator, an `EpochAugmenter`, which augments the rows afresh at the start of every epoch, tokenizes them with
  the task's encoder and tells the length-grouped batch sampler (which asks it) each epoch's lengths.

Validation and test are never augmented. The task supplies the task-specific half (`Task.augmenter` turns prepared
rows into augmented rows, `Task.encode_rows` tokenizes raw rows as `Task.tokenize` does), so nothing here branches
on the task kind. The recipe's `augment` section is checked when the stage is built, before any data is read.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import datasets

from nlptl.augment.epochs import EXAMPLE_ID, EpochAugmenter
from nlptl.augment.report import SampleRecorder, merge_counts
from nlptl.augment.rows import RowAugmenter
from nlptl.augment.settings import check
from nlptl.augment.text.engine import AugmentStats
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from nlptl.recipe import AugmentSettings

logger = logging.getLogger(__name__)
LENGTH = "length"


class AugmentTask(Protocol):
    """What the stage asks of the task (`nlptl.tasks.base.Task` documents each)."""

    def augmenter(self, settings: AugmentSettings, train: datasets.Dataset, recipe: Recipe) -> RowAugmenter: ...

    def encode_rows(self, rows: list[dict], tokenizer: PreTrainedTokenizerBase, recipe: Recipe) -> list[list[dict]]: ...

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any: ...


class AugmentStage:
    """One run's augmentation: checked from the recipe at once, applied by `build_datasets`, its train collator
    (on the fly) handed to the trainer, its counts and samples written by `report`.

    `accelerator` (optional) splits on-the-fly work over the processes and sums their counts."""

    def __init__(self, recipe: Recipe, task: AugmentTask, accelerator: Any = None) -> None:
        self.recipe, self.task, self.accelerator = recipe, task, accelerator
        self.ops = check(recipe.augment)
        self.seed: int = recipe.seed if recipe.augment.seed is None else recipe.augment.seed
        self.settings = dataclasses.replace(recipe.augment, ops=list(self.ops), seed=self.seed)  # names, seed resolved
        self.stats = AugmentStats()
        self.recorder = SampleRecorder(self.settings.record_samples, self.ops)
        self.rows: RowAugmenter | None = None
        self.train_collator: EpochAugmenter | None = None  # on the fly only; else the task's collator is used
        self.sizes: tuple[int, int] | None = None  # train examples before and after (offline)

    @property
    def enabled(self) -> bool:
        return bool(self.ops)

    @property
    def per_epoch(self) -> bool:
        """On the fly: the train split stays raw and `epoch_train` makes it ready for per-epoch augmentation."""
        return self.enabled and self.settings.mode == "on_the_fly"

    def augment(self, splits: datasets.DatasetDict) -> datasets.DatasetDict:
        """The splits with the train split augmented offline (each example followed by its copies); as they are
        when augmentation is off or on the fly."""
        if not self.enabled or self.per_epoch:
            return splits
        return datasets.DatasetDict({**splits, "train": self.expand(splits["train"])})

    def row_augmenter(self, train: datasets.Dataset) -> RowAugmenter:
        """The task's augmenter for these prepared train rows (e.g. NER mentions are collected from them)."""
        if self.rows is None:
            try:
                self.rows = self.task.augmenter(self.settings, train, self.recipe)
            except NlptlError as err:
                raise NlptlError(f"recipe section augment: {err}") from None
        return self.rows

    def expand(self, train: datasets.Dataset) -> datasets.Dataset:
        """Each example followed by its augmented copies; the same seed gives the same rows."""
        rows = self.row_augmenter(train)
        expanded: list[dict[str, Any]] = []
        for row in train:
            expanded.append(row)
            for op, new in rows.augment(row, self.stats):
                expanded.append(new)
                self.recorder.offer(op, partial(rows.show, row), partial(rows.show, new))
        self.sizes = (len(train), len(expanded))
        logger.info("augmentation (offline, %s): %d train examples -> %d", ", ".join(self.ops), *self.sizes)
        return datasets.Dataset.from_list(expanded, features=train.features)

    def epoch_train(self, train: datasets.Dataset, tokenizer: PreTrainedTokenizerBase) -> datasets.Dataset:
        """Raw train rows with `example_id` (seeds the augmentation) and `length` (of the un-augmented row, until
        the first epoch is augmented); builds `train_collator`, which augments them and has the task tokenize them
        every epoch."""
        rows = self.row_augmenter(train)
        train = train.remove_columns([c for c in (EXAMPLE_ID, LENGTH) if c in train.column_names])
        train = train.add_column(EXAMPLE_ID, list(range(len(train))))
        encode = partial(self.task.encode_rows, tokenizer=tokenizer, recipe=self.recipe)
        self.train_collator = EpochAugmenter(train.to_list(), rows, encode, self.task.collator(tokenizer),
                                             self.seed, self.settings.copies, self.recorder)
        acc = self.accelerator
        if acc is not None and acc.num_processes > 1:
            self.train_collator.share_work(acc.process_index, acc.num_processes, partial(gather, acc))
        logger.info("augmentation (on the fly, %s): each of %d train examples replaced with probability %d/%d "
                    "per epoch", ", ".join(self.ops), len(train), self.settings.copies, self.settings.copies + 1)
        return train.add_column(LENGTH, self.train_collator.original_lengths())

    def report(self, output_dir: Path | None = None) -> dict[str, Any]:
        """{"augmentation": settings and per-operation counts} for metrics.json -> train, and the samples file.
        With several processes every one must call it: on-the-fly counts are summed over processes."""
        if not self.enabled:
            return {}
        report: dict[str, Any] = {"mode": self.settings.mode, "ops": list(self.ops), "alpha": self.settings.alpha,
                                  "copies": self.settings.copies, "seed": self.seed}
        if self.train_collator is None:
            report.update(merge_counts([self.stats.as_dict()]))
            report["train_examples_before"], report["train_examples_after"] = self.sizes or (None, None)
        else:
            collator = self.train_collator
            local = {"counts": collator.stats.as_dict(), "rows_seen": collator.rows_seen,
                     "rows_augmented": collator.rows_augmented}
            parts = gather(self.accelerator, local)
            report.update(merge_counts(part["counts"] for part in parts))
            report["rows_seen"] = sum(part["rows_seen"] for part in parts)
            report["rows_augmented"] = sum(part["rows_augmented"] for part in parts)
        if output_dir is not None and (self.accelerator is None or self.accelerator.is_main_process):
            self.recorder.write(output_dir)
        return {"augmentation": report}


def gather(accelerator: Any, local: dict[str, Any]) -> list[dict[str, Any]]:
    """One object per process (just `local` without an accelerator or with a single process)."""
    if accelerator is None or accelerator.num_processes == 1:
        return [local]
    from accelerate.utils import gather_object

    return list(gather_object([local]))
