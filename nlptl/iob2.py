"""IOB2 tags, the one scheme the data, the model, augmentation, decoding and the metrics share: `O`, `B-TYPE`
opening a mention, `I-TYPE` continuing one. Chunking tags into entity spans is seqeval's, so spans agree with
what the `seqeval_ner` metric counts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, Entities

from nlptl.errors import NlptlError

OUTSIDE = "O"
TAG = re.compile(r"^(O|[BI]-.+)$")


class Span(NamedTuple):
    """One entity mention: words ``[start, end)`` of type ``entity_type`` (e.g. "PER")."""

    start: int
    end: int
    entity_type: str


def split_tag(tag: str) -> tuple[str, str | None]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` or a prefix-less tag -> ``(tag, None)``."""
    prefix, dash, entity_type = tag.partition("-")
    if not dash or not entity_type:
        return tag, None
    return prefix, entity_type


def is_inside(tag: str) -> bool:
    """True for an I- tag, i.e. a word that continues the mention before it (nothing may go between)."""
    return tag.startswith("I-")


def entity_type(tag: str) -> str | None:
    """The type of a B-/I- tag; None for O and tags of no IOB scheme."""
    return tag[2:] if tag[:2] in ("B-", "I-") else None


def inside_partner(tag: str) -> str | None:
    """The tag of the words that continue a mention ``tag`` opens: ``"B-PER"`` -> ``"I-PER"``; None unless B-."""
    prefix, found_type = split_tag(tag)
    return f"I-{found_type}" if prefix == "B" and found_type is not None else None


def mention_tags(entity_type: str, length: int) -> list[str]:
    """IOB2 tags for a mention of ``length`` words: B-TYPE, then I-TYPE for the rest."""
    return [f"B-{entity_type}"] + [f"I-{entity_type}"] * (length - 1)


def label_names(entity_types: Iterable[str]) -> list[str]:
    """`O` first, then `B-X`, `I-X` per entity type in name order: a stable label list for the types seen."""
    return [OUTSIDE] + [f"{prefix}-{name}" for name in sorted(set(entity_types)) for prefix in "BI"]


def complete_names(names: Sequence[str]) -> list[str]:
    """Add the missing partner of each `B-X`/`I-X` (IOB1 label sets may lack `B-X`); existing ids keep."""
    completed = list(names)
    for name in names:
        prefix, found_type = split_tag(name)
        if found_type is not None and prefix in ("B", "I"):
            for partner in (f"B-{found_type}", f"I-{found_type}"):
                if partner not in completed:
                    completed.append(partner)
    return completed


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Rewrite each entity-opening ``I-X`` (first tag, or after a tag not ``B-X``/``I-X``) as ``B-X``; IOB2 input
    comes back unchanged."""
    converted: list[str] = []
    previous_type: str | None = None
    for tag in tags:
        prefix, found_type = split_tag(tag)
        if prefix == "I" and found_type != previous_type:
            tag = f"B-{found_type}"
        converted.append(tag)
        previous_type = found_type if prefix in ("B", "I") else None
    return converted


def validate_iob2(tags: Sequence[str]) -> None:
    """Raise NlptlError unless every tag is O, B-TYPE or I-TYPE continuing a mention of the same TYPE.

    Augmentation moves and deletes O words, which would silently merge or split malformed mentions.
    """
    previous = OUTSIDE
    for index, tag in enumerate(tags):
        if tag != OUTSIDE and (tag[:2] not in ("B-", "I-") or len(tag) == 2):
            raise NlptlError(f"Tag {tag!r} at position {index} is not IOB2 (expected O, B-TYPE or I-TYPE).")
        if is_inside(tag) and previous[2:] != tag[2:]:
            raise NlptlError(
                f"Tag {tag!r} at position {index} follows {previous!r}; IOB2 starts every mention with B-. "
                "Convert IOB1/BIOES tags to IOB2 before augmenting."
            )
        previous = tag


def entity_spans(tags: Sequence[str], strict: bool = False) -> list[Span]:
    """The mentions in a tag sequence, in order, chunked by seqeval: leniently by default (a stray ``I-X`` after
    ``O`` still opens a mention, as conlleval does); ``strict=True`` drops ill-formed chunks like the
    metric's ``mode="strict"`` (``seqeval.scheme.IOB2``)."""
    if strict:
        return [Span(entity.start, entity.end, entity.tag) for entity in Entities([list(tags)], IOB2).entities[0]]
    return [Span(start, end + 1, found_type) for found_type, start, end in get_entities(list(tags))]
