"""Targets of the multi-label and regression task kinds, read from the data with errors that name the row.

Multi-label rows give their labels as a list of names, as one text with the names separated by
`data.label_delimiter`, or as several 0/1 columns (`data.label_columns`, named by the columns); they become a
multi-hot float `labels` column. Regression rows give one number (`data.label_column`) or several
(`data.label_columns`); they become a float `labels` column (a list of floats for several targets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import datasets

from nlptl.data.files.origin import files_of, where
from nlptl.errors import NlptlError

LABELS = "labels"


def column_values(ds: datasets.Dataset, column: str, split: str, field: str) -> list:
    if column not in ds.column_names:
        raise NlptlError(f"{files_of(ds, split)}: label column {column!r} ({field}) not in the {split} split "
                         f"(columns: {', '.join(ds.column_names)}); name an existing column")
    return ds.select_columns([column])[:][column]


def label_set(value: Any, delimiter: str, ds: datasets.Dataset, row: int, split: str, column: str) -> list[str]:
    """The label names of one multi-label row (none is allowed: a row may have no label)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [name.strip() for name in value.split(delimiter) if name.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return [str(v).strip() for v in value]
    raise NlptlError(f"{where(ds, row, split)}: label {value!r} in column {column!r} is not a list of label names; "
                     "multi_label_classification expects a list of names, a text like 'a,b' (data.label_delimiter) "
                     "or one 0/1 column per label (data.label_columns)")


def binary(value: Any, ds: datasets.Dataset, row: int, split: str, column: str) -> float:
    if isinstance(value, bool) or value in (0, 1) or (isinstance(value, str) and value.strip() in ("0", "1")):
        return float(int(value))
    raise NlptlError(f"{where(ds, row, split)}: column {column!r} holds {value!r}; the label columns of "
                     "multi_label_classification (data.label_columns) hold 0 or 1")


def multi_hot(ds: datasets.Dataset, split: str, label_column: str, label_columns: list[str] | None,
              delimiter: str, names: list[str] | None) -> tuple[list[list[float]], list[str]]:
    """Each row's labels as a 0/1 vector over `names` (None: learn the sorted names seen in this split)."""
    if label_columns:
        columns = [column_values(ds, c, split, "data.label_columns") for c in label_columns]
        rows = [[binary(v, ds, row, split, c) for c, v in zip(label_columns, values, strict=True)]
                for row, values in enumerate(zip(*columns, strict=True))]
        return rows, list(label_columns)
    sets = [label_set(v, delimiter, ds, row, split, label_column)
            for row, v in enumerate(column_values(ds, label_column, split, "data.label_column"))]
    if names is None:
        names = sorted({name for labels in sets for name in labels})
        if not names:
            raise NlptlError(f"{files_of(ds, split)}: no row of column {label_column!r} names a label")
    index = {name: i for i, name in enumerate(names)}
    rows = []
    for row, labels in enumerate(sets):
        unknown = [name for name in labels if name not in index]
        if unknown:
            raise NlptlError(f"{where(ds, row, split)}: label {unknown[0]!r} is not one of {names}; fix the data or "
                             "list every label in data.label_names")
        vector = [0.0] * len(names)
        for name in labels:
            vector[index[name]] = 1.0
        rows.append(vector)
    return rows, names


def number(value: Any, ds: datasets.Dataset, row: int, split: str, column: str, several: bool) -> float:
    result = None
    if not isinstance(value, bool) and isinstance(value, int | float | str):
        try:
            result = float(value)
        except ValueError:
            result = None
    if result is None or not math.isfinite(result):
        hint = ("" if several else "; several targets per row go in several columns (data.label_columns)")
        raise NlptlError(f"{where(ds, row, split)}: target {value!r} in column {column!r} is not a number; "
                         f"regression expects one finite number per target column{hint}")
    return result


def regression_targets(ds: datasets.Dataset, split: str, label_column: str,
                       label_columns: list[str] | None) -> tuple[list[list[float]], list[str]]:
    """Each row's targets (one per target column) and the target names."""
    names = list(label_columns or [label_column])
    columns = [column_values(ds, c, split, "data.label_columns" if label_columns else "data.label_column")
               for c in names]
    several = len(names) > 1
    rows = [[number(v, ds, row, split, c, several) for c, v in zip(names, values, strict=True)]
            for row, values in enumerate(zip(*columns, strict=True))]
    return rows, names


def replace_labels(ds: datasets.Dataset, targets: Sequence[Any], columns: list[str]) -> datasets.Dataset:
    """`ds` with the target columns replaced by a `labels` column."""
    kept = ds.remove_columns([c for c in columns if c in ds.column_names and c != LABELS])
    if LABELS in kept.column_names:
        kept = kept.remove_columns([LABELS])
    return kept.add_column(LABELS, list(targets))
