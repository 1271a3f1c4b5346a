"""The unlabelled texts of a semi-supervised recipe (`data.unlabelled_split`): a split of data.source or a file,
a seeded sample of `semi.max_unlabelled`, with the split's own labels (if any) kept aside as class names, to
measure against, never to train on."""

from __future__ import annotations

import datasets
import numpy as np

from nlptl.data.text_split import TextSplit, load_text_split, texts_of
from nlptl.recipe import Recipe

GOLD = "gold_label"  # the pool's own label where the unlabelled split has one: measured against, never trained on


def load_pool(recipe: Recipe, label_names: list[str]) -> datasets.Dataset:
    """The unlabelled texts (a seeded sample of semi.max_unlabelled), with any gold label as a class name."""
    data = recipe.data
    spec = TextSplit(field="data.unlabelled_split", split=str(data.unlabelled_split), source=data.source,
                     column=data.text_column, limit=recipe.semi.max_unlabelled, seed=recipe.seed,
                     config_name=data.config_name, column_names=data.column_names)
    pool = load_text_split(spec, recipe.mirrors, data.cache_dir)
    texts = texts_of(pool, data.text_column)
    labels = pool[data.label_column] if data.label_column in pool.column_names else [None] * len(texts)
    return datasets.Dataset.from_dict({data.text_column: texts, GOLD: gold_labels(labels, label_names)})


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
