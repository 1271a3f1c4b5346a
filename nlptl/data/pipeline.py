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
from nlptl.data.weights import attach_weights, check_weight_column, weight_summary
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe

logger = logging.getLogger(__name__)


class DataTask(AugmentTask, Protocol):
    """What the pipeline and its augmentation stage ask of the task (`nlptl.tasks.base.Task` documents each)."""

    @property
    def stratify_column(self) -> str | None: ...

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict: ...

    def tokenize(self, splits: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase,
                 recipe: Recipe) -> datasets.DatasetDict: ...

    @property
    def source_row_column(self) -> str | None: ...

    def fit_loss(self, train: datasets.Dataset, recipe: Recipe) -> dict: ...


def drop_unlabelled(splits: datasets.DatasetDict, label_column: str) -> datasets.DatasetDict:
    """Evaluation splits with no labels at all (GLUE test sets) cannot be scored: leave them out, loudly."""
    kept = {}
    for name, ds in splits.items():
        if name != "train" and label_column in ds.column_names and is_unlabelled(ds, label_column):
            logger.warning("split %r has no labels; it is not evaluated", name)
            continue
        kept[name] = ds
    return datasets.DatasetDict(kept)


def labelled_splits(recipe: Recipe, task: DataTask) -> datasets.DatasetDict:
    """The rows a run learns from and is scored on, labels encoded, before augmentation and tokenization (what
    self-training's students start from: `nlptl.semi`)."""
    cfg = recipe.data
    raw = load_raw_splits(cfg.source, cfg.config_name, recipe.mirrors, cfg.cache_dir, cfg.column_names,
                          [cfg.text_column, cfg.text_pair_column], cfg.label_column)
    splits = select_splits(raw, cfg)
    check_columns(splits, cfg.text_column, cfg.tokens_column)
    check_texts(splits, [cfg.text_column, cfg.text_pair_column])  # the splits used, before any reordering
    splits = drop_unlabelled(splits, cfg.label_column)
    if cfg.weight_column:
        check_weights_apply(recipe, task)
        check_weight_column(splits, cfg.weight_column)
    splits = task.prepare_labels(splits, recipe)
    splits = carve_validation(splits, cfg, recipe.seed, task.stratify_column)
    return limit_samples(splits, cfg, recipe.seed)


def build_datasets(recipe: Recipe, task: DataTask, tokenizer: PreTrainedTokenizerBase,
                   main_process_first=nullcontext, augmentation: AugmentStage | None = None,
                   loss_record: dict | None = None) -> datasets.DatasetDict:
    """Tokenized train/validation/test splits, ready for batching. Cached on disk by `datasets`.

    `loss_record` (if given) receives what the task's loss learnt from the train split (class weights, target
    scale), for metrics.json.

    `augmentation` (default: built from `recipe.augment`) augments the train
    split; pass your own to get at its train collator (on the fly) and its report."""
    own = getattr(task, "build_datasets", None)
    if own is not None:  # a task composed of tasks (multi-task) builds each one's splits with this function
        return own(recipe, tokenizer, main_process_first)
    cfg = recipe.data
    augmentation = augmentation or AugmentStage(recipe, task)
    with main_process_first():
        splits = labelled_splits(recipe, task)
        splits = augmentation.augment(splits)  # train only; offline: each example followed by its copies
        fitted = task.fit_loss(splits["train"], recipe)  # class weights, target scale: from the final train rows
        if fitted:
            logger.info("from the train split, the loss uses: %s", fitted)
        if cfg.weight_column:
            fitted["example_weights"] = weight_summary(splits["train"], cfg.weight_column)
        if loss_record is not None:
            loss_record.update(fitted)
        if augmentation.per_epoch:  # on the fly: train stays raw, augmented and tokenized (by the task) every epoch
            evaluation = datasets.DatasetDict({name: ds for name, ds in splits.items() if name != "train"})
            train = augmentation.epoch_train(splits["train"], tokenizer)
            return datasets.DatasetDict({"train": train, **task.tokenize(evaluation, tokenizer, recipe)})
        tokenized = task.tokenize(splits, tokenizer, recipe)
        if cfg.weight_column and task.source_row_column:
            train = attach_weights(tokenized["train"], splits["train"], cfg.weight_column, task.source_row_column)
            tokenized = datasets.DatasetDict({**tokenized, "train": train})
        return tokenized


def check_weights_apply(recipe: Recipe, task: DataTask) -> None:
    """data.weight_column needs a task whose model rows name their raw row, and rows tokenized once."""
    if not task.source_row_column:
        raise NlptlError(f"data.weight_column does not apply to task {recipe.task} (its targets are not examples of "
                         "the data); remove it")
    if recipe.augment.ops and recipe.augment.mode == "on_the_fly":
        raise NlptlError("data.weight_column works with offline augmentation only (copies keep their example's "
                         "weight); set augment.mode offline or remove data.weight_column")
