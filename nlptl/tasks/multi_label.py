"""Multi-label classification: any number of labels per text (topics, tags, the entity types a sentence has).

One sigmoid per label, binary cross-entropy summed over labels (each label of each row is one target). A label
is predicted when its probability reaches its threshold: 0.5, or (train.tune_thresholds) the value that
maximises the label's F1 on the validation split, chosen at every validation scoring and saved with the
model in config.json (`nlptl_thresholds`), which prediction and `nlptl evaluate` read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlptl.data.collate import PadCollator
from nlptl.data.targets import LABELS, multi_hot, replace_labels
from nlptl.data.truncation import describe_truncation
from nlptl.data.weights import describe, weighted_sum
from nlptl.errors import NlptlError
from nlptl.evaluation.report import write_per_class
from nlptl.first_token import last_layer_first_token_only
from nlptl.models import load_labelled_model
from nlptl.recipe import AugmentSettings, DataConfig, Recipe
from nlptl.tasks.base import CardText
from nlptl.tasks.classification import SequenceClassificationTask

THRESHOLDS = "nlptl_thresholds"  # config.json key: {label: threshold}
GRID = [round(0.05 * i, 2) for i in range(1, 20)]  # candidate thresholds 0.05 ... 0.95


def label_scores(predicted: list[list[int]], truth: list[list[int]], label: int) -> dict[str, float | int]:
    tp = sum(1 for p, t in zip(predicted, truth, strict=True) if p[label] and t[label])
    fp = sum(1 for p, t in zip(predicted, truth, strict=True) if p[label] and not t[label])
    fn = sum(1 for p, t in zip(predicted, truth, strict=True) if not p[label] and t[label])
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}


def multi_label_metrics(probabilities: list[list[float]], references: list[list[float]],
                        thresholds: list[float], names: list[str]) -> dict[str, Any]:
    """Micro/macro F1, per-label precision/recall/F1, subset accuracy and Hamming loss at `thresholds`."""
    predicted = [[int(p >= t) for p, t in zip(row, thresholds, strict=True)] for row in probabilities]
    truth = [[int(v >= 0.5) for v in row] for row in references]
    per_label = [label_scores(predicted, truth, i) for i in range(len(names))]
    tp, fp, fn = (sum(int(s[k]) for s in per_label) for k in ("tp", "fp", "fn"))
    micro_p = tp / (tp + fp) if tp + fp else 0.0
    micro_r = tp / (tp + fn) if tp + fn else 0.0
    cells = max(len(truth) * len(names), 1)
    return {
        "f1_micro": 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0,
        "f1_macro": sum(float(s["f1"]) for s in per_label) / max(len(names), 1),
        "precision_micro": micro_p, "recall_micro": micro_r,
        "subset_accuracy": sum(p == t for p, t in zip(predicted, truth, strict=True)) / max(len(truth), 1),
        "hamming_loss": sum(a != b for p, t in zip(predicted, truth, strict=True)
                            for a, b in zip(p, t, strict=True)) / cells,
        "predicted_label_rate": sum(map(sum, predicted)) / cells,
        "per_class": {name: {k: s[k] for k in ("precision", "recall", "f1", "support")}
                      for name, s in zip(names, per_label, strict=True)},
        "thresholds": dict(zip(names, thresholds, strict=True)),
        "num_examples": len(truth),
    }


def tuned_thresholds(probabilities: list[list[float]], references: list[list[float]], labels: int) -> list[float]:
    """Per label, the grid threshold with the best F1 on these rows (ties: the one nearest 0.5)."""
    truth = [[int(v >= 0.5) for v in row] for row in references]
    chosen = []
    for label in range(labels):
        def f1_at(threshold: float, label: int = label) -> tuple[float, float]:
            predicted = [[int(row[label] >= threshold) if i == label else 0 for i in range(labels)]
                         for row in probabilities]
            return float(label_scores(predicted, truth, label)["f1"]), -abs(threshold - 0.5)
        chosen.append(max(GRID, key=f1_at))
    return chosen


class MultiLabelClassificationTask(SequenceClassificationTask):
    windowed_scoring = False  # compute_metrics scores rows as they are
    name = "multi_label_classification"
    stratify_column: str | None = None  # a label set is no single class to stratify by
    main_metric = "f1_micro"
    description = "multi-label text classification"
    metric_names = {"f1_micro": "F1 (micro)", "f1_macro": "F1 (macro)", "subset_accuracy": "Subset accuracy",
                    "hamming_loss": "Hamming loss"}
    problem_type: str | None = "multi_label_classification"

    def __init__(self) -> None:
        super().__init__()
        self.thresholds: list[float] = []
        self.tune = False  # train.tune_thresholds: choose thresholds at each validation scoring

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict:
        cfg = recipe.data
        columns = list(cfg.label_columns or [cfg.label_column])
        names = [str(n) for n in cfg.label_names] if cfg.label_names and not cfg.label_columns else None
        train_rows, self.label_names = multi_hot(splits["train"], "train", cfg.label_column, cfg.label_columns,
                                                 cfg.label_delimiter, names)
        self.thresholds = [0.5] * len(self.label_names)
        self.tune = recipe.train.tune_thresholds
        result = {}
        for split, ds in splits.items():
            rows = train_rows if split == "train" else multi_hot(ds, split, cfg.label_column, cfg.label_columns,
                                                                 cfg.label_delimiter, self.label_names)[0]
            result[split] = replace_labels(ds, rows, columns)
        return datasets.DatasetDict(result)

    def augmenter(self, settings: AugmentSettings, train: datasets.Dataset, recipe: Recipe) -> Any:
        raise NlptlError("augmentation is not available for multi_label_classification yet; remove augment.ops")

    def build_model(self, recipe: Recipe) -> PreTrainedModel:
        model = load_labelled_model(self.model_class, recipe.model, recipe.mirrors, self.label_names)
        model.config.problem_type = self.problem_type  # transformers' pipeline then applies a sigmoid
        last_layer_first_token_only(model)
        return model

    def loss_sum(self, logits: torch.Tensor, labels: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        positive = None if self.class_weights is None else self.class_weights.to(logits.device)
        losses = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels.float(), pos_weight=positive, reduction="none")
        return weighted_sum(losses, weights)

    def count_targets(self, labels: torch.Tensor) -> int:
        return int(labels.numel())  # every label of every row

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> PadCollator:
        return PadCollator(tokenizer, row_labels=True)  # a 0/1 list per row, never padded

    def fit_loss(self, train: datasets.Dataset, recipe: Recipe) -> dict[str, Any]:
        """Class weights are BCE's positive weights: `balanced` gives each label (negatives / positives) on
        train, a mapping gives each named label its weight (others 1)."""
        setting = recipe.train.class_weights
        if setting == "none":
            return {}
        rows = train.select_columns([LABELS])[:][LABELS]
        positives = [sum(row[i] for row in rows) for i in range(len(self.label_names))]
        if setting == "balanced":
            weights = [(len(rows) - p) / p if p else 1.0 for p in positives]
        else:
            assert isinstance(setting, dict)
            unknown = [label for label in setting if label not in self.label_names]
            if unknown:
                raise NlptlError(f"train.class_weights names {unknown[0]!r}, which is not a label of this data "
                                 f"({', '.join(self.label_names)}); use the label names")
            weights = [float(setting.get(name, 1.0)) for name in self.label_names]
        self.class_weights = torch.tensor(weights)
        return {"class_weights": describe(weights, self.label_names), "class_weights_as": "BCE positive weights"}

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.float().sigmoid()

    def compute_metrics(self, predictions: list, references: list, split: str,
                        dataset: datasets.Dataset | None) -> dict[str, Any]:
        """`predictions`: one list of label probabilities per example."""
        if self.tune and split == "validation":
            self.thresholds = tuned_thresholds(predictions, references, len(self.label_names))
        thresholds = self.thresholds or [0.5] * len(self.label_names)
        return multi_label_metrics(predictions, references, thresholds, self.label_names)

    def finish_model(self, model: PreTrainedModel) -> None:
        setattr(model.config, THRESHOLDS, dict(zip(self.label_names, self.thresholds or [0.5] * len(self.label_names),
                                                   strict=True)))

    def card_text(self, repo_id: str, data: DataConfig) -> CardText:
        example = "A moving, beautifully acted film."
        return CardText(
            usage=(f'from transformers import pipeline\n\n'
                   f'classifier = pipeline("{self.pipeline_tag}", model="{repo_id}", top_k=None)\n'
                   f'print(classifier("{example}"))  # every label\'s sigmoid score\n\n'
                   f'# the labels above their thresholds (config.json {THRESHOLDS}):\nimport nlptl\n'
                   f'print(nlptl.Predictor("{repo_id}").predict(["{example}"]))'),
            length_note=describe_truncation(data.max_length, data.truncation, data.head_tokens)
            + " unless predicted with `nlptl predict --long-text window` (windows' outputs averaged).",
            input_line=f"text column: `{data.text_column}`; labels: "
            + (f"columns {', '.join(data.label_columns)}" if data.label_columns else f"column `{data.label_column}`"),
        )

    def not_learned(self, metrics: dict, split: str) -> list[str]:
        """No label ever predicted, or every label always predicted."""
        rate = metrics.get("predicted_label_rate")
        if rate == 0:
            return [f"{split}: no label was predicted for any example"]
        if rate == 1:
            return [f"{split}: every label was predicted for every example"]
        return []

    def write_reports(self, metrics: dict[str, dict], output_dir: Path) -> list[Path]:
        split = "test" if "test" in metrics else "validation"
        if split not in metrics:
            return []
        scores = metrics[split]
        written = write_per_class(scores, output_dir, f"Per-label report ({split}, {scores['num_examples']} examples)")
        path = output_dir / "thresholds.json"
        path.write_text(json.dumps(scores.get("thresholds", {}), indent=2) + "\n")
        return [*written, path]
