"""Pick the train/validation/test splits, carve a validation split when the source has none, subsample."""

from __future__ import annotations

import logging

import datasets

from nlptl.errors import NlptlError
from nlptl.recipe import DataConfig

logger = logging.getLogger(__name__)
CANONICAL = ("train", "validation", "test")


def select_splits(raw: datasets.DatasetDict, cfg: DataConfig) -> datasets.DatasetDict:
    """The recipe's split names, renamed to train/validation/test. Train must exist; the others may not."""
    wanted = {"train": cfg.train_split, "validation": cfg.validation_split, "test": cfg.test_split}
    if cfg.train_split not in raw:
        raise NlptlError(
            f"data {cfg.source!r} has no split {cfg.train_split!r} (it has: {', '.join(raw)}); "
            "set data.train_split"
        )
    return datasets.DatasetDict({canon: raw[name] for canon, name in wanted.items() if name in raw})


def carve_validation(splits: datasets.DatasetDict, cfg: DataConfig, seed: int,
                     stratify_by: str | None) -> datasets.DatasetDict:
    """Hold out part of train (seeded, stratified by class when possible) when there is no validation split."""
    if "validation" in splits or not cfg.validation_size:
        return splits
    size = cfg.validation_size if cfg.validation_size < 1 else int(cfg.validation_size)
    train = splits["train"]
    if isinstance(size, int) and size >= len(train):
        raise NlptlError(f"data.validation_size={size} is not smaller than the train split ({len(train)} rows)")
    try:
        parts = train.train_test_split(test_size=size, seed=seed, stratify_by_column=stratify_by)
    except ValueError:  # a class too rare to stratify: fall back to a plain seeded split
        parts = train.train_test_split(test_size=size, seed=seed)
    logger.info("no validation split: carved %d rows from train (seed %d)", len(parts["test"]), seed)
    result = dict(splits)
    result["train"], result["validation"] = parts["train"], parts["test"]
    return datasets.DatasetDict(result)


def limit_samples(splits: datasets.DatasetDict, cfg: DataConfig, seed: int) -> datasets.DatasetDict:
    """Seeded random subsets: files are often sorted by label, so a prefix would be one class only."""
    limits = {"train": cfg.max_train_samples, "validation": cfg.max_eval_samples, "test": cfg.max_eval_samples}
    result = {}
    for name, ds in splits.items():
        limit = limits.get(name)
        if limit is not None and limit < len(ds):
            ds = ds.shuffle(seed=seed).select(range(limit)).flatten_indices()
        result[name] = ds
    return datasets.DatasetDict(result)
