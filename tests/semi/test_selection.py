"""Pseudo-label selection: confident first, balanced across classes, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from nlptl import NlptlError
from nlptl.semi.selection import select_pseudo_labels, soft_rows


def probabilities(positive: list[float]) -> np.ndarray:
    p = np.array(positive)
    return np.stack([1 - p, p], axis=1)


def test_balance_keeps_as_many_of_each_class_as_the_rarest_has_most_confident_first():
    scores = probabilities([0.99, 0.95, 0.97, 0.05, 0.6, 0.98, 0.3, 0.92])
    chosen = select_pseudo_labels(scores, threshold=0.9, top_k=None, balance=True)
    # positives >= 0.9: rows 0 (.99), 5 (.98), 2 (.97), 1 (.95), 7 (.92); negatives >= 0.9: row 3 (.95) only
    assert chosen.candidates == [1, 5]
    assert chosen.rows == [0, 3] and chosen.labels == [1, 0]
    unbalanced = select_pseudo_labels(scores, threshold=0.9, top_k=None, balance=False)
    assert unbalanced.rows == [0, 1, 2, 3, 5, 7]


def test_top_k_caps_each_class_and_ties_go_to_the_earlier_row():
    scores = probabilities([0.9, 0.9, 0.1, 0.9, 0.1, 0.2])
    chosen = select_pseudo_labels(scores, threshold=None, top_k=2, balance=True)
    assert chosen.rows == [0, 1, 2, 4] and chosen.labels == [1, 1, 0, 0]
    again = select_pseudo_labels(scores.copy(), threshold=None, top_k=2, balance=True)
    assert again == chosen


def test_no_candidate_of_one_class_selects_nothing_when_balanced():
    chosen = select_pseudo_labels(probabilities([0.99, 0.98]), threshold=0.9, top_k=None, balance=True)
    assert chosen.rows == [] and chosen.candidates == [0, 2]


@pytest.mark.parametrize(("threshold", "top_k", "message"), [
    (1.5, None, "semi.threshold 1.5"), (None, 0, "semi.top_k 0"), (None, None, "both null")])
def test_bad_settings_are_one_line(threshold, top_k, message):
    with pytest.raises(NlptlError, match=message):
        select_pseudo_labels(probabilities([0.5]), threshold, top_k, balance=True)


def test_soft_rows_carry_the_teacher_distribution_of_each_kept_text():
    """Each kept text once per class at least 1% probable, weighted by that probability: sum_c p_c CE(c) is the
    cross-entropy to the teacher's distribution."""
    scores = probabilities([0.95, 0.05, 0.999, 0.6])
    chosen = select_pseudo_labels(scores, threshold=0.9, top_k=None, balance=False)
    assert chosen.rows == [0, 1, 2]
    soft = soft_rows(chosen, scores)
    assert soft.rows == [0, 0, 1, 1, 2] and soft.labels == [0, 1, 0, 1, 1]  # row 2's 0.001 is under the floor
    assert soft.weights == pytest.approx([0.05, 0.95, 0.95, 0.05, 0.999])
    assert soft_rows(chosen, scores) == soft
