"""Which file and row a loaded example came from, so a problem found later (an empty label) names them.

`load` records the files of each split it loads; a split's datasets object is looked up by identity (weakly),
so the splits a later stage builds (shuffled, filtered) simply have no recorded origin and are named by split.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets


@dataclass
class Origin:
    files: list[Path]
    count_rows: Callable[[Path], int]  # rows of one file, read the way the split was (only asked on errors)


_origins: weakref.WeakKeyDictionary[datasets.Dataset, Origin] = weakref.WeakKeyDictionary()


def remember(ds: datasets.Dataset, origin: Origin) -> None:
    _origins[ds] = origin


def where(ds: datasets.Dataset, index: int, split: str) -> str:
    """`FILE: row N` (N counts data rows from 1) for a split read from files, else `split 'S', row N`."""
    origin = _origins.get(ds)
    if origin is None:
        return f"split {split!r}, row {index + 1}"
    if len(origin.files) == 1:
        return f"{origin.files[0]}: row {index + 1}"
    for path in origin.files:
        rows = origin.count_rows(path)
        if index < rows:
            return f"{path}: row {index + 1}"
        index -= rows
    return f"split {split!r}, row {index + 1}"


def files_of(ds: datasets.Dataset, split: str) -> str:
    """The file(s) a split was read from, or `split 'S'`."""
    origin = _origins.get(ds)
    return ", ".join(map(str, origin.files)) if origin else f"split {split!r}"
