"""Starting without a recipe: `nlptl train --data my.csv --text-column review --label-column stars` builds the
recipe from the data (the task kind from the text column's type, label names from train), and `nlptl init` writes
a commented recipe file to edit. Either way the run saves its full recipe.yaml like any other.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import datasets

from nlptl.errors import NlptlError
from nlptl.fields import fields_of
from nlptl.overrides import ROLE_FIELDS, apply_values
from nlptl.recipe import Recipe

NEEDS_DATA = ("nlptl train needs a recipe or your data: nlptl train RECIPE [--FIELD VALUE ...], or nlptl train "
              "--data FILE --text-column COLUMN --label-column COLUMN (nlptl init writes a recipe to edit)")
TOKEN_TASK = "token_classification"


def run_name(source: str) -> str:
    """`data/reviews.csv` -> `reviews`; `org/name` (Hub) -> `name`: the run's name and output dir runs/<name>."""
    stem = Path(source.rstrip("/")).name.split(".")[0]
    return re.sub(r"[^\w.-]+", "_", stem) or "run"


def is_list(feature: Any) -> bool:
    return isinstance(feature, datasets.Sequence | datasets.List | datasets.LargeList)


def train_columns(recipe: Recipe) -> dict[str, Any]:
    """{column: feature} of the train split, read (and cached) the way the run will read it."""
    from nlptl.data.files.load import load_raw_splits  # a path that does not exist is its one-line error

    cfg = recipe.data
    were_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # a look at the columns; the run itself shows the loading
    try:
        splits = load_raw_splits(cfg.source, cfg.config_name, recipe.mirrors, cfg.cache_dir, cfg.column_names)
    finally:
        if not were_disabled:
            datasets.enable_progress_bars()
    if cfg.train_split not in splits:
        raise NlptlError(f"{cfg.source}: no split {cfg.train_split!r} (it has: {', '.join(splits)}); "
                         "pass --data.train_split NAME")
    return dict(splits[cfg.train_split].features)


def infer_task(columns: dict[str, Any], text_column: str | None, source: str) -> str:
    """A words column (a list per row) means token classification; a text column, sequence classification."""
    if text_column is not None:
        if text_column not in columns:
            raise missing_column(source, text_column, "--text-column", columns)
        return TOKEN_TASK if is_list(columns[text_column]) else "sequence_classification"
    if "text" in columns and not is_list(columns["text"]):
        return "sequence_classification"
    if "tokens" in columns and is_list(columns["tokens"]):
        return TOKEN_TASK
    raise missing_column(source, "text", "--text-column", columns)


def missing_column(source: str, column: str, flag: str, columns: dict[str, Any]) -> NlptlError:
    return NlptlError(f"{source} has no column {column!r} (its columns: {', '.join(columns)}): "
                      f"pass {flag} COLUMN")


def recipe_from_data(values: dict[str, Any]) -> Recipe:
    """The recipe of `nlptl train --data FILE [...]`: the defaults, the given fields, and the task kind from the
    data unless --task says it; every column the task reads is checked to exist before anything runs."""
    roles = {name: values[name] for name in ROLE_FIELDS if name in values}
    recipe = apply_values(Recipe(), {k: v for k, v in values.items() if k not in roles})  # checks every value
    if "data.source" not in values:
        raise NlptlError(NEEDS_DATA)
    source = recipe.data.source
    recipe.name = recipe.name if "name" in values else run_name(source)
    columns = train_columns(recipe)
    if "task" not in values:
        recipe.task = infer_task(columns, roles.get("data.text_column"), source)
    recipe = apply_values(recipe, roles)
    checks = [("data.text_column", "--text-column"), ("data.label_column", "--label-column")]
    if recipe.task == TOKEN_TASK:
        checks = [(ROLE_FIELDS[name], flag) for name, flag in checks]
    elif recipe.task == "masked_lm":
        checks = checks[:1]
    if recipe.data.text_pair_column:
        checks.append(("data.text_pair_column", "--data.text_pair_column"))
    fields = fields_of(recipe)
    for name, flag in checks:
        if fields[name].value not in columns:
            raise missing_column(source, fields[name].value, flag, columns)
    return recipe


