"""The data stage, top to bottom: load -> select splits -> encode labels -> carve validation -> subsample -> augment
(train only) -> tokenize (by the task). The task and the augmentation stage are handed in; nothing here knows the
task kind."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Protocol

import datasets
from transformers import PreTrainedTokenizerBase

from nlptl.augment.stage import AugmentStage, AugmentTask
from nlptl.data.files.load import check_columns, check_texts, load_raw_splits
from nlptl.data.labels import is_unlabelled
from nlptl.data.splits import carve_validation, limit_samples, select_splits
from nlptl.recipe import Recipe

logger = logging.getLogger(__name__)


class DataTask(AugmentTask, Protocol):
    """What the pipeline and its augmentation stage ask of the task (`nlptl.tasks.base.Task` documents each)."""

    @property
    def stratify_column(self) -> str | None: ...

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict: ...

    def tokenize(self, splits: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase,
                 recipe: Recipe) -> datasets.DatasetDict: ...


def drop_unlabelled(splits: datasets.DatasetDict, label_column: str) -> datasets.DatasetDict:
    """Evaluation splits with no labels at all (GLUE test sets) cannot be scored: leave them out, loudly."""
    kept = {}
    for name, ds in splits.items():
        if name != "train" and label_column in ds.column_names and is_unlabelled(ds, label_column):
            logger.warning("split %r has no labels; it is not evaluated", name)
            continue
        kept[name] = ds
    return datasets.DatasetDict(kept)


def build_datasets(recipe: Recipe, task: DataTask, tokenizer: PreTrainedTokenizerBase,
                   main_process_first=nullcontext, augmentation: AugmentStage | None = None) -> datasets.DatasetDict:
    """Tokenized train/validation/test splits, ready for batching. Cached on disk by `datasets`.

    `augmentation` (default: built from `recipe.augment`) augments the train
    split; pass your own to get at its train collator (on the fly) and its report."""
    own = getattr(task, "build_datasets", None)
    if own is not None:  # a task composed of tasks (multi-task) builds each one's splits with this function
        return own(recipe, tokenizer, main_process_first)
    cfg = recipe.data
    augmentation = augmentation or AugmentStage(recipe, task)
    with main_process_first():
        raw = load_raw_splits(cfg.source, cfg.config_name, recipe.mirrors, cfg.cache_dir, cfg.column_names,
                              [cfg.text_column, cfg.text_pair_column], cfg.label_column)
        splits = select_splits(raw, cfg)
        check_columns(splits, cfg.text_column, cfg.tokens_column)
        check_texts(splits, [cfg.text_column, cfg.text_pair_column])  # the splits used, before any reordering
        splits = drop_unlabelled(splits, cfg.label_column)
        splits = task.prepare_labels(splits, recipe)
        splits = carve_validation(splits, cfg, recipe.seed, task.stratify_column)
        splits = limit_samples(splits, cfg, recipe.seed)
        splits = augmentation.augment(splits)  # train only; offline: each example followed by its copies
        if augmentation.per_epoch:  # on the fly: train stays raw, augmented and tokenized (by the task) every epoch
            evaluation = datasets.DatasetDict({name: ds for name, ds in splits.items() if name != "train"})
            train = augmentation.epoch_train(splits["train"], tokenizer)
            return datasets.DatasetDict({"train": train, **task.tokenize(evaluation, tokenizer, recipe)})
        return task.tokenize(splits, tokenizer, recipe)
