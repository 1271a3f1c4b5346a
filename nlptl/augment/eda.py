"""EDA for text classification (Wei & Zou 2019): make label-preserving copies of (text, label) examples.

Texts are split with NLTK's Treebank tokenizer (punctuation and contractions become their own
tokens, so "good!" can still become "great!") and joined back with its detokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple

from nlptl.augment.config import AugmentConfig
from nlptl.augment.engine import AugmentStats, OperationRunner, Substituter, op_schedule
from nlptl.augment.nltk_adapter import treebank
from nlptl.augment.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    EDA_OPS,
    Lexicon,
    tokens_from_words,
)
from nlptl.augment.pos import PosTagger
from nlptl.seeding import example_rng

#: Operations that make sense for a whole-text label.
TEXT_OPS = (*EDA_OPS, ANTONYM_REPLACEMENT, CONTEXTUAL_SUBSTITUTION)


class AugmentedExample(NamedTuple):
    """One new training example and the operation that made it (the label differs only after antonyms)."""

    text: str
    label: Hashable
    op: str


class Augmenter:
    """Makes up to ``config.copies_per_example`` new examples per (text, label), reproducibly per seed.

    ``lexicon``, ``pos_tagger`` and ``substituter`` default to what the config asks for (WordNet,
    NLTK's tagger when installed, a masked LM from ``mlm_model_dir``); pass your own to override.
    """

    def __init__(
        self,
        config: AugmentConfig | None = None,
        *,
        lexicon: Lexicon | None = None,
        pos_tagger: PosTagger | None = None,
        substituter: Substituter | None = None,
        tokenize: Callable[[str], list[str]] | None = None,
        detokenize: Callable[[Sequence[str]], str] | None = None,
    ) -> None:
        self.config = config or AugmentConfig()
        self.config.require_ops_within(TEXT_OPS, "text classification")
        self._runner = OperationRunner(self.config, lexicon, pos_tagger, substituter)
        if tokenize is None or detokenize is None:
            default_tokenize, default_detokenize = treebank()
            tokenize, detokenize = tokenize or default_tokenize, detokenize or default_detokenize
        self._tokenize = tokenize
        self._detokenize = detokenize

    def augment(
        self, text: str, label: Hashable, stats: AugmentStats | None = None, *, seed: int | str | None = None
    ) -> list[AugmentedExample]:
        """New examples made from one (text, label); copies identical to the input are dropped.

        Counts go into ``stats`` when given, so a caller can report what each operation did.
        ``seed`` replaces the config's for this call: on-the-fly augmentation seeds by (seed, epoch, example).
        """
        stats = stats if stats is not None else AugmentStats()
        words = self._tokenize(text)
        tokens = tokens_from_words(words)
        rng = example_rng(self.config.seed if seed is None else seed, text, label)
        schedule = op_schedule(self.config.ops, self.config.copies_per_example, rng)
        if not tokens:
            stats.skipped.update(schedule)
            return []
        pos_tags = self._runner.pos_tags(tokens)
        copies = []
        for op in schedule:
            new_label = label
            if op == ANTONYM_REPLACEMENT:
                label_map = self.config.antonym_label_map or {}
                if label not in label_map:
                    stats.skipped[op] += 1
                    continue
                new_label = label_map[label]
            new_words = [token.text for token in self._runner.apply(op, tokens, rng, pos_tags)]
            if new_words == words:
                stats.unchanged[op] += 1
                continue
            stats.produced[op] += 1
            copies.append(AugmentedExample(self._detokenize(new_words), new_label, op))
        return copies
