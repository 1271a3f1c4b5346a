"""What a task kind supplies. The task object is the one place that knows the task kind; the data layer,
trainer and evaluation call these methods and never branch on the kind themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import datasets
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlptl.recipe import AugmentSettings, DataConfig, Recipe

if TYPE_CHECKING:
    from nlptl.augment.rows import RowAugmenter
    from nlptl.data.collate import Collator


@dataclass(frozen=True)
class CardText:
    """What a model card says that depends on the task kind."""

    usage: str  # Python that loads the model by its Hub id and runs it on an example
    length_note: str  # what happens to inputs longer than the model takes (one or two sentences)
    input_line: str  # the data column the model reads, as one line of the card's "Training data"


class Task(Protocol):
    name: str
    label_names: list[str]
    main_metric: str  # selects the best checkpoint when the recipe leaves train.metric_for_best unset
    pipeline_tag: str  # the Hub's (and transformers.pipeline's) name of the task
    description: str  # the task in words, for the model card
    metric_names: dict[str, str]  # metric key -> its name on the model card (and the card's order)
    model_class: type  # the transformers Auto class of a checkpoint of this kind
    architecture_suffix: str  # a checkpoint of this kind names an architecture ending so in its config.json
    first_token_head: bool  # the head reads only the first position's final hidden state (the others: all)
    problem_type: str | None  # config.json's problem_type of a checkpoint of this kind (None: any)
    source_row_column: str | None  # tokenized column naming the raw row a model row came from (None: no weights)

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict:
        """Encode the label column(s) as ids into a `labels` column; sets `label_names`."""

    @property
    def stratify_column(self) -> str | None:
        """Column to stratify a carved validation split by, if any."""

    def tokenize(self, splits: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase,
                 recipe: Recipe) -> datasets.DatasetDict:
        """Model inputs plus `labels`, `example_id` and `length` columns (cached by `datasets`)."""

    def augmenter(self, settings: AugmentSettings, train: datasets.Dataset, recipe: Recipe) -> RowAugmenter:
        """Label-preserving augmentation of this task's prepared train rows (labels as ids); refuses operations
        that make no sense for the task."""

    def encode_rows(self, rows: list[dict], tokenizer: PreTrainedTokenizerBase,
                    recipe: Recipe) -> list[list[dict]]:
        """Model rows for each raw row (rows carry `example_id`), made by the same code as `tokenize`: on-the-fly
        augmentation tokenizes each epoch's freshly augmented rows with it."""

    def build_model(self, recipe: Recipe) -> PreTrainedModel:
        """The pretrained encoder with a fresh head sized for `label_names`."""

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Collator:
        """Turns rows into padded tensors."""

    def training_logits(self, model: torch.nn.Module, inputs: dict,
                        labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training forward pass: logits and the labels they line up with (a task may score only the
        positions that have a target)."""

    def loss_sum(self, logits: torch.Tensor, labels: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        """Summed (not averaged) loss, so gradient accumulation can normalise by the true count; class weights
        (`use_class_weights`) and the per-example `weights` (one per batch row) scale each target's loss."""

    def fit_loss(self, train: datasets.Dataset, recipe: Recipe) -> dict[str, Any]:
        """Learn what the loss needs from the final train split (after sampling and augmentation, labels
        prepared): class weights (`train.class_weights`), a regression's target scale. Returns what to record
        in metrics.json's `train` section (empty: nothing)."""

    def finish_model(self, model: PreTrainedModel) -> None:
        """Write into the trained model's config what prediction needs besides the weights (multi-label
        thresholds, regression target scale), just before it is saved."""

    def count_targets(self, labels: torch.Tensor) -> int:
        """How many targets a batch's loss sums over."""

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Predicted ids from logits (same leading shape as labels)."""

    def compute_metrics(self, predictions: list, references: list, split: str, dataset: datasets.Dataset) -> dict:
        """Metric dict for one split; includes `num_examples`."""

    def metrics_from_loss(self, loss: float) -> dict[str, float]:
        """Metrics derived from a split's mean loss (perplexity); empty when the task has none."""

    def write_reports(self, metrics: dict[str, dict], output_dir: Path) -> list[Path]:
        """Plots and reports for the evaluated splits; returns the files written."""

    def card_text(self, repo_id: str, data: DataConfig) -> CardText:
        """The model card's task-specific text for a model trained with these data settings."""

    def long_text(self, data: DataConfig) -> dict[str, Any]:
        """How validation/test scoring fits texts longer than max_length (recorded with each split's metrics, so
        a score says whether texts were truncated or windowed)."""

    def not_learned(self, metrics: dict, split: str) -> list[str]:
        """Signs in one split's metrics that the model predicts no better than a constant (one line each), for
        `nlptl.training.learning_check`; empty when the metrics show learning."""
