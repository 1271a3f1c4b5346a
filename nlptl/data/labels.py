"""Class labels for sequence classification: names from the data or the recipe, values encoded as ids.

Unlabelled rows (-1 or empty, as in GLUE test splits and IMDb `unsup`) are recognised so that a split
without labels is skipped for evaluation instead of failing.
"""

from __future__ import annotations

import re

import datasets

from nlptl.data.files.origin import files_of, where
from nlptl.errors import NlptlError

UNLABELLED = (-1, None, "")
WHOLE_NUMBER = re.compile(r"[+-]?\d+")


def is_empty(value: object) -> bool:
    return value in UNLABELLED or (isinstance(value, str) and not value.strip())


def check_label_values(ds: datasets.Dataset, column: str, split: str) -> None:
    """No empty label, and one kind of label: class names or class ids, not both (a typo, or a shifted column)."""
    values = ds.select_columns([column])[:][column]  # decoded in one batch: a datasets Column is slow per item
    empty = next((i for i, value in enumerate(values) if is_empty(value)), None)
    if empty is not None:
        raise NlptlError(f"{where(ds, empty, split)}: empty label in column {column!r}"
                         f"{f' ({values[empty]!r})' if values[empty] not in (None, '') else ''}; "
                         "fill it in or remove the row")
    number = next((i for i, v in enumerate(values) if isinstance(v, int) or (isinstance(v, str)
                                                                             and WHOLE_NUMBER.fullmatch(v))), None)
    name = next((i for i, v in enumerate(values) if isinstance(v, str) and not WHOLE_NUMBER.fullmatch(v)), None)
    if number is not None and name is not None:
        first, second = sorted((number, name))
        raise NlptlError(f"{files_of(ds, split)}: column {column!r} mixes class ids and class names "
                         f"(row {first + 1}: {values[first]!r}, row {second + 1}: {values[second]!r}); "
                         "write every label the same way: all names, or all ids with data.label_names")


def is_unlabelled(ds: datasets.Dataset, column: str) -> bool:
    """True when no row of the split carries a label (a list column, multi-label: when every row is null)."""
    if isinstance(ds.features[column], datasets.List | datasets.LargeList):
        return all(value is None for value in ds.select_columns([column])[:][column])
    return all(value in UNLABELLED for value in ds.unique(column))


def label_names_for(train: datasets.Dataset, column: str, recipe_names: list[str] | None) -> list[str]:
    """The class names: the ClassLabel feature's, else the recipe's, else the sorted values seen in train."""
    if column not in train.column_names:
        raise NlptlError(
            f"{files_of(train, 'train')}: label column {column!r} not in the data (columns: "
            f"{', '.join(train.column_names)}); set data.label_column"
        )
    feature = train.features[column]
    if isinstance(feature, datasets.ClassLabel):
        if recipe_names and list(recipe_names) != list(feature.names):
            raise NlptlError(
                f"data.label_names {recipe_names} differ from the data's ClassLabel names {feature.names}; "
                "remove data.label_names or make them equal"
            )
        return list(feature.names)
    if recipe_names:
        return [str(name) for name in recipe_names]
    values = [v for v in train.unique(column) if v not in UNLABELLED]
    if not values:
        raise NlptlError(f"the train split has no labels in column {column!r}")
    return [str(v) for v in sorted(values)]


def value_to_id(feature: datasets.Features, names: list[str], recipe_names: list[str] | None,
                seen_values: list) -> dict:
    """How each raw label value maps to a class id."""
    if isinstance(feature, datasets.ClassLabel):
        return {i: i for i in range(len(names))}
    numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in seen_values if v not in UNLABELLED)
    if numeric and recipe_names:  # ints are ids into the recipe's names
        return {i: i for i in range(len(names))}
    if numeric:
        return {int(name): i for i, name in enumerate(names)}
    return {name: i for i, name in enumerate(names)}


def encode_labels(splits: datasets.DatasetDict, column: str, recipe_names: list[str] | None,
                  num_proc: int | None = None) -> tuple[datasets.DatasetDict, list[str]]:
    """Replace the label column by a ClassLabel column `labels`; unknown values are a clear error."""
    for split, ds in splits.items():
        if column not in ds.column_names:
            raise NlptlError(f"{files_of(ds, split)}: label column {column!r} not in the {split} split (columns: "
                             f"{', '.join(ds.column_names)}); set data.label_column")
        if not isinstance(ds.features[column], datasets.ClassLabel):
            check_label_values(ds, column, split)
    names = label_names_for(splits["train"], column, recipe_names)
    encoded = {}
    for split, ds in splits.items():
        mapping = value_to_id(ds.features[column], names, recipe_names, ds.unique(column))
        unknown = [v for v in ds.unique(column) if v not in mapping and v not in UNLABELLED]
        if unknown or (split == "train" and any(v in UNLABELLED for v in ds.unique(column))):
            bad = unknown[0] if unknown else next(v for v in ds.unique(column) if v in UNLABELLED)
            row = list(ds[column]).index(bad)
            raise NlptlError(
                f"{where(ds, row, split)}: label {bad!r} is not one of {names}; "
                "fix the data or list every class in data.label_names"
            )

        def to_ids(batch: dict, mapping: dict = mapping) -> dict:
            return {"labels": [mapping.get(v, -1) for v in batch[column]]}

        ds = ds.map(to_ids, batched=True, remove_columns=[column], num_proc=num_proc,
                    desc=f"encoding {split} labels")
        encoded[split] = ds.cast_column("labels", datasets.ClassLabel(names=names))
    return datasets.DatasetDict(encoded), names
