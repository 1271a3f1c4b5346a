"""EDA for text classification (Wei & Zou 2019): make label-preserving copies of (text, label) examples.

Texts are split with NLTK's Treebank tokenizer (punctuation and contractions become their own
tokens, so "good!" can still become "great!") and joined back with its detokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import NamedTuple

from nlptl.augment.config import AugmentConfig
from nlptl.augment.engine import AugmentStats, OperationRunner, Substituter, op_schedule
from nlptl.augment.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    EDA_OPS,
    Lexicon,
    tokens_from_words,
)
from nlptl.augment.pos import PosTagger
from nlptl.augment.wordnet import INSTALL_HINT
from nlptl.errors import NlptlError
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
            default_tokenize, default_detokenize = _treebank()
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

    def augment_all(
        self, texts: Iterable[str], labels: Iterable[Hashable]
    ) -> tuple[list[AugmentedExample], AugmentStats]:
        """Augment a whole dataset: the new examples (originals not included) and per-operation counts."""
        stats = AugmentStats()
        examples = [
            copy
            for text, label in zip(texts, labels, strict=True)
            for copy in self.augment(text, label, stats)
        ]
        return examples, stats


def flip_label_with_antonym(
    text: str,
    label: Hashable,
    antonym_label_map: Mapping[Hashable, Hashable] | None,
    seed: int = 0,
    lexicon: Lexicon | None = None,
) -> tuple[str, Hashable] | None:
    """One antonym swap and the label it implies: ("a good film", "pos") -> ("a bad film", "neg").

    Refused (NlptlError) without a label map, since a text whose meaning flipped under an unchanged
    label is a wrong training example. None when no word has an antonym or the label is unmapped.
    """
    config = AugmentConfig(
        ops=(ANTONYM_REPLACEMENT,), copies_per_example=1, seed=seed, antonym_label_map=antonym_label_map
    )
    copies = Augmenter(config, lexicon=lexicon).augment(text, label)
    return (copies[0].text, copies[0].label) if copies else None


def _treebank() -> tuple[Callable[[str], list[str]], Callable[[Sequence[str]], str]]:
    try:
        from nltk.tokenize import NLTKWordTokenizer
        from nltk.tokenize.treebank import TreebankWordDetokenizer
    except ImportError as error:
        raise NlptlError(f"Text augmentation needs NLTK: {INSTALL_HINT}.") from error
    tokenizer, detokenizer = _stdlib_patterns(NLTKWordTokenizer()), _stdlib_patterns(TreebankWordDetokenizer())
    return tokenizer.tokenize, lambda words: detokenizer.detokenize(list(words))


_RE_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE


def _stdlib_patterns(treebank: object) -> object:
    """The Treebank rules compiled with `re`, as NLTK did before 3.10: NLTK now runs every regex through a
    timeout wrapper (a guard for caller-supplied patterns), which made these fixed rules 2-3x slower; the
    output is the same (checked on SST-2 and IMDb texts)."""

    def compiled(value: object) -> object:
        if isinstance(value, list | tuple):
            return type(value)(compiled(item) for item in value)
        pattern, flags = getattr(value, "pattern", None), getattr(value, "flags", None)
        if isinstance(pattern, str) and isinstance(flags, int) and not isinstance(value, re.Pattern):
            return re.compile(pattern, flags & _RE_FLAGS)
        return value

    for name in dir(type(treebank)):
        if name.isupper():  # STARTING_QUOTES, PUNCTUATION, CONTRACTIONS2, ...
            setattr(treebank, name, compiled(getattr(treebank, name)))
    return treebank