# What `nlptl init KIND` writes: the task, a placeholder data source, and the fields most runs change.
TEMPLATES: dict[str, dict[str, Any]] = {
    "text_classification": {
        "file": "my_classifier.py", "name": "my_classifier", "task": "sequence_classification",
        "title": "Text classification", "source": "my_data.csv",
        "source_hint": "one .csv/.tsv/.jsonl/.parquet file (validation carved from it), or a directory with one "
                       "file per split (train.csv, validation.csv, test.csv), or a Hub data set id",
        "fields": {"model": ["name"],
                   "data": ["source", "text_column", "text_pair_column", "label_column", "label_names", "max_length",
                            "truncation", "max_train_samples"],
                   "train": ["epochs", "batch_size", "lr", "eval_every", "early_stopping_patience"],
                   "strategy": ["name"]},
    },
    "ner": {
        "file": "my_ner.py", "name": "my_ner", "task": TOKEN_TASK, "title": "Named entity recognition",
        "source": "my_ner_data",
        "source_hint": "a directory with one file per split: .parquet/.jsonl with a list of words and a list of tags "
                       "per row, or CoNLL text files (train.conll: one word and its tag per line); or a Hub id",
        "fields": {"model": ["name"],
                   "data": ["source", "tokens_column", "tags_column", "label_names", "max_length",
                            "label_all_subtokens", "ner_decoding"],
                   "train": ["epochs", "batch_size", "lr", "eval_every", "early_stopping_patience"],
                   "strategy": ["name"]},
    },
}
CLASSES = {"model": "ModelConfig", "data": "DataConfig", "train": "TrainConfig", "strategy": "StrategyConfig"}
DOC = '''"""{title} recipe, from `nlptl init {kind}`. Set data.source and the columns, then run it:

    nlptl train {file}
    nlptl train {file} --train.lr 1e-4      (any field, for one run)
    nlptl train {file} --help               (every field, its default and what it does)

{source_hint}
"""
'''


def recipe_template(kind: str, file: str | None = None) -> str:
    """A recipe file for `kind`, each value commented with its field's help (the same text as --help)."""
    if kind not in TEMPLATES:
        raise NlptlError(f"nlptl init: unknown kind {kind!r}; choose one of {', '.join(TEMPLATES)}")
    spec = TEMPLATES[kind]
    recipe = Recipe(name=spec["name"], task=spec["task"])
    recipe.data.source = spec["source"]
    fields = fields_of(recipe)
    body = [DOC.format(kind=kind, title=spec["title"], file=Path(file or spec["file"]).name,
                       source_hint=textwrap.fill(f"data.source: {spec['source_hint']}.", width=110)),
            f"from nlptl import {', '.join(sorted([*(CLASSES[s] for s in spec['fields']), 'Recipe', 'main']))}", "",
            "recipe = Recipe("]
    for name in ("name", "task"):
        body.append(f"    {name}={literal(fields[name].value)},  # {fields[name].help}")
    for section, names in spec["fields"].items():
        body.append(f"    {section}={CLASSES[section]}(")
        for name in names:
            info = fields[f"{section}.{name}"]
            body.append(f"        {name}={literal(info.value)},  # {info.help}")
        body.append("    ),")
    body += [")", "", 'if __name__ == "__main__":', "    main(recipe)", ""]
    return "\n".join(body)


def literal(value: Any) -> str:
    """Python source for a field value, strings in double quotes as in the shipped recipes."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def write_template(kind: str, file: str | None) -> Path:
    """Write `nlptl init`'s recipe; an existing file is never replaced."""
    text = recipe_template(kind, file)
    path = Path(file or TEMPLATES[kind]["file"])
    if path.suffix != ".py":
        raise NlptlError(f"nlptl init: {path} should end in .py (a recipe file `nlptl train` runs)")
    try:
        with path.open("x") as out:
            out.write(text)
    except FileExistsError:
        raise NlptlError(f"nlptl init: {path} already exists; give another file name "
                         f"(nlptl init {kind} OTHER.py)") from None
    except OSError as err:
        raise NlptlError(f"nlptl init: cannot write {path}: {err.strerror}") from None
    return path
