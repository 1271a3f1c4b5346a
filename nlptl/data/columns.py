"""Rows <-> columns: collators receive lists of row dicts; `Dataset.map` functions take and return columns."""

from __future__ import annotations

from typing import Any


def to_columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    """{column: [value per row]} for rows that share their keys."""
    return {key: [row[key] for row in rows] for key in rows[0]} if rows else {}


def to_rows(columns: dict[str, list]) -> list[dict[str, Any]]:
    """[{column: value}] per row; every column must be as long as the others."""
    keys = list(columns)
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)]
