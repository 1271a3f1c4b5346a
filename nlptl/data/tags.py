"""Per-word tags for token classification: tag names from the data or the recipe, tags encoded as ids (IOB2).

Tags may arrive as ids with names (a `Sequence(ClassLabel)` feature, as on the Hub, or `data.label_names`) or
as strings (JSON files, CoNLL text). IOB1 input - an entity opened by `I-X` - is rewritten to IOB2, so the
model, the metrics and the decoder all see one scheme. A tag that is not in the label list stops the run
with its split, row, word and (for CoNLL files) file:line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import datasets

from nlptl import iob2
from nlptl.data.conll import conll_location
from nlptl.errors import NlptlError

logger = logging.getLogger(__name__)
LABELS_COLUMN = "labels"
_CONVERTED = "__iob1_converted"


def tag_feature(features: datasets.Features, column: str, split: str) -> Any:
    """The per-word feature of a list-valued tags column (ClassLabel, Value('string'), Value('int64')...)."""
    feature = features[column]
    if isinstance(feature, list | tuple) and len(feature) == 1:
        return feature[0]
    inner = getattr(feature, "feature", None)
    if inner is None:
        raise NlptlError(
            f"split {split!r}: column {column!r} holds {feature}, not one tag per word; "
            "set data.tags_column to the column with a list of tags per sentence"
        )
    return inner


def _is_int_feature(feature: Any) -> bool:
    return isinstance(feature, datasets.Value) and feature.dtype.startswith(("int", "uint"))


def complete_iob2_names(names: Sequence[str]) -> list[str]:
    """Add the missing partner of each `B-X`/`I-X` (IOB1 label sets may lack `B-X`); existing ids keep."""
    completed = iob2.complete_names(names)
    if len(completed) > len(names):
        logger.info("added tags %s so that every entity type has B- and I- tags", completed[len(names):])
    return completed


def names_from_string_tags(train: datasets.Dataset, column: str) -> list[str]:
    """`O` first, then `B-X`, `I-X` per entity type in name order (the order the Hub's conll2003 does not
    promise, but a stable one)."""
    seen = {tag for tags in train[column] for tag in tags or ()}
    for tag in sorted(seen):
        if not iob2.TAG.match(tag):
            row, word = find_tag(train, column, tag)
            raise NlptlError(
                f"{describe(train, 'train', row, word)}: tag {tag!r} is not O, B-TYPE or I-TYPE; fix the data or "
                "list every tag in data.label_names"
            )
    return iob2.label_names({found for tag in seen if (found := iob2.entity_type(tag))})


def tag_names_for(train: datasets.Dataset, column: str, recipe_names: list[str] | None) -> list[str]:
    """The tag names: the ClassLabel's, else the recipe's, else those seen in train's string tags."""
    if column not in train.column_names:
        raise NlptlError(
            f"tags column {column!r} not in the data (columns: {', '.join(train.column_names)}); set data.tags_column"
        )
    feature = tag_feature(train.features, column, "train")
    if isinstance(feature, datasets.ClassLabel):
        if recipe_names and list(recipe_names) != list(feature.names):
            raise NlptlError(
                f"data.label_names {recipe_names} differ from the data's tag names {feature.names}; "
                "remove data.label_names or make them equal"
            )
        return complete_iob2_names(feature.names)
    if recipe_names:
        return complete_iob2_names([str(name) for name in recipe_names])
    if _is_int_feature(feature):
        raise NlptlError(
            f"column {column!r} holds tag ids but the data has no tag names; list them in id order in "
            "data.label_names (e.g. --data.label_names O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC,B-MISC,I-MISC)"
        )
    return names_from_string_tags(train, column)


def find_tag(ds: datasets.Dataset, column: str, tag: Any) -> tuple[int, int]:
    """Row and word index of the first occurrence of a tag (for error messages)."""
    for row, tags in enumerate(ds[column]):
        if tag in (tags or ()):
            return row, list(tags).index(tag)
    return -1, -1


def describe(ds: datasets.Dataset | dict, split: str, row: int, word: int) -> str:
    """`file:line` for CoNLL rows, else `split 'x', row r, word w`."""
    record = ds[row] if isinstance(ds, datasets.Dataset) else ds
    return conll_location(record, word) or f"split {split!r}, row {row}, word {word}"


def encode_batch(batch: dict[str, list], indices: list[int], split: str, tokens_column: str, tags_column: str,
                 names: list[str], ids_given: bool) -> dict[str, list]:
    """Dataset.map function: tags -> IOB2 tag ids in `labels`, or an error naming the bad tag's place."""
    to_id = {name: i for i, name in enumerate(names)}
    labels, converted = [], []
    for offset, (row, tokens, tags) in enumerate(zip(indices, batch[tokens_column], batch[tags_column],
                                                      strict=True)):
        tags, tokens = list(tags or ()), list(tokens or ())
        if len(tags) != len(tokens):
            raise NlptlError(
                f"split {split!r}, row {row}: {len(tokens)} words but {len(tags)} tags; each word needs one tag"
            )
        for word, tag in enumerate(tags):
            if (ids_given and not (isinstance(tag, int) and 0 <= tag < len(names))) or (
                    not ids_given and tag not in to_id):
                record = {key: values[offset] for key, values in batch.items()}
                known = f"the ids 0-{len(names) - 1} of {names}" if ids_given else names
                raise NlptlError(
                    f"{describe(record, split, row, word)}: tag {tag!r} (word {tokens[word]!r}) is not one of "
                    f"{known}; fix the data or list every tag in data.label_names"
                )
        strings = [names[tag] for tag in tags] if ids_given else tags
        converted_tags = iob2.iob1_to_iob2(strings)
        converted.append(converted_tags != strings)
        labels.append([to_id[tag] for tag in converted_tags])
    return {LABELS_COLUMN: labels, _CONVERTED: converted}


def encode_tags(splits: datasets.DatasetDict, tokens_column: str, tags_column: str,
                recipe_names: list[str] | None, num_proc: int | None = None) -> tuple[datasets.DatasetDict, list[str]]:
    """Replace the tags column by `labels`: a list of IOB2 tag ids per sentence (names on its ClassLabel)."""
    names = tag_names_for(splits["train"], tags_column, recipe_names)
    encoded = {}
    for split, ds in splits.items():
        for column in (tokens_column, tags_column):
            if column not in ds.column_names:
                raise NlptlError(f"split {split!r} has no column {column!r} (columns: {', '.join(ds.column_names)}); "
                                 "set data.tokens_column / data.tags_column")
        feature = tag_feature(ds.features, tags_column, split)
        ids_given = isinstance(feature, datasets.ClassLabel) or _is_int_feature(feature)
        encode = partial(encode_batch, split=split, tokens_column=tokens_column, tags_column=tags_column,
                         names=names, ids_given=ids_given)
        ds = ds.map(encode, batched=True, with_indices=True, remove_columns=[tags_column], num_proc=num_proc,
                    desc=f"encoding {split} tags")
        if converted := sum(ds[_CONVERTED]):
            logger.info("split %r: %d sentences were tagged IOB1; converted to IOB2", split, converted)
        ds = ds.remove_columns(_CONVERTED)
        encoded[split] = ds.cast_column(LABELS_COLUMN, datasets.List(datasets.ClassLabel(names=names)))
    return datasets.DatasetDict(encoded), names
