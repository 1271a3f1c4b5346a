"""Which of the teacher's predictions become training labels (self-training's pseudo-labels).

Per class, the unlabelled texts the teacher assigns to it, most confident first (ties: lower row first), kept
while at least `threshold` confident and at most `top_k`; with `balance`, every class keeps as many as the rarest
class has, so the student does not inherit the teacher's bias toward one class. No randomness: the same scores
give the same rows. With soft labels (`semi.soft_labels`) each kept text carries the teacher's whole distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlptl.errors import NlptlError

SOFT_FLOOR = 0.01  # soft pseudo-labels: classes the teacher gives less probability get no row


@dataclass(frozen=True)
class Selection:
    rows: list[int]  # pool rows kept, ascending
    labels: list[int]  # their pseudo-label ids
    candidates: list[int]  # per class: texts predicted as it and confident enough (before top_k / balance)


def check_selection_settings(threshold: float | None, top_k: int | None) -> None:
    if threshold is not None and not 0 < threshold <= 1:
        raise NlptlError(f"semi.threshold {threshold}: a probability in (0, 1], or null to select by semi.top_k")
    if top_k is not None and top_k < 1:
        raise NlptlError(f"semi.top_k {top_k}: at least 1 per class, or null for no cap")
    if threshold is None and top_k is None:
        raise NlptlError("semi.threshold and semi.top_k are both null: set one (e.g. semi.threshold 0.9)")


def select_pseudo_labels(probabilities: np.ndarray, threshold: float | None, top_k: int | None,
                         balance: bool) -> Selection:
    """`probabilities`: (texts, classes) of the teacher."""
    check_selection_settings(threshold, top_k)
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    per_class = []
    for label in range(probabilities.shape[1]):
        rows = np.flatnonzero(predicted == label)
        if threshold is not None:
            rows = rows[confidence[rows] >= threshold]
        order = np.lexsort((rows, -confidence[rows]))  # most confident first, then the earlier row
        per_class.append(rows[order])
    cap = min((len(rows) for rows in per_class), default=0) if balance else None
    if top_k is not None:
        cap = top_k if cap is None else min(cap, top_k)
    kept = [(int(row), label) for label, rows in enumerate(per_class) for row in rows[:cap]]
    kept.sort()
    return Selection(rows=[row for row, _ in kept], labels=[label for _, label in kept],
                     candidates=[len(rows) for rows in per_class])


@dataclass(frozen=True)
class SoftRows:
    """Soft pseudo-labels as weighted hard rows: text `rows[i]` with class `labels[i]`, loss weight `weights[i]`."""

    rows: list[int]
    labels: list[int]
    weights: list[float]


def soft_rows(selection: Selection, probabilities: np.ndarray, floor: float = SOFT_FLOOR) -> SoftRows:
    """Each selected text once per class the teacher gives at least `floor` probability, weighted by it.

    Cross-entropy against the teacher's distribution p is sum_c p_c * CE(class c), so these rows give the student
    the soft-label loss and gradient through the weight column every task already honours. Classes under `floor`
    are left out: their term is at most `floor` of that text's loss and would cost a full forward pass each."""
    kept = [(row, label, float(probabilities[row, label])) for row in selection.rows
            for label in range(probabilities.shape[1]) if probabilities[row, label] >= floor]
    return SoftRows(rows=[row for row, _, _ in kept], labels=[label for _, label, _ in kept],
                    weights=[weight for _, _, weight in kept])
