"""Metrics of a classifier's class probabilities, not only of its labels: ROC AUC, average precision and
expected calibration error (ECE). Training's and `nlptl evaluate`'s classification metrics both come from here.

AUC and average precision are scikit-learn's: for two classes, of the second class's probability; for more,
one-vs-rest per class and their macro mean. ECE (Guo et al. 2017) is the top-label calibration gap: predictions
are binned by their confidence (the winning class's probability) into equal-width bins, and ECE is the
example-weighted mean of |accuracy - mean confidence| over the bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

CALIBRATION_BINS = 15  # as in Guo et al. 2017


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    accuracy: float  # share of the bin's predictions that are right (nan for an empty bin)
    confidence: float  # mean confidence of the bin's predictions (nan for an empty bin)


def calibration_bins(references: np.ndarray, probabilities: np.ndarray,
                     bins: int = CALIBRATION_BINS) -> list[CalibrationBin]:
    """Equal-width confidence bins over [0, 1]; a confidence of exactly 1.0 falls in the last bin."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == references
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    result = []
    for b in range(bins):
        chosen = which == b
        count = int(chosen.sum())
        result.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), count,
                                     float(correct[chosen].mean()) if count else float("nan"),
                                     float(confidence[chosen].mean()) if count else float("nan")))
    return result


def expected_calibration_error(references: np.ndarray, probabilities: np.ndarray,
                               bins: int = CALIBRATION_BINS) -> float:
    total = len(references)
    return float(sum(b.count / total * abs(b.accuracy - b.confidence)
                     for b in calibration_bins(references, probabilities, bins) if b.count)) if total else 0.0


def one_vs_rest(references: np.ndarray, classes: int) -> np.ndarray:
    """(examples, classes) 0/1 matrix: column c is 1 where the true class is c."""
    return (references[:, None] == np.arange(classes)[None, :]).astype(int)


def probability_metrics(references: list[int], probabilities: list[list[float]],
                        labels: list[str]) -> dict[str, object]:
    """roc_auc and average_precision (None where undefined: a class absent from the references), per class for
    more than two classes, and ece with its bin count."""
    refs, probs = np.asarray(references, dtype=int), np.asarray(probabilities, dtype=float)
    result: dict[str, object] = {"ece": expected_calibration_error(refs, probs), "ece_bins": CALIBRATION_BINS}
    truth = one_vs_rest(refs, len(labels))
    if len(labels) == 2:
        both = truth[:, 1].min() != truth[:, 1].max()
        result["roc_auc"] = float(roc_auc_score(truth[:, 1], probs[:, 1])) if both else None
        result["average_precision"] = float(average_precision_score(truth[:, 1], probs[:, 1])) if both else None
        return result
    per_class: dict[str, dict[str, float | None]] = {}
    for c, name in enumerate(labels):
        present = 0 < truth[:, c].sum() < len(refs)
        per_class[name] = {
            "roc_auc": float(roc_auc_score(truth[:, c], probs[:, c])) if present else None,
            "average_precision": float(average_precision_score(truth[:, c], probs[:, c])) if present else None,
        }
    for key in ("roc_auc", "average_precision"):
        values = [value for scores in per_class.values() if (value := scores[key]) is not None]
        result[key] = float(np.mean(values)) if values else None  # one-vs-rest macro mean over classes present
    result["per_class_ovr"] = per_class
    return result
