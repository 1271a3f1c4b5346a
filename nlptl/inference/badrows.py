"""Rows whose text cannot be classified (null, empty, undecodable bytes): fail naming the row, or keep the row
with an empty label and the reason, never drop it. The reader finds the problems and words them
(`nlptl.data.files.problems`), as it does for training."""

from __future__ import annotations

import math
from typing import Any

from nlptl.data.files.problems import EMPTY, NULL, UNDECODABLE, row_problem
from nlptl.errors import NlptlError

POLICIES = ("error", "skip")
SKIP_HINT = "or pass --bad-rows skip to keep such rows in the output with an empty label and a skip_reason"


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise NlptlError(f"--bad-rows {policy!r}: choose one of {', '.join(POLICIES)}")


def as_text(value: Any) -> tuple[str | None, str | None]:
    """(text, None) for a usable value, (None, reason) otherwise. Non-string scalars are read as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, NULL
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None, UNDECODABLE
    text = value if isinstance(value, str) else str(value)
    if not text.strip():
        return None, EMPTY
    return text, None


def screen(values: list[Any], problems: dict[int, str], first_row: int, policy: str,
           where: str, column: str | None = None) -> tuple[list[str], list[int], list[str | None]]:
    """The usable texts, their positions, and a reason (or None) for every row.

    `problems` are reasons the reader found (invalid bytes or JSON) by position; `first_row` (0-based) turns
    positions into the 1-based row numbers that error messages name.
    """
    texts: list[str] = []
    keep: list[int] = []
    reasons: list[str | None] = []
    for position, value in enumerate(values):
        text, reason = as_text(value)
        reason = problems.get(position, reason)
        if reason is not None and policy == "error":
            raise NlptlError(f"{row_problem(f'{where}: row {first_row + position + 1}', reason, column)}, {SKIP_HINT}")
        reasons.append(reason)
        if reason is None and text is not None:  # no reason: as_text found a text
            texts.append(text)
            keep.append(position)
    return texts, keep, reasons
