"""IOB2 tag helpers: find entity spans, check a tag sequence, and build the tags of a new mention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from nlptl.errors import NlptlError

OUTSIDE = "O"


class Span(NamedTuple):
    """One entity mention: tokens ``[start, end)`` of type ``entity_type`` (e.g. "PER")."""

    start: int
    end: int
    entity_type: str


def is_inside(tag: str) -> bool:
    """True for an I- tag, i.e. a token that continues the mention before it (nothing may go between)."""
    return tag.startswith("I-")


def validate_iob2(tags: Sequence[str]) -> None:
    """Raise NlptlError unless every tag is O, B-TYPE or I-TYPE continuing a mention of the same TYPE.

    Augmentation moves and deletes O tokens, which would silently merge or split malformed mentions.
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


def entity_spans(tags: Sequence[str]) -> list[Span]:
    """The mentions in an IOB2 tag sequence, in order."""
    spans: list[Span] = []
    start = None
    for index, tag in enumerate([*tags, OUTSIDE]):
        if start is not None and not is_inside(tag):
            spans.append(Span(start, index, tags[start][2:]))
            start = None
        if tag.startswith("B-"):
            start = index
    return spans


def mention_tags(entity_type: str, length: int) -> list[str]:
    """IOB2 tags for a mention of ``length`` tokens: B-TYPE, then I-TYPE for the rest."""
    return [f"B-{entity_type}"] + [f"I-{entity_type}"] * (length - 1)
