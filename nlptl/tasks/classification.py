"""Sequence classification (sentiment, topic, NLI with a text pair)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import datasets
import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase

from nlptl.augment import Augmenter
from nlptl.augment.rows import TextRows, label_id_map
from nlptl.data.collate import PadCollator
from nlptl.data.columns import to_columns, to_rows
from nlptl.data.labels import encode_labels
from nlptl.data.truncation import describe_truncation, encode_single
from nlptl.data.weights import describe, resolve_class_weights, weighted_sum
from nlptl.data.windows import (
    TEXT_ID_COLUMN,
    check_window_settings,
    default_stride,
    encode_windows,
    number_rows,
    pool_windows,
)
from nlptl.errors import NlptlError
from nlptl.evaluation.metrics import load_metric
from nlptl.evaluation.plots import plot_confusion_matrix, write_probability_plots
from nlptl.evaluation.report import write_per_class
from nlptl.evaluation.scores import probability_metrics
from nlptl.first_token import last_layer_first_token_only
from nlptl.models import load_labelled_model
from nlptl.recipe import AugmentSettings, DataConfig, Recipe
from nlptl.tasks.base import CardText
from nlptl.training.learning_check import majority_sign, one_class_sign


def encode_batch(batch: dict[str, list], indices: list[int], tokenizer: PreTrainedTokenizerBase,
                 text_column: str, pair_column: str | None, max_length: int, truncation: str,
                 head_tokens: int) -> dict[str, list]:
    """Dataset.map function: token ids for a batch of rows, with their lengths and original row ids."""
    texts = [text or "" for text in batch[text_column]]
    if pair_column:
        pairs = [text or "" for text in batch[pair_column]]
        encoded = dict(tokenizer(texts, pairs, truncation="longest_first", max_length=max_length))
    else:
        encoded = encode_single(tokenizer, texts, max_length, truncation, head_tokens)
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    encoded["example_id"] = list(indices)
    return encoded


def window_batch(batch: dict[str, list], indices: list[int], tokenizer: PreTrainedTokenizerBase, text_column: str,
                 max_length: int, stride: int) -> dict[str, list]:
    """Dataset.map function for validation/test under `data.long_text: window`: texts -> overlapping windows,
    each with its text's label and row id (pooled back into one prediction per text by compute_metrics)."""
    windows, owners = encode_windows(tokenizer, [text or "" for text in batch[text_column]], max_length, stride)
    encoded: dict[str, list] = dict(windows)
    encoded["labels"] = [batch["labels"][owner] for owner in owners]
    encoded[TEXT_ID_COLUMN] = [indices[owner] for owner in owners]
    encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
    return encoded


def check_text_columns(split: str, ds: datasets.Dataset, text_column: str, pair_column: str | None) -> None:
    for column in (text_column, pair_column):
        if column and column not in ds.column_names:
            raise NlptlError(
                f"split {split!r} has no text column {column!r} (columns: {', '.join(ds.column_names)}); "
                "set data.text_column / data.text_pair_column"
            )


