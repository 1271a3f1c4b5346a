"""The unlabelled texts of a semi-supervised recipe (`data.unlabelled_split`): a split of data.source or a file,
a seeded sample of `semi.max_unlabelled`, with the split's own labels (if any) kept aside as class names, to
measure against, never to train on."""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from nlptl.data.files.formats import SUFFIXES
from nlptl.data.files.load import load_raw_splits
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe

GOLD = "gold_label"  # the pool's own label where the unlabelled split has one: measured against, never trained on


def is_file(name: str) -> bool:
    return Path(name).suffix in SUFFIXES or Path(name).is_file()


def load_pool(recipe: Recipe, label_names: list[str]) -> datasets.Dataset:
    """The unlabelled texts (a seeded sample of semi.max_unlabelled), with any gold label as a class name."""
    data, where = recipe.data, str(recipe.data.unlabelled_split)
    if is_file(where):
        raw = load_raw_splits(where, None, recipe.mirrors, data.cache_dir, text_columns=[data.text_column])
        pool = next(iter(raw.values()))
    else:
        raw = load_raw_splits(data.source, data.config_name, recipe.mirrors, data.cache_dir, data.column_names,
                              [data.text_column])
        if where not in raw:
            raise NlptlError(f"data.unlabelled_split {where!r}: {data.source} has no such split (it has: "
                             f"{', '.join(raw)}) and no file has that name")
        pool = raw[where]
    if data.text_column not in pool.column_names:
        raise NlptlError(f"data.unlabelled_split {where!r} has no text column {data.text_column!r} (columns: "
                         f"{', '.join(pool.column_names)})")
    if len(pool) == 0:
        raise NlptlError(f"data.unlabelled_split {where!r} has no texts; point it at a split or file with some")
    limit = recipe.semi.max_unlabelled
    if limit is not None and limit < len(pool):
        pool = pool.shuffle(seed=recipe.seed).select(range(limit)).flatten_indices()
    texts = [text or "" for text in pool[data.text_column]]
    labels = pool[data.label_column] if data.label_column in pool.column_names else [None] * len(texts)
    gold = gold_labels(labels, label_names)
    return datasets.Dataset.from_dict({data.text_column: texts, GOLD: gold})


def gold_labels(values: list, label_names: list[str]) -> list[str | None]:
    """Class names of a pool's own labels: ids (in the model's order) or names; anything else (IMDb unsup's -1,
    a file's missing label column) counts as no label."""
    names = set(label_names)
    result: list[str | None] = []
    for value in values:
        if isinstance(value, int | np.integer) and 0 <= int(value) < len(label_names):
            result.append(label_names[int(value)])
        else:
            result.append(str(value) if value is not None and str(value) in names else None)
    return result
