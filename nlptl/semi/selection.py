"""Which of the teacher's predictions become training labels (self-training's pseudo-labels).

Per class, the unlabelled texts the teacher assigns to it, most confident first (ties: lower row first), kept
while at least `threshold` confident and at most `top_k`; with `balance`, every class keeps as many as the rarest
class has, so the student does not inherit the teacher's bias toward one class. No randomness: the same scores
give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlptl.errors import NlptlError


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
