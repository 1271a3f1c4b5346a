"""Adapters between data-set rows and the augmenters.

The augmenters speak (text, label) and (tokens, IOB2 tag names); a prepared train split holds dict rows with
label ids in `labels`. A task picks the adapter that fits its rows (`Task.augmenter`); the data stage sees only
`RowAugmenter`, so it never needs to know the task kind. Every column an adapter does not augment is copied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from nlptl.augment import Augmenter, AugmentStats, NerAugmenter
from nlptl.errors import NlptlError

LABELS = "labels"  # the label-id column every task's prepare_labels writes


class RowAugmenter(Protocol):
    def augment(self, row: dict[str, Any], stats: AugmentStats, seed: int | str | None = None,
                copies: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(operation, new row) per augmented copy of `row`; `seed` and `copies` override the settings'."""

    def show(self, row: dict[str, Any]) -> dict[str, Any]:
        """The augmented part of a row, readable (label names, not ids), for augmentation_samples.jsonl."""


class TextRows:
    """Classification rows: EDA on the text column; the label id changes only under antonym replacement."""

    def __init__(self, augmenter: Augmenter, text_column: str, label_names: Sequence[str]) -> None:
        self.augmenter, self.text_column, self.label_names = augmenter, text_column, list(label_names)

    def augment(self, row: dict[str, Any], stats: AugmentStats, seed: int | str | None = None,
                copies: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        made = self.augmenter.augment(row[self.text_column] or "", row[LABELS], stats, seed=seed, copies=copies)
        return [(copy.op, {**row, self.text_column: copy.text, LABELS: copy.label}) for copy in made]

    def show(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"text": row[self.text_column], "label": self.label_names[row[LABELS]]}


class TaggedRows:
    """NER rows: words plus tag ids; tags go to the augmenter as IOB2 names and come back as ids."""

    def __init__(self, augmenter: NerAugmenter, tokens_column: str, label_names: Sequence[str]) -> None:
        self.augmenter, self.tokens_column, self.label_names = augmenter, tokens_column, list(label_names)
        self.tag_ids = {name: i for i, name in enumerate(self.label_names)}

    def augment(self, row: dict[str, Any], stats: AugmentStats, seed: int | str | None = None,
                copies: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        tags = [self.label_names[i] for i in row[LABELS]]
        made = self.augmenter.augment(list(row[self.tokens_column] or ()), tags, stats, seed=seed, copies=copies)
        return [(copy.op, {**row, self.tokens_column: copy.tokens, LABELS: [self.tag_ids[t] for t in copy.tags]})
                for copy in made]

    def show(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"tokens": list(row[self.tokens_column]), "tags": [self.label_names[i] for i in row[LABELS]]}


def label_id_map(name_map: Mapping[str, str], label_names: Sequence[str]) -> dict[int, int]:
    """The recipe's antonym label map (label names) as label ids; a name that is not a label is an error."""
    ids = {str(name): i for i, name in enumerate(label_names)}
    name_map = {str(source): str(target) for source, target in name_map.items()}  # YAML may give 0: 1
    unknown = [name for pair in name_map.items() for name in pair if name not in ids]
    if unknown:
        raise NlptlError(f"recipe field augment.antonym_label_map: {', '.join(map(repr, unknown))} is not a label "
                         f"(labels: {', '.join(label_names)})")
    return {ids[source]: ids[target] for source, target in name_map.items()}
