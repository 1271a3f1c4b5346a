"""The data stage: load -> select splits -> encode labels -> carve validation -> subsample -> augment (train only)
-> tokenize."""

from __future__ import annotations

import logging
from contextlib import nullcontext

import datasets
from transformers import PreTrainedTokenizerBase

from nlptl.data.augmentation import Augmentation
from nlptl.data.labels import is_unlabelled
from nlptl.data.loading import load_raw_splits
from nlptl.data.splits import carve_validation, limit_samples, select_splits
from nlptl.recipe import Recipe
from nlptl.tasks.base import Task

logger = logging.getLogger(__name__)


def drop_unlabelled(splits: datasets.DatasetDict, label_column: str) -> datasets.DatasetDict:
    """Evaluation splits with no labels at all (GLUE test sets) cannot be scored: leave them out, loudly."""
    kept = {}
    for name, ds in splits.items():
        if name != "train" and label_column in ds.column_names and is_unlabelled(ds, label_column):
            logger.warning("split %r has no labels; it is not evaluated", name)
            continue
        kept[name] = ds
    return datasets.DatasetDict(kept)


def build_datasets(recipe: Recipe, task: Task, tokenizer: PreTrainedTokenizerBase,
                   main_process_first=nullcontext, augmentation: Augmentation | None = None) -> datasets.DatasetDict:
    """Tokenized train/validation/test splits, ready for batching. Cached on disk by `datasets`.

    `augmentation` (default: built from `recipe.augment`) augments the train split; pass your own to get at its
    train collator (on-the-fly mode keeps train raw for it) and its report."""
    cfg = recipe.data
    augmentation = augmentation or Augmentation(recipe, task)
    with main_process_first():
        raw = load_raw_splits(cfg.source, cfg.config_name, recipe.mirrors, cfg.cache_dir)
        splits = drop_unlabelled(select_splits(raw, cfg), cfg.label_column)
        splits = task.prepare_labels(splits, recipe)
        splits = carve_validation(splits, cfg, recipe.seed, task.stratify_column)
        splits = limit_samples(splits, cfg, recipe.seed)
        return augmentation.run(splits, tokenizer)  # tokenizes; no augment.ops: tokenizes only
