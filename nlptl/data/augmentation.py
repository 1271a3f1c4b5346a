"""Augmentation as a stage of the data layer: the train split only, after subsampling, before tokenization.

- `offline`: the train split gains `augment.copies` augmented copies per example (deterministic per seed), then
  is tokenized and batched like any split.
- `on_the_fly`: the train split keeps its raw columns (plus `example_id` and `length`); its collator, an
  `EpochAugmenter`, augments and tokenizes the rows afresh at the start of every epoch (the trainer tells it the
  epoch) and gives the length-grouped batch sampler the new lengths.

Validation and test are never augmented. The task supplies the task-specific half (`Task.augmenter` turns raw
rows into augmented rows, `Task.encode_rows` tokenizes raw rows as `Task.tokenize` does), so nothing here
branches on the task kind. Settings are checked when the stage is built, before any data is read.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import datasets
from transformers import PreTrainedTokenizerBase

from nlptl.augment import ANTONYM_REPLACEMENT, AugmentConfig, AugmentStats
from nlptl.augment.names import resolve_ops
from nlptl.data.augment_epochs import EXAMPLE_ID, EpochAugmenter, LengthAware
from nlptl.data.augment_log import SampleRecorder, merge_counts
from nlptl.data.augment_rows import RowAugmenter
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe
from nlptl.tasks.base import Task

logger = logging.getLogger(__name__)
MODES = ("offline", "on_the_fly")
LENGTH = "length"


def augment_config(recipe: Recipe) -> AugmentConfig | None:
    """The recipe's `augment` section as a checked `AugmentConfig`; None when it lists no operations."""
    settings = recipe.augment
    ops = resolve_ops(settings.ops)
    if not ops:
        return None
    if settings.mode not in MODES:
        raise NlptlError(f"recipe field augment.mode={settings.mode!r}: choose {' or '.join(MODES)}")
    if settings.copies < 1:
        raise NlptlError(f"recipe field augment.copies={settings.copies}: use 1 or more augmented copies per example")
    if settings.record_samples < 0:
        raise NlptlError(f"recipe field augment.record_samples={settings.record_samples}: use 0 or more")
    if ANTONYM_REPLACEMENT in ops and not settings.antonym_label_map:
        raise NlptlError(
            "recipe field augment.ops: antonym replacement inverts the meaning, so it flips the label and needs "
            "augment.antonym_label_map (e.g. --augment.antonym_label_map positive=negative,negative=positive); "
            "without one, leave antonym out of augment.ops"
        )
    try:
        return AugmentConfig(ops=ops, alpha=settings.alpha,
                             copies_per_example=settings.copies if settings.mode == "offline" else 1,
                             seed=augment_seed(recipe), antonym_label_map=dict(settings.antonym_label_map) or None,
                             mlm_model_dir=settings.mlm_model_dir)
    except NlptlError as err:
        raise NlptlError(f"recipe section augment: {err}") from None


def augment_seed(recipe: Recipe) -> int:
    return recipe.seed if recipe.augment.seed is None else recipe.augment.seed


