"""Word-level rules shared by every operation: which words may be swapped for another, and how to case it."""

from __future__ import annotations

import re
from collections.abc import Set

#: Letters only, optionally joined by hyphens or apostrophes ("well-known", "o'clock"): numbers,
#: punctuation, URLs and mixed tokens like "10/10" are left alone by replacement operations.
_WORD_PATTERN = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


def is_replaceable(word: str, stop_words: Set[str]) -> bool:
    """True for an alphabetic word that is not a stop word: the only words synonym operations touch."""
    return _WORD_PATTERN.fullmatch(word) is not None and word.lower() not in stop_words


def match_case(template: str, replacement: str) -> str:
    """Give ``replacement`` the casing of ``template``: GOOD -> GREAT, Good -> Great, good -> great.

    A lowercase template leaves the replacement as WordNet spells it, so proper nouns keep capitals.
    """
    if len(template) > 1 and template.isupper():
        return replacement.upper()
    if template[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
