"""One split of texts that is not the training data: the unlabelled pool of semi-supervised methods and the target
domain of domain adaptation. Both name a split of a source (or a file), a text column and a seeded sample size;
one loader checks them, so their error lines name the recipe field the user set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datasets

from nlptl.data.files.formats import SUFFIXES
from nlptl.data.files.load import load_raw_splits
from nlptl.errors import NlptlError


@dataclass(frozen=True)
class TextSplit:
    """Where the texts are, and the recipe fields that said so (for the error lines)."""

    field: str  # the recipe field naming the split, e.g. "data.unlabelled_split"
    split: str  # a split of `source`, or a file (or any path the reader takes)
    source: str
    column: str
    limit: int | None  # a seeded sample of this many texts; None: all
    seed: int
    config_name: str | None = None
    column_names: list[str] | None = None  # header names for a headerless source (data.column_names)
    column_field: str | None = None  # the recipe field that sets the column, suggested when it is missing


def is_file(name: str) -> bool:
    return Path(name).suffix in SUFFIXES or Path(name).is_file()


def load_text_split(spec: TextSplit, mirrors: dict[str, str], cache_dir: str | None) -> datasets.Dataset:
    """The split's rows (all columns), checked to hold the text column and at least one row, sampled to `limit`."""
    where = f"{spec.field} {spec.split!r}"
    if is_file(spec.split):
        raw = load_raw_splits(spec.split, None, mirrors, cache_dir, text_columns=[spec.column])
        rows, origin = next(iter(raw.values())), spec.split
    else:
        raw = load_raw_splits(spec.source, spec.config_name, mirrors, cache_dir, spec.column_names, [spec.column])
        if spec.split not in raw:
            raise NlptlError(f"{where}: {spec.source} has no such split (it has: {', '.join(raw)}) and no file has "
                             "that name")
        rows, origin = raw[spec.split], spec.source
    if spec.column not in rows.column_names:
        hint = f"; set {spec.column_field}" if spec.column_field else ""
        raise NlptlError(f"{where} of {origin} has no text column {spec.column!r} (columns: "
                         f"{', '.join(rows.column_names)}){hint}")
    if len(rows) == 0:
        raise NlptlError(f"{where} of {origin} has no texts; point it at a split or file with some")
    if spec.limit is not None and spec.limit < len(rows):
        rows = rows.shuffle(seed=spec.seed).select(range(spec.limit)).flatten_indices()
    return rows


def texts_of(rows: datasets.Dataset, column: str) -> list[str]:
    """The column as strings (a missing text is an empty one)."""
    return [text or "" for text in rows[column]]
