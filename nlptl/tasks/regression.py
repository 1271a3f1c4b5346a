"""Regression: one or several numbers per text (a star rating, a similarity score).

The head outputs one value per target. With data.standardize_targets the loss compares it with the target's
z-score on the train split ((y - mean) / std), so the head starts at the right scale whatever the units; the
scores (MSE, MAE, Pearson, Spearman) are in the data's units. Before saving, the scale is folded into the head's
last linear layer (weight * std, bias * std + mean): the saved model outputs the data's units itself, for
`nlptl predict`, `nlptl evaluate` and transformers' pipeline alike; config.json records the scale
(`nlptl_target_scale`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import datasets
import torch
from scipy.stats import pearsonr, spearmanr
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlptl.data.collate import PadCollator
from nlptl.data.targets import LABELS, regression_targets, replace_labels
from nlptl.data.truncation import describe_truncation
from nlptl.data.weights import weighted_sum
from nlptl.errors import NlptlError
from nlptl.first_token import last_layer_first_token_only
from nlptl.io import write_json
from nlptl.models import load_labelled_model
from nlptl.recipe import AugmentSettings, DataConfig, Recipe
from nlptl.tasks.base import CardText
from nlptl.tasks.classification import SequenceClassificationTask

SCALE = "nlptl_target_scale"  # config.json key: {"mean": [...], "std": [...], "folded_into_head": true}
LOSSES = ("mse", "huber")


def correlation(function: Any, x: list[float], y: list[float]) -> float:
    """Pearson/Spearman correlation; NaN when either side is constant (no correlation is defined)."""
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan
    return float(function(x, y)[0])


def regression_metrics(predictions: list[list[float]], references: list[list[float]],
                       names: list[str]) -> dict[str, Any]:
    """MSE, RMSE, MAE, Pearson and Spearman, averaged over targets (and per target when there are several)."""
    per_target = {}
    for i, name in enumerate(names):
        p, r = [row[i] for row in predictions], [row[i] for row in references]
        mse = sum((a - b) ** 2 for a, b in zip(p, r, strict=True)) / max(len(r), 1)
        per_target[name] = {"mse": mse, "rmse": math.sqrt(mse),
                            "mae": sum(abs(a - b) for a, b in zip(p, r, strict=True)) / max(len(r), 1),
                            "pearson": correlation(pearsonr, p, r), "spearman": correlation(spearmanr, p, r)}
    result: dict[str, Any] = {key: sum(s[key] for s in per_target.values()) / len(names)
                              for key in ("mse", "rmse", "mae", "pearson", "spearman")}
    if len(names) > 1:
        result["per_target"] = per_target
    result["num_examples"] = len(references)
    return result


def head_layer(model: PreTrainedModel) -> torch.nn.Linear:
    """The head's output layer: the last linear layer with one output per target."""
    outputs = model.config.num_labels
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == outputs]
    if not layers:
        raise RuntimeError(f"no linear layer with {outputs} outputs in {type(model).__name__}")  # a bug, not the user's
    return layers[-1]


