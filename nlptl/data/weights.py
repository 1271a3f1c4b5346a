"""Class and instance weights for the loss (the instance-based transfer of re-weighting examples).

`train.class_weights` becomes one weight per class (`balanced`: inverse frequency on the train split after
sampling and augmentation, n / (classes * count), as scikit-learn's `compute_class_weight`); the task applies
it in its loss. `data.weight_column` becomes a `weight` column of the tokenized train split (each model row
gets the weight of the row it was cut from), rescaled to mean 1 so the learning rate keeps its meaning; the
collator passes it to the loss. Both scale summed per-target losses; the trainer still divides by the number
of targets in the whole accumulation window over all processes, so accumulation and DDP stay exact.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import datasets
import torch

from nlptl.data.files.origin import files_of, where
from nlptl.errors import NlptlError

logger = logging.getLogger(__name__)
WEIGHT = "weight"  # the column (and batch key) that carries per-example weights to the loss


def resolve_class_weights(setting: str | dict[str, float], label_names: Sequence[str],
                          counts: Sequence[int]) -> list[float] | None:
    """One weight per label (None: unweighted). `counts`: train targets per label, in label order."""
    if setting == "none":
        return None
    if setting == "balanced":
        total, present = sum(counts), [c for c in counts if c > 0]
        if not present:
            raise NlptlError("train.class_weights=balanced: the train split has no labelled targets")
        return [total / (len(present) * count) if count else 0.0 for count in counts]
    if isinstance(setting, dict):
        unknown = [label for label in setting if label not in label_names]
        if unknown:
            raise NlptlError(f"train.class_weights names {unknown[0]!r}, which is not a label of this data "
                             f"({', '.join(label_names)}); use the label names")
        return [float(setting.get(name, 1.0)) for name in label_names]
    raise NlptlError(f"train.class_weights={setting!r}: give none, balanced, or {{label: weight}}")


def describe(weights: list[float] | None, label_names: Sequence[str]) -> dict[str, float] | None:
    """The weights by label, rounded, for logs, metrics.json and the model card."""
    return None if weights is None else {name: round(w, 4) for name, w in zip(label_names, weights, strict=True)}


def check_weight_column(splits: datasets.DatasetDict, column: str) -> None:
    """The train split holds `column` with a number >= 0 in every row (and not all zero)."""
    train = splits["train"]
    if column not in train.column_names:
        raise NlptlError(f"{files_of(train, 'train')}: weight column {column!r} (data.weight_column) not in the "
                         f"train split (columns: {', '.join(train.column_names)}); name an existing column")
    values = train.select_columns([column])[:][column]
    for row, value in enumerate(values):
        number = as_number(value)
        if number is None or not number >= 0 or math.isinf(number):
            raise NlptlError(f"{where(train, row, 'train')}: weight {value!r} in column {column!r} is not a number "
                             ">= 0; example weights must be finite and non-negative")
    if not any(as_number(value) for value in values):
        raise NlptlError(f"{files_of(train, 'train')}: every weight in column {column!r} is 0; nothing would train")


def as_number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def attach_weights(tokenized: datasets.Dataset, raw: datasets.Dataset, column: str,
                   row_column: str) -> datasets.Dataset:
    """The tokenized train split with a `weight` column: each model row gets the (mean-1) weight of the raw row
    `row_column` names."""
    values = [float(v) for v in raw.select_columns([column])[:][column]]
    mean = sum(values) / len(values)
    rows = tokenized.select_columns([row_column])[:][row_column]
    logger.info("example weights from %r: mean %.4g rescaled to 1 (min %.4g, max %.4g)", column, mean,
                min(values) / mean, max(values) / mean)
    return tokenized.add_column(WEIGHT, [values[row] / mean for row in rows])


def weight_summary(raw: datasets.Dataset, column: str) -> dict[str, float | str]:
    """What metrics.json records about the example weights."""
    values = [float(v) for v in raw.select_columns([column])[:][column]]
    mean = sum(values) / len(values)
    return {"column": column, "raw_mean": round(mean, 6), "min": round(min(values) / mean, 6),
            "max": round(max(values) / mean, 6), "zero": sum(1 for v in values if v == 0)}


def weighted_sum(losses: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Sum of per-target losses, each scaled by its example's weight. `losses` has the batch as its first
    dimension (any further dimensions: targets of that example, e.g. tokens); `weights` is one per example."""
    if weights is None:
        return losses.sum()
    scale = weights.to(device=losses.device, dtype=losses.dtype)
    return (losses * scale.reshape(-1, *([1] * (losses.dim() - 1)))).sum()