class SequenceClassificationTask:
    name = "sequence_classification"
    stratify_column: str | None = "labels"
    main_metric = "accuracy"
    pipeline_tag = "text-classification"
    description = "text classification"
    metric_names = {"accuracy": "Accuracy", "f1": "F1 (macro)", "precision": "Precision (macro)",
                    "recall": "Recall (macro)"}
    model_class: type = AutoModelForSequenceClassification
    architecture_suffix = "ForSequenceClassification"
    first_token_head = True
    windowed_scoring = True  # data.long_text window applies to validation/test (pooled in compute_metrics)
    problem_type: str | None = "single_label_classification"
    source_row_column: str | None = "example_id"

    def __init__(self) -> None:
        self.label_names: list[str] = []
        self.class_weights: torch.Tensor | None = None  # train.class_weights, one per label
        self.scored: dict[str, tuple[list[int], list[list[float]]]] = {}  # split -> the last (references,
        # probabilities) scored, for the ROC/PR/reliability plots of write_reports
        self.window_pooling = "mean"  # data.window_pooling, for compute_metrics of windowed splits

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict:
        splits, self.label_names = encode_labels(splits, recipe.data.label_column, recipe.data.label_names,
                                                 recipe.data.num_proc)
        return splits

    def tokenize(self, splits: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase,
                 recipe: Recipe) -> datasets.DatasetDict:
        """Train rows are cut by data.truncation; validation/test rows too, or (data.long_text: window) become
        overlapping windows carrying their text's row id."""
        cfg = recipe.data
        check_window_settings(cfg.long_text, cfg.window_pooling, pair=bool(cfg.text_pair_column))
        if cfg.long_text == "window" and not self.windowed_scoring:
            raise NlptlError(f"data.long_text window scores single-label classification; {self.name} validates on "
                             "truncated texts (nlptl predict --long-text window averages a long text's windows)")
        self.window_pooling = cfg.window_pooling
        for split, ds in splits.items():
            check_text_columns(split, ds, cfg.text_column, cfg.text_pair_column)
        encode = self.encoder(tokenizer, recipe)
        to_windows = partial(window_batch, tokenizer=tokenizer, text_column=cfg.text_column, max_length=cfg.max_length,
                             stride=default_stride(cfg.max_length, cfg.stride))
        result = {}
        for split, ds in splits.items():
            if split == "train" or cfg.long_text != "window":
                result[split] = ds.map(encode, batched=True, with_indices=True, batch_size=1000, num_proc=cfg.num_proc,
                                       remove_columns=[c for c in ds.column_names if c != "labels"],
                                       desc=f"tokenizing {split}")
                continue
            windows = ds.map(to_windows, batched=True, with_indices=True, batch_size=1000, num_proc=cfg.num_proc,
                             remove_columns=ds.column_names, desc=f"tokenizing {split} (windows)")
            result[split] = windows.map(number_rows, batched=True, with_indices=True, desc=f"numbering {split}")
        return datasets.DatasetDict(result)

    def encoder(self, tokenizer: PreTrainedTokenizerBase, recipe: Recipe) -> Callable[..., dict[str, list]]:
        """The Dataset.map function of `tokenize` (batch, indices) -> model inputs, lengths and row ids."""
        cfg = recipe.data
        return partial(encode_batch, tokenizer=tokenizer, text_column=cfg.text_column,
                       pair_column=cfg.text_pair_column, max_length=cfg.max_length,
                       truncation=cfg.truncation, head_tokens=cfg.head_tokens)

    def encode_rows(self, rows: list[dict], tokenizer: PreTrainedTokenizerBase,
                    recipe: Recipe) -> list[list[dict]]:
        columns = to_columns(rows)
        encoded = self.encoder(tokenizer, recipe)(columns, columns["example_id"])
        encoded["labels"] = columns["labels"]
        return [[row] for row in to_rows(encoded)]

    def augmenter(self, settings: AugmentSettings, train: datasets.Dataset, recipe: Recipe) -> TextRows:
        """EDA on the text column (a text pair's second text is left as it is); antonym replacement flips labels
        by the recipe's label-name map."""
        check_text_columns("train", train, recipe.data.text_column, recipe.data.text_pair_column)
        label_map = label_id_map(settings.antonym_label_map, self.label_names)
        augmenter = Augmenter(settings, antonym_label_map=label_map)
        return TextRows(augmenter, recipe.data.text_column, self.label_names)

    def build_model(self, recipe: Recipe) -> PreTrainedModel:
        """The labelled model; its last layer computes only the first token's path, the one the head reads
        (same logits and gradients, about a seventh less work for a 6-layer encoder: nlptl.first_token)."""
        model = load_labelled_model(self.model_class, recipe.model, recipe.mirrors, self.label_names)
        last_layer_first_token_only(model)
        return model

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> PadCollator:
        return PadCollator(tokenizer)

    def training_logits(self, model: torch.nn.Module, inputs: dict,
                        labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return model(**inputs).logits, labels

    def loss_sum(self, logits: torch.Tensor, labels: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        class_weights = None if self.class_weights is None else self.class_weights.to(logits.device)
        losses = torch.nn.functional.cross_entropy(logits.float(), labels, weight=class_weights, reduction="none")
        return weighted_sum(losses, weights)

    def fit_loss(self, train: datasets.Dataset, recipe: Recipe) -> dict[str, Any]:
        ids = train.select_columns(["labels"])[:]["labels"]
        counts = [0] * len(self.label_names)
        for label in ids:
            counts[label] += 1
        weights = resolve_class_weights(recipe.train.class_weights, self.label_names, counts)
        self.class_weights = None if weights is None else torch.tensor(weights)
        return {} if weights is None else {"class_weights": describe(weights, self.label_names)}

    def finish_model(self, model: PreTrainedModel) -> None:
        return None  # the labels are in config.json already

    def count_targets(self, labels: torch.Tensor) -> int:
        return int(labels.numel())

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Class probabilities (fp32): the label is their argmax; AUC and calibration need them whole."""
        return logits.float().softmax(dim=-1)

    def compute_metrics(self, predictions: list, references: list, split: str,
                        dataset: datasets.Dataset | None) -> dict[str, Any]:
        """`predictions`: one list of class probabilities per example (per window of a windowed split: pooled
        here into one per text, as `nlptl predict` pools them)."""
        if dataset is not None and TEXT_ID_COLUMN in dataset.column_names:
            predictions, references = self.pool_by_text(predictions, references, dataset[TEXT_ID_COLUMN])
        ids = [max(range(len(p)), key=p.__getitem__) for p in predictions]
        result = load_metric("classification").compute(
            predictions=ids, references=references, label_names=self.label_names
        )
        result.update(probability_metrics(references, predictions, self.label_names))
        result["num_examples"] = len(references)
        self.scored[split] = (list(references), [list(p) for p in predictions])
        return result

    def pool_by_text(self, predictions: list, references: list, owners: list[int]) -> tuple[list, list]:
        texts = max(owners, default=-1) + 1
        pooled = pool_windows(torch.tensor(predictions, dtype=torch.float32).reshape(len(owners), -1), owners, texts,
                              self.window_pooling)
        labels = [0] * texts
        for owner, reference in zip(owners, references, strict=True):
            labels[owner] = reference
        return pooled.tolist(), labels

    def metrics_from_loss(self, loss: float) -> dict[str, float]:
        return {}

    def card_text(self, repo_id: str, data: DataConfig) -> CardText:
        example = "A moving, beautifully acted film."
        return CardText(
            usage=(f'from transformers import pipeline\n\n'
                   f'classifier = pipeline("{self.pipeline_tag}", model="{repo_id}")\n'
                   f'print(classifier("{example}"))\n\n'
                   f'# or, in batches with length sorting:\nimport nlptl\n'
                   f'print(nlptl.Predictor("{repo_id}").predict(["{example}"]))'),
            length_note=describe_truncation(data.max_length, data.truncation, data.head_tokens)
            + (" in training; validation, test and `nlptl predict` pool the logits of overlapping windows "
               f"({data.window_pooling})." if data.long_text == "window"
               else " unless predicted with `nlptl predict --long-text window`."),
            input_line=f"text column: `{data.text_column}`",
        )

    def long_text(self, data: DataConfig) -> dict[str, Any]:
        """Truncated as trained (a pair: longest first), or windows whose logits are pooled."""
        if data.long_text == "window" and not data.text_pair_column:
            return {"long_text": "window", "max_length": data.max_length,
                    "stride": default_stride(data.max_length, data.stride), "pooling": data.window_pooling}
        if data.text_pair_column:
            return {"long_text": "truncate", "max_length": data.max_length, "truncation": "longest_first"}
        return {"long_text": "truncate", "max_length": data.max_length, "truncation": data.truncation,
                "head_tokens": data.head_tokens}

    def not_learned(self, metrics: dict, split: str) -> list[str]:
        """All predictions one class, or accuracy at the majority-class rate."""
        matrix = metrics.get("confusion_matrix")
        if not matrix:
            return []
        names = metrics.get("labels") or self.label_names
        signs = [one_class_sign([sum(column) for column in zip(*matrix, strict=True)], names, split),
                 majority_sign(metrics["accuracy"], [sum(row) for row in matrix], names, split)]
        return [sign for sign in signs if sign]

    def write_reports(self, metrics: dict[str, dict], output_dir: Path) -> list[Path]:
        """Confusion matrix, per-class report and (from the probabilities last scored on the split) ROC,
        precision-recall and reliability plots, of the test split (else validation)."""
        split = "test" if "test" in metrics else "validation"
        if split not in metrics:
            return []
        scores = metrics[split]
        context = f"{split}, {scores['num_examples']} examples"
        path = output_dir / "confusion_matrix.png"
        plot_confusion_matrix(scores["confusion_matrix"], scores["labels"], path, title=f"Confusion matrix ({context})")
        written = [path, *write_per_class(scores, output_dir, f"Per-class report ({context})")]
        if split in self.scored:
            references, probabilities = self.scored[split]
            written += write_probability_plots(references, probabilities, scores["labels"], output_dir, context)
        return written
