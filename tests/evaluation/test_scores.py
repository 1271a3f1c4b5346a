"""Probability metrics and their plots: ECE on hand-counted bins, one-vs-rest AUC for three classes, the PNGs."""

from __future__ import annotations

import numpy as np
import pytest

from nlptl.evaluation.plots import plot_training_curves, write_probability_plots
from nlptl.evaluation.scores import calibration_bins, expected_calibration_error, probability_metrics


def test_ece_is_the_weighted_gap_between_accuracy_and_confidence_per_bin():
    references = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    # confidence 0.9 (two right): gap 0.1; 0.6 (wrong): gap 0.6; 0.7 (right): gap 0.3
    assert expected_calibration_error(references, probabilities, bins=10) == pytest.approx((2 * 0.1 + 0.6 + 0.3) / 4)
    assert [b.count for b in calibration_bins(references, probabilities, bins=10)] == [0] * 5 + [1, 1, 0, 2, 0]
    assert expected_calibration_error(np.array([1]), np.array([[0.0, 1.0]])) == 0.0  # confidence 1.0: last bin


def test_three_classes_get_one_vs_rest_auc_per_class_and_their_mean():
    references = [0, 1, 2, 0, 1, 2]
    probabilities = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.25, 0.65, 0.1], [0.3, 0.6, 0.1],
                     [0.2, 0.2, 0.6]]
    result = probability_metrics(references, probabilities, ["a", "b", "c"])
    per_class = result["per_class_ovr"]
    assert isinstance(per_class, dict) and set(per_class) == {"a", "b", "c"}
    assert per_class["c"]["roc_auc"] == 1.0 and per_class["a"]["roc_auc"] == per_class["b"]["roc_auc"] == 0.875
    assert result["roc_auc"] == pytest.approx(np.mean([s["roc_auc"] for s in per_class.values()]))
    two = probability_metrics([0, 0], [[0.9, 0.1], [0.6, 0.4]], ["neg", "pos"])
    assert two["roc_auc"] is None and two["average_precision"] is None  # one class present: undefined, not a crash


def test_plots_are_written_for_two_and_three_classes(tmp_path):
    rng = np.random.default_rng(0)
    for classes in (2, 3):
        references = rng.integers(0, classes, 50).tolist()
        probabilities = rng.dirichlet(np.ones(classes), 50).tolist()
        folder = tmp_path / str(classes)
        paths = write_probability_plots(references, probabilities, [f"c{i}" for i in range(classes)], folder, "t")
        assert [p.name for p in paths] == ["roc_curve.png", "precision_recall.png", "reliability.png"]
        assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    history = [{"step": 5, "loss": 0.7, "lr": 1e-4, "validation": {"accuracy": 0.6}},
               {"step": 10, "loss": 0.5, "lr": 5e-5, "validation": {"accuracy": 0.8}}]
    plot_training_curves(history, "accuracy", tmp_path / "curves.png")
    plot_training_curves([{"step": 5, "loss": 0.7, "lr": 1e-4}], "accuracy", tmp_path / "no_validation.png")
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
