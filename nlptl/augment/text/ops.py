"""The EDA operations (Wei & Zou 2019) on a sentence of tagged tokens.

Every operation works on ``Token(text, tag)`` lists so the same code serves text classification
(every tag "O") and NER (entity tokens carry B-/I- tags). Only "O" tokens are ever replaced,
deleted or swapped, and insertions never land inside a mention, so entity tokens, their order and
their tags survive unchanged and tokens and tags can never drift out of alignment.

Operations take the caller's ``random.Random`` so a seed reproduces the exact same copies.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence, Set
from typing import NamedTuple, Protocol

from nlptl.augment.text.pos import wordnet_pos
from nlptl.augment.text.words import is_replaceable, match_case
from nlptl.iob2 import OUTSIDE, is_inside

SYNONYM_REPLACEMENT = "synonym_replacement"
RANDOM_INSERTION = "random_insertion"
RANDOM_SWAP = "random_swap"
RANDOM_DELETION = "random_deletion"
ANTONYM_REPLACEMENT = "antonym_replacement"
CONTEXTUAL_SUBSTITUTION = "contextual_substitution"
MENTION_REPLACEMENT = "mention_replacement"
#: The four label-preserving operations of the EDA paper, the default set.
EDA_OPS = (SYNONYM_REPLACEMENT, RANDOM_INSERTION, RANDOM_SWAP, RANDOM_DELETION)
#: Operations that look words up in a lexicon (WordNet), so it must be loaded before they run.
LEXICON_OPS = frozenset({SYNONYM_REPLACEMENT, RANDOM_INSERTION, ANTONYM_REPLACEMENT})
#: EDA gives up on random insertion after this many words without synonyms.
MAX_INSERTION_ATTEMPTS = 10


class Token(NamedTuple):
    """One word and its IOB2 tag; "O" (outside any entity) for plain text classification."""

    text: str
    tag: str = OUTSIDE


class Lexicon(Protocol):
    """Where synonyms and antonyms come from (``WordNetLexicon`` in practice; anything with these two)."""

    def synonyms(self, word: str, pos: str | None = None) -> list[str]: ...

    def antonyms(self, word: str, pos: str | None = None) -> list[str]: ...


def changes_for(alpha: float, length: int) -> int:
    """How many words an operation changes: EDA's ``n = max(1, int(alpha * len(words)))``."""
    return max(1, int(alpha * length))


def replaceable_positions(tokens: Sequence[Token], stop_words: Set[str]) -> list[int]:
    """Positions of O-tagged, alphabetic, non-stop-word tokens: the only ones lexical operations touch."""
    return [
        i for i, token in enumerate(tokens) if token.tag == OUTSIDE and is_replaceable(token.text, stop_words)
    ]


def outside_positions(tokens: Sequence[Token]) -> list[int]:
    """Positions of O-tagged tokens: the only ones that may be swapped or deleted."""
    return [i for i, token in enumerate(tokens) if token.tag == OUTSIDE]


def insertion_points(tokens: Sequence[Token]) -> list[int]:
    """Indices a new token may be inserted before without splitting a mention (never before an I- tag)."""
    return [i for i in range(len(tokens) + 1) if i == len(tokens) or not is_inside(tokens[i].tag)]


def synonym_replacement(
    tokens: Sequence[Token],
    n: int,
    rng: random.Random,
    lexicon: Lexicon,
    stop_words: Set[str],
    pos_tags: Sequence[str] | None = None,
) -> list[Token]:
    """Replace up to ``n`` random non-stop words by a random WordNet synonym, keeping their case.

    With ``pos_tags`` (Penn tags of ``tokens``) only synonyms of the tagged part of speech are used.
    A multi-word synonym becomes several O tokens.
    """
    candidates = replaceable_positions(tokens, stop_words)
    rng.shuffle(candidates)
    replacements: dict[int, list[Token]] = {}
    for position in candidates:
        if len(replacements) >= n:
            break
        options = _lookup(lexicon.synonyms, tokens, position, pos_tags)
        if options:
            replacements[position] = _phrase_tokens(match_case(tokens[position].text, rng.choice(options)))
    return _splice(tokens, replacements)