class RegressionTask(SequenceClassificationTask):
    windowed_scoring = False  # compute_metrics scores rows as they are
    name = "regression"
    stratify_column: str | None = None
    main_metric = "pearson"
    description = "text regression"
    metric_names = {"mse": "MSE", "rmse": "RMSE", "mae": "MAE", "pearson": "Pearson r", "spearman": "Spearman rho"}
    problem_type: str | None = "regression"

    def __init__(self) -> None:
        super().__init__()
        self.mean: torch.Tensor | None = None  # target scale on train (standardize_targets), one per target
        self.std: torch.Tensor | None = None
        self.loss = "mse"

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict:
        cfg = recipe.data
        if recipe.train.regression_loss not in LOSSES:
            raise NlptlError(f"train.regression_loss={recipe.train.regression_loss!r}: choose one of "
                             f"{', '.join(LOSSES)}")
        self.loss = recipe.train.regression_loss
        columns = list(cfg.label_columns or [cfg.label_column])
        result = {}
        for split, ds in splits.items():
            rows, self.label_names = regression_targets(ds, split, cfg.label_column, cfg.label_columns)
            one = len(self.label_names) == 1  # one target: a float per row, as transformers' regression expects
            result[split] = replace_labels(ds, [row[0] for row in rows] if one else rows, columns)
        return datasets.DatasetDict(result)

    def augmenter(self, settings: AugmentSettings, train: datasets.Dataset, recipe: Recipe) -> Any:
        raise NlptlError("augmentation is not available for regression yet; remove augment.ops")

    def build_model(self, recipe: Recipe) -> PreTrainedModel:
        model = load_labelled_model(self.model_class, recipe.model, recipe.mirrors, self.label_names)
        model.config.problem_type = self.problem_type  # transformers' pipeline then returns the raw value
        last_layer_first_token_only(model)
        return model

    def fit_loss(self, train: datasets.Dataset, recipe: Recipe) -> dict[str, Any]:
        if recipe.train.class_weights != "none":
            raise NlptlError("train.class_weights applies to classification; a regression has no classes (weigh "
                             "examples with data.weight_column instead)")
        if not recipe.data.standardize_targets:
            self.mean = self.std = None
            return {"target_scale": None}
        values = torch.tensor(train.select_columns([LABELS])[:][LABELS], dtype=torch.float64).reshape(len(train), -1)
        self.mean, std = values.mean(dim=0), values.std(dim=0)
        self.std = torch.where(std > 0, std, torch.ones_like(std))
        return {"target_scale": self.scale()}

    def scale(self) -> dict[str, list[float]] | None:
        if self.mean is None or self.std is None:
            return None
        return {"mean": [round(v, 6) for v in self.mean.tolist()], "std": [round(v, 6) for v in self.std.tolist()]}

    def standardized(self, labels: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        target = labels.float().reshape(like.shape)
        if self.mean is None or self.std is None:
            return target
        return (target - self.mean.to(like)) / self.std.to(like)

    def loss_sum(self, logits: torch.Tensor, labels: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        output = logits.float()
        target = self.standardized(labels, output)
        if self.loss == "huber":
            losses = torch.nn.functional.huber_loss(output, target, reduction="none", delta=1.0)
        else:
            losses = torch.nn.functional.mse_loss(output, target, reduction="none")
        return weighted_sum(losses, weights)

    def count_targets(self, labels: torch.Tensor) -> int:
        return int(labels.numel())  # every target of every row

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> PadCollator:
        return PadCollator(tokenizer, row_labels=True)  # several targets: a list per row, never padded

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Values in the data's units."""
        output = logits.float()
        if self.mean is None or self.std is None:
            return output
        return output * self.std.to(output) + self.mean.to(output)

    def compute_metrics(self, predictions: list, references: list, split: str,
                        dataset: datasets.Dataset | None) -> dict[str, Any]:
        rows = [list(p) if isinstance(p, list) else [p] for p in predictions]
        truth = [list(r) if isinstance(r, list) else [r] for r in references]
        return regression_metrics(rows, truth, self.label_names)

    def finish_model(self, model: PreTrainedModel) -> None:
        """Fold the target scale into the head, so the saved model outputs the data's units."""
        scale = self.scale()
        if scale is not None and self.mean is not None and self.std is not None:
            layer = head_layer(model)
            with torch.no_grad():
                std, mean = self.std.to(layer.weight), self.mean.to(layer.weight)
                layer.weight.mul_(std.unsqueeze(1))
                if layer.bias is not None:
                    layer.bias.mul_(std).add_(mean)
            self.mean = self.std = None  # the model itself is in the data's units now
        setattr(model.config, SCALE, {**scale, "folded_into_head": True} if scale else None)

    def card_text(self, repo_id: str, data: DataConfig) -> CardText:
        example = "A moving, beautifully acted film."
        targets = data.label_columns or [data.label_column]
        return CardText(
            usage=(f'from transformers import pipeline\n\n'
                   f'regressor = pipeline("{self.pipeline_tag}", model="{repo_id}", function_to_apply="none")\n'
                   f'print(regressor("{example}"))  # the value, in the training data\'s units\n\n'
                   f'# or, in batches with length sorting:\nimport nlptl\n'
                   f'print(nlptl.Predictor("{repo_id}").predict(["{example}"]))'),
            length_note=describe_truncation(data.max_length, data.truncation, data.head_tokens)
            + " unless predicted with `nlptl predict --long-text window` (windows' outputs averaged).",
            input_line=f"text column: `{data.text_column}`; target column(s): {', '.join(targets)}",
        )

    def not_learned(self, metrics: dict, split: str) -> list[str]:
        """Predictions uncorrelated with the targets (a constant predictor's Pearson r is undefined or ~0)."""
        pearson = metrics.get("pearson")
        if pearson is None or (isinstance(pearson, float) and math.isnan(pearson)):
            return [f"{split}: the predictions are constant (no correlation with the targets)"]
        return []

    def write_reports(self, metrics: dict[str, dict], output_dir: Path) -> list[Path]:
        split = "test" if "test" in metrics else "validation"
        if split not in metrics or "per_target" not in metrics[split]:
            return []
        path = output_dir / "per_target.json"
        write_json(path, metrics[split]["per_target"])
        return [path]
