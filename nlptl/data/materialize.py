"""A run's labelled rows written out as files, and the recipe that trains on them: methods that change the
training rows (self-training's pseudo-labels, importance weights) hand an ordinary, rerunnable run its data this
way, so each step can be inspected and rerun from its own `recipe.yaml`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from nlptl.io import atomic_path
from nlptl.recipe import Recipe

LABEL = "label"  # the label column (class names) of the written files


def write_parquet(columns: dict[str, list], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        pq.write_table(pa.table(columns), temporary)


def write_labelled_splits(folder: Path, splits: datasets.DatasetDict, text_column: str, label_names: list[str],
                          extra_train: dict[str, list] | None = None,
                          train_columns: dict[str, list] | None = None) -> Path:
    """{split}.parquet with the text and the class name of every row (labels as `labelled_splits` encodes them).
    `extra_train`: more train rows ({text_column: [...], LABEL: [...]}); `train_columns`: more train columns, one
    value per row (labelled rows first, then the extra ones); the other splits get them too, each value 1.0 (the
    reader wants one set of columns in every split file)."""
    for split, ds in splits.items():
        rows = {text_column: list(ds[text_column]), LABEL: [label_names[i] for i in ds["labels"]]}
        if split == "train":
            for column, values in (extra_train or {}).items():
                rows[column] += values
            rows.update(train_columns or {})
        else:
            rows.update({column: [1.0] * len(ds) for column in train_columns or {}})
        write_parquet(rows, folder / f"{split}.parquet")
    return folder


def recipe_on_files(recipe: Recipe, data_dir: Path, label_names: list[str], output_dir: Path,
                    **data_changes) -> Recipe:
    """The recipe reading `write_labelled_splits`' files (already sampled and carved): a plain run."""
    data = dataclasses.replace(
        recipe.data, source=str(data_dir), config_name=None, column_names=None, label_column=LABEL,
        label_names=label_names, train_split="train", validation_split="validation", test_split="test",
        validation_size=0, max_train_samples=None, max_eval_samples=None, **data_changes)
    return dataclasses.replace(recipe, data=data, output_dir=str(output_dir))
