"""The per-example loop shared by the text and NER augmenters: seeding, taking turns between
operations, running one, dropping copies that changed nothing, and counting what happened."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nlptl.augment.text.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    LEXICON_OPS,
    RANDOM_DELETION,
    RANDOM_INSERTION,
    RANDOM_SWAP,
    SYNONYM_REPLACEMENT,
    Lexicon,
    Token,
    antonym_replacement,
    changes_for,
    random_deletion,
    random_insertion,
    random_swap,
    synonym_replacement,
)
from nlptl.augment.text.pos import PosTagger, find_pos_tagger
from nlptl.augment.text.stopwords import ENGLISH_STOP_WORDS
from nlptl.errors import NlptlError


class Substituter(Protocol):
    """Contextual word substitution (``MaskedLmSubstituter``): replace up to ``n`` replaceable O tokens."""

    def substitute(
        self, tokens: Sequence[Token], n: int, rng: random.Random, stop_words: frozenset[str]
    ) -> list[Token]: ...


@dataclass
class AugmentStats:
    """Per-operation counts for a run report: copies kept, copies dropped because nothing changed
    (no synonym found, swapped two equal words...), and operations skipped as not applicable."""

    produced: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Plain dicts, ready for JSON or a log line."""
        return {
            "produced": dict(self.produced),
            "unchanged": dict(self.unchanged),
            "skipped": dict(self.skipped),
        }


def op_schedule(ops: Sequence[str], copies: int, rng: random.Random) -> list[str]:
    """The operation behind each copy: ops take turns from a random start, so one copy per example
    still spreads every operation evenly over a dataset."""
    start = rng.randrange(len(ops))
    return [ops[(start + i) % len(ops)] for i in range(copies)]


class OperationRunner:
    """Runs a named operation on a token list with the configured strength and the resolved resources.

    ``lexicon``, ``pos_tagger`` and ``substituter`` default to what ``ops`` need: WordNet (loaded now, so a missing
    install fails before any data work), NLTK's tagger when its data is installed, a masked LM from
    ``mlm_model_dir``."""

    def __init__(
        self,
        ops: Sequence[str],
        alpha: float,
        mlm_model_dir: str | None = None,
        lexicon: Lexicon | None = None,
        pos_tagger: PosTagger | None = None,
        substituter: Substituter | None = None,
    ) -> None:
        self.ops, self.alpha, self.stop_words = tuple(ops), float(alpha), ENGLISH_STOP_WORDS
        uses_lexicon = bool(LEXICON_OPS.intersection(self.ops))
        self.lexicon = lexicon if lexicon is not None or not uses_lexicon else _default_lexicon()
        self.pos_tagger = pos_tagger if pos_tagger is not None or not uses_lexicon else find_pos_tagger()
        if substituter is None and CONTEXTUAL_SUBSTITUTION in self.ops and mlm_model_dir is not None:
            from nlptl.augment.text.contextual import MaskedLmSubstituter

            substituter = MaskedLmSubstituter(mlm_model_dir)
        self.substituter = substituter

    def pos_tags(self, tokens: Sequence[Token]) -> list[str] | None:
        """Penn tags for the sentence, when a tagger is in use and an operation will look words up."""
        if self.pos_tagger is None or not LEXICON_OPS.intersection(self.ops):
            return None
        return list(self.pos_tagger([token.text for token in tokens]))

    def apply(
        self, op: str, tokens: Sequence[Token], rng: random.Random, pos_tags: Sequence[str] | None
    ) -> list[Token]:
        n = changes_for(self.alpha, len(tokens))
        stop_words = self.stop_words
        if op == SYNONYM_REPLACEMENT:
            return synonym_replacement(tokens, n, rng, self._lexicon(), stop_words, pos_tags)
        if op == RANDOM_INSERTION:
            return random_insertion(tokens, n, rng, self._lexicon(), stop_words, pos_tags)
        if op == RANDOM_SWAP:
            return random_swap(tokens, n, rng)
        if op == RANDOM_DELETION:
            return random_deletion(tokens, n, rng)
        if op == ANTONYM_REPLACEMENT:
            return antonym_replacement(tokens, rng, self._lexicon(), stop_words, pos_tags)
        if op == CONTEXTUAL_SUBSTITUTION and self.substituter is not None:
            return self.substituter.substitute(tokens, n, rng, stop_words)
        raise NlptlError(f"Operation {op!r} is not available here.")

    def _lexicon(self) -> Lexicon:
        if self.lexicon is None:
            self.lexicon = _default_lexicon()
        return self.lexicon


def _default_lexicon() -> Lexicon:
    from nlptl.augment.text.wordnet import default_lexicon

    return default_lexicon()