class Augmentation:
    """One run's augmentation: checked from the recipe at once, applied by `build_datasets`, its train collator
    handed to the trainer (on the fly), and its counts and samples reported by `finish`."""

    def __init__(self, recipe: Recipe, task: Task) -> None:
        self.recipe, self.task, self.settings = recipe, task, recipe.augment
        self.config = augment_config(recipe)
        self.seed = augment_seed(recipe)
        self.stats = AugmentStats()
        self.recorder = SampleRecorder(self.settings.record_samples, self.config.ops if self.config else ())
        self.rows: RowAugmenter | None = None
        self.train_collator: EpochAugmenter | None = None  # on the fly only; else the task's collator is used
        self.sizes: tuple[int, int] | None = None  # train examples before and after (offline)

    @property
    def enabled(self) -> bool:
        return self.config is not None

    def run(self, splits: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase) -> datasets.DatasetDict:
        """Tokenized splits, the train split augmented (offline) or kept raw for the train collator (on the fly)."""
        tokenize = partial(self.task.tokenize, tokenizer=tokenizer, recipe=self.recipe)
        if self.config is None:
            return tokenize(splits)
        if self.settings.mode == "offline":
            return tokenize(datasets.DatasetDict({**splits, "train": self.expand(splits["train"])}))
        evaluation = tokenize(datasets.DatasetDict({k: v for k, v in splits.items() if k != "train"}))
        return datasets.DatasetDict({"train": self.raw_train(splits["train"], tokenizer), **evaluation})

    def row_augmenter(self, train: datasets.Dataset) -> RowAugmenter:
        """The task's augmenter for these prepared train rows (e.g. NER mentions are collected from them)."""
        if self.rows is None:
            try:
                self.rows = self.task.augmenter(self.config, train, self.recipe)
            except NlptlError as err:
                raise NlptlError(f"recipe section augment: {err}") from None
        return self.rows

    def expand(self, train: datasets.Dataset) -> datasets.Dataset:
        """Each example followed by its augmented copies; the same seed gives the same rows."""
        self.row_augmenter(train)
        rows: list[dict[str, Any]] = []
        for row in train:
            rows.append(row)
            for op, new in self.rows.augment(row, self.stats):
                rows.append(new)
                self.recorder.offer(op, partial(self.rows.show, row), partial(self.rows.show, new))
        self.sizes = (len(train), len(rows))
        logger.info("augmentation (offline, %s): %d train examples -> %d", ", ".join(self.config.ops), *self.sizes)
        return datasets.Dataset.from_list(rows, features=train.features)

    def raw_train(self, train: datasets.Dataset, tokenizer: PreTrainedTokenizerBase) -> datasets.Dataset:
        """Raw train rows with `example_id` (seeds the augmentation) and `length` (of the un-augmented row, until
        the first epoch is augmented); builds the collator that augments and tokenizes them every epoch."""
        self.row_augmenter(train)
        train = train.remove_columns([c for c in (EXAMPLE_ID, LENGTH) if c in train.column_names])
        train = train.add_column(EXAMPLE_ID, list(range(len(train))))
        encode = partial(self.task.encode_rows, tokenizer=tokenizer, recipe=self.recipe)
        self.train_collator = EpochAugmenter(train.to_list(), self.rows, encode, self.task.collator(tokenizer),
                                             self.seed, self.settings.copies, self.recorder)
        logger.info("augmentation (on the fly, %s): each of %d train examples replaced with probability %d/%d "
                    "per epoch", ", ".join(self.config.ops), len(train), self.settings.copies,
                    self.settings.copies + 1)
        return train.add_column(LENGTH, self.train_collator.lengths())

    def attach(self, batch_sampler: LengthAware | None, accelerator: Any = None) -> None:
        """On the fly: the train batch sampler learns each epoch's augmented lengths, and the augmentation work is
        split over the processes. Nothing to do otherwise."""
        if self.train_collator is None:
            return
        if accelerator is None or accelerator.num_processes == 1:
            self.train_collator.attach(batch_sampler)
        else:
            self.train_collator.attach(batch_sampler, accelerator.process_index, accelerator.num_processes,
                                       partial(gather, accelerator))

    def finish(self, accelerator: Any = None, output_dir: Path | None = None) -> dict[str, Any]:
        """{"augmentation": settings and per-operation counts} for metrics.json -> train, and the samples file.
        With an accelerator, every process must call it: on-the-fly counts are summed over processes."""
        if self.config is None:
            return {}
        report: dict[str, Any] = {"mode": self.settings.mode, "ops": list(self.config.ops),
                                  "alpha": self.settings.alpha, "copies": self.settings.copies, "seed": self.seed}
        if self.train_collator is None:
            report.update(merge_counts([self.stats.as_dict()]))
            report["train_examples_before"], report["train_examples_after"] = self.sizes or (None, None)
        else:
            collator = self.train_collator
            local = {"counts": collator.stats.as_dict(), "rows_seen": collator.rows_seen,
                     "rows_augmented": collator.rows_augmented}
            parts = gather(accelerator, local)
            report.update(merge_counts(part["counts"] for part in parts))
            report["rows_seen"] = sum(part["rows_seen"] for part in parts)
            report["rows_augmented"] = sum(part["rows_augmented"] for part in parts)
        if output_dir is not None and (accelerator is None or accelerator.is_main_process):
            self.recorder.write(output_dir)
        return {"augmentation": report}


def gather(accelerator: Any, local: dict[str, Any]) -> list[dict[str, Any]]:
    """One object per process (just `local` without an accelerator or with a single process)."""
    if accelerator is None or accelerator.num_processes == 1:
        return [local]
    from accelerate.utils import gather_object

    return list(gather_object([local]))
