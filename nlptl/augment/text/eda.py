"""EDA for text classification (Wei & Zou 2019): make label-preserving copies of (text, label) examples.

Texts are split with NLTK's Treebank tokenizer (punctuation and contractions become their own
tokens, so "good!" can still become "great!") and joined back with its detokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from nlptl.augment.settings import ops_for
from nlptl.augment.text.engine import AugmentStats, OperationRunner, Substituter, op_schedule
from nlptl.augment.text.nltk_adapter import treebank
from nlptl.augment.text.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    EDA_OPS,
    Lexicon,
    tokens_from_words,
)
from nlptl.augment.text.pos import PosTagger
from nlptl.seeding import example_rng

if TYPE_CHECKING:
    from nlptl.recipe import AugmentSettings

#: Operations that make sense for a whole-text label.
TEXT_OPS = (*EDA_OPS, ANTONYM_REPLACEMENT, CONTEXTUAL_SUBSTITUTION)


class AugmentedExample(NamedTuple):
    """One new training example and the operation that made it (the label differs only after antonyms)."""

    text: str
    label: Hashable
    op: str


class Augmenter:
    """Makes up to ``settings.copies`` new examples per (text, label), reproducibly per seed.

    ``antonym_label_map`` replaces ``settings.antonym_label_map`` when the labels this augmenter sees are not the
    names the recipe uses (a task passes label ids). ``lexicon``, ``pos_tagger`` and ``substituter`` default to
    what the operations need (WordNet, NLTK's tagger when installed, a masked LM from ``mlm_model_dir``); pass your
    own to override.
    """

    def __init__(
        self,
        settings: AugmentSettings,
        *,
        antonym_label_map: Mapping[Any, Hashable] | None = None,
        lexicon: Lexicon | None = None,
        pos_tagger: PosTagger | None = None,
        substituter: Substituter | None = None,
        tokenize: Callable[[str], list[str]] | None = None,
        detokenize: Callable[[Sequence[str]], str] | None = None,
    ) -> None:
        self.ops = ops_for(settings, TEXT_OPS, "text classification")
        self.copies, self.seed = settings.copies, 0 if settings.seed is None else settings.seed
        label_map: Mapping[Any, Hashable] = (settings.antonym_label_map if antonym_label_map is None
                                             else antonym_label_map)
        self.label_map: dict[Hashable, Hashable] = dict(label_map)
        self._runner = OperationRunner(self.ops, settings.alpha, settings.mlm_model_dir, lexicon, pos_tagger,
                                       substituter)
        if tokenize is None or detokenize is None:
            default_tokenize, default_detokenize = treebank()
            tokenize, detokenize = tokenize or default_tokenize, detokenize or default_detokenize
        self._tokenize = tokenize
        self._detokenize = detokenize

    def augment(
        self,
        text: str,
        label: Hashable,
        stats: AugmentStats | None = None,
        *,
        seed: int | str | None = None,
        copies: int | None = None,
    ) -> list[AugmentedExample]:
        """New examples made from one (text, label); copies identical to the input are dropped.

        Counts go into ``stats`` when given, so a caller can report what each operation did. ``seed`` and
        ``copies`` replace the settings' for this call: on the fly, one copy seeded by (seed, epoch, example).
        """
        stats = stats if stats is not None else AugmentStats()
        words = self._tokenize(text)
        tokens = tokens_from_words(words)
        rng = example_rng(self.seed if seed is None else seed, text, label)
        schedule = op_schedule(self.ops, self.copies if copies is None else copies, rng)
        if not tokens:
            stats.skipped.update(schedule)
            return []
        pos_tags = self._runner.pos_tags(tokens)
        made = []
        for op in schedule:
            new_label = label
            if op == ANTONYM_REPLACEMENT:
                if label not in self.label_map:
                    stats.skipped[op] += 1
                    continue
                new_label = self.label_map[label]
            new_words = [token.text for token in self._runner.apply(op, tokens, rng, pos_tags)]
            if new_words == words:
                stats.unchanged[op] += 1
                continue
            stats.produced[op] += 1
            made.append(AugmentedExample(self._detokenize(new_words), new_label, op))
        return made