def antonym_replacement(
    tokens: Sequence[Token],
    rng: random.Random,
    lexicon: Lexicon,
    stop_words: Set[str],
    pos_tags: Sequence[str] | None = None,
) -> list[Token]:
    """Replace ONE random word that has a WordNet antonym by that antonym ("good" -> "bad").

    Exactly one, whatever alpha says: a second antonym could cancel the first, and the caller flips
    the label on the assumption that the meaning was inverted once. Unchanged when no word has one.
    """
    candidates = replaceable_positions(tokens, stop_words)
    rng.shuffle(candidates)
    for position in candidates:
        options = _lookup(lexicon.antonyms, tokens, position, pos_tags)
        if options:
            antonym = _phrase_tokens(match_case(tokens[position].text, rng.choice(options)))
            return _splice(tokens, {position: antonym})
    return list(tokens)


def random_insertion(
    tokens: Sequence[Token],
    n: int,
    rng: random.Random,
    lexicon: Lexicon,
    stop_words: Set[str],
    pos_tags: Sequence[str] | None = None,
) -> list[Token]:
    """Insert, ``n`` times, a synonym of a random non-stop word at a random position outside any mention."""
    sources = replaceable_positions(tokens, stop_words)
    result = list(tokens)
    for _ in range(n):
        for _attempt in range(MAX_INSERTION_ATTEMPTS if sources else 0):
            source = rng.choice(sources)
            options = _lookup(lexicon.synonyms, tokens, source, pos_tags)
            if options:
                phrase = rng.choice(options)
                if len(tokens[source].text) > 1 and tokens[source].text.isupper():
                    phrase = phrase.upper()
                at = rng.choice(insertion_points(result))
                result[at:at] = _phrase_tokens(phrase)
                break
    return result


def random_swap(tokens: Sequence[Token], n: int, rng: random.Random) -> list[Token]:
    """Swap two random O tokens, ``n`` times; O tags are identical, so tags stay where they are."""
    result = list(tokens)
    positions = outside_positions(result)
    if len(positions) >= 2:
        for _ in range(n):
            first, second = rng.sample(positions, 2)
            result[first], result[second] = result[second], result[first]
    return result


def random_deletion(tokens: Sequence[Token], n: int, rng: random.Random) -> list[Token]:
    """Delete ``n`` random O tokens, but never every token (a sentence is never emptied).

    EDA deletes each word with probability alpha; deleting exactly ``n = max(1, int(alpha * len))``
    has the same strength on average and never yields a copy identical to the original.
    """
    positions = outside_positions(tokens)
    if len(positions) == len(tokens):
        n = min(n, len(tokens) - 1)
    deleted = set(rng.sample(positions, min(n, len(positions))))
    return [token for i, token in enumerate(tokens) if i not in deleted]


def tokens_from_words(words: Sequence[str], tags: Sequence[str] | None = None) -> list[Token]:
    """Pair words with their tags (all "O" when ``tags`` is None)."""
    return [Token(word, tag) for word, tag in zip(words, tags or [OUTSIDE] * len(words), strict=True)]


def _lookup(
    find: Callable[..., list[str]], tokens: Sequence[Token], position: int, pos_tags: Sequence[str] | None
) -> list[str]:
    """Look a token up in its tagged part of speech only; a tag WordNet lacks (DT, CD...) finds nothing."""
    if pos_tags is None:
        return find(tokens[position].text)
    pos = wordnet_pos(pos_tags[position])
    return find(tokens[position].text, pos) if pos else []


def _phrase_tokens(phrase: str) -> list[Token]:
    return [Token(word) for word in phrase.split()]


def _splice(tokens: Sequence[Token], replacements: Mapping[int, list[Token]]) -> list[Token]:
    return [new for i, token in enumerate(tokens) for new in replacements.get(i, [token])]
