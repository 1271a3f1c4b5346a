"""The per-example loop shared by the text and NER augmenters: seeding, taking turns between
operations, running one, dropping copies that changed nothing, and counting what happened."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from nlptl.augment.config import AugmentConfig
from nlptl.augment.ops import (
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
from nlptl.augment.pos import PosTagger, resolve_pos_tagger
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
    """Runs a named operation on a token list with the config's strength and the resolved resources."""

    def __init__(
        self,
        config: AugmentConfig,
        lexicon: Lexicon | None = None,
        pos_tagger: PosTagger | None = None,
        substituter: Substituter | None = None,
    ) -> None:
        self.config = config
        self.lexicon = lexicon if lexicon is not None else _default_lexicon_if_needed(config)
        self.pos_tagger = pos_tagger if pos_tagger is not None else _tagger_if_needed(config)
        self.substituter = substituter if substituter is not None else _substituter_if_needed(config)

    def pos_tags(self, tokens: Sequence[Token]) -> list[str] | None:
        """Penn tags for the sentence, when a tagger is in use and an operation will look words up."""
        if self.pos_tagger is None or not LEXICON_OPS.intersection(self.config.ops):
            return None
        return list(self.pos_tagger([token.text for token in tokens]))

    def apply(
        self, op: str, tokens: Sequence[Token], rng: random.Random, pos_tags: Sequence[str] | None
    ) -> list[Token]:
        n = changes_for(self.config.alpha_for(op), len(tokens))
        stop_words = self.config.stop_words
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


def _default_lexicon_if_needed(config: AugmentConfig) -> Lexicon | None:
    """Load WordNet up front when an operation needs it, so a missing install fails before any data work."""
    return _default_lexicon() if LEXICON_OPS.intersection(config.ops) else None


def _default_lexicon() -> Lexicon:
    from nlptl.augment.wordnet import default_lexicon

    return default_lexicon()


def _tagger_if_needed(config: AugmentConfig) -> PosTagger | None:
    return resolve_pos_tagger(config.pos_aware) if LEXICON_OPS.intersection(config.ops) else None


def _substituter_if_needed(config: AugmentConfig) -> Substituter | None:
    if CONTEXTUAL_SUBSTITUTION not in config.ops or config.mlm_model_dir is None:
        return None
    from nlptl.augment.contextual import MaskedLmSubstituter

    return MaskedLmSubstituter(config.mlm_model_dir, top_k=config.mlm_top_k)
