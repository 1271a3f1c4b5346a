"""Label-preserving augmentation for NER on (tokens, IOB2 tags).

The EDA operations only touch O tokens (see ``ops``), so every mention keeps its words, order and
tags. ``mention_replacement`` (Dai & Adel 2020) instead swaps whole mentions for other mentions of
the same type seen in the training set, rebuilding their tags as B-TYPE, I-TYPE, ...
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from nlptl.augment.settings import ops_for
from nlptl.augment.text.engine import AugmentStats, OperationRunner, Substituter, op_schedule
from nlptl.augment.text.ops import (
    CONTEXTUAL_SUBSTITUTION,
    EDA_OPS,
    MENTION_REPLACEMENT,
    Lexicon,
    Token,
    changes_for,
    tokens_from_words,
)
from nlptl.augment.text.pos import PosTagger
from nlptl.errors import NlptlError
from nlptl.iob2 import entity_spans, mention_tags, validate_iob2
from nlptl.seeding import example_rng

if TYPE_CHECKING:
    from nlptl.recipe import AugmentSettings

#: Operations that keep token tags correct (no label flipping: it has no meaning for tags).
NER_OPS = (*EDA_OPS, MENTION_REPLACEMENT, CONTEXTUAL_SUBSTITUTION)


class AugmentedTokens(NamedTuple):
    """One new NER example: equally long ``tokens`` and ``tags``, and the operation that made it."""

    tokens: list[str]
    tags: list[str]
    op: str


class MentionBank:
    """Entity mentions by type, collected from a training set, for ``mention_replacement``.

    Kept in first-seen order without duplicates, so the same data and seed give the same copies.
    """

    def __init__(self, mentions_by_type: Mapping[str, Iterable[Sequence[str]]]) -> None:
        self._mentions: dict[str, list[tuple[str, ...]]] = {}
        for entity_type, mentions in mentions_by_type.items():
            unique = dict.fromkeys(tuple(mention) for mention in mentions if mention)
            if unique:
                self._mentions[entity_type] = list(unique)

    @classmethod
    def from_examples(
        cls, token_lists: Iterable[Sequence[str]], tag_lists: Iterable[Sequence[str]]
    ) -> MentionBank:
        """Collect every mention of a (training) dataset of IOB2-tagged sentences."""
        mentions: dict[str, list[tuple[str, ...]]] = {}
        for tokens, tags in zip(token_lists, tag_lists, strict=True):
            _check_aligned(tokens, tags)
            for span in entity_spans(tags):
                mentions.setdefault(span.entity_type, []).append(tuple(tokens[span.start : span.end]))
        return cls(mentions)

    @property
    def entity_types(self) -> list[str]:
        return list(self._mentions)

    def mentions(self, entity_type: str) -> list[tuple[str, ...]]:
        """Known mentions of ``entity_type`` (empty when the type was never seen)."""
        return list(self._mentions.get(entity_type, []))


def replace_mentions(tokens: Sequence[Token], n: int, rng: random.Random, bank: MentionBank) -> list[Token]:
    """Replace up to ``n`` random mentions by a different known mention of the same type.

    The sequence of entity types is unchanged; lengths may change, tags are rebuilt in IOB2.
    """
    spans = [
        span
        for span in entity_spans([token.tag for token in tokens])
        if _alternatives(bank, span.entity_type, tokens[span.start : span.end])
    ]
    chosen = rng.sample(spans, min(n, len(spans)))
    replacements: dict[int, tuple[int, list[Token]]] = {}
    for span in chosen:
        words = rng.choice(_alternatives(bank, span.entity_type, tokens[span.start : span.end]))
        tags = mention_tags(span.entity_type, len(words))
        mention = [Token(word, tag) for word, tag in zip(words, tags, strict=True)]
        replacements[span.start] = (span.end, mention)
    result: list[Token] = []
    position = 0
    while position < len(tokens):
        if position in replacements:
            end, mention = replacements[position]
            result.extend(mention)
            position = end
        else:
            result.append(tokens[position])
            position += 1
    return result


class NerAugmenter:
    """Makes up to ``settings.copies`` new (tokens, tags) per sentence, reproducibly per seed.

    ``mention_bank`` is required when ``mention_replacement`` is among the operations; build it from
    the training split only, so no evaluation mention leaks into training data.
    """

    def __init__(
        self,
        settings: AugmentSettings,
        *,
        mention_bank: MentionBank | None = None,
        lexicon: Lexicon | None = None,
        pos_tagger: PosTagger | None = None,
        substituter: Substituter | None = None,
    ) -> None:
        self.ops = ops_for(settings, NER_OPS, "NER (token tags)")
        if MENTION_REPLACEMENT in self.ops and mention_bank is None:
            raise NlptlError(
                "mention_replacement needs mention_bank=MentionBank.from_examples(train_tokens, train_tags)."
            )
        self.copies, self.seed = settings.copies, 0 if settings.seed is None else settings.seed
        self.alpha = settings.alpha
        self.mention_bank = mention_bank
        self._runner = OperationRunner(self.ops, settings.alpha, settings.mlm_model_dir, lexicon, pos_tagger,
                                       substituter)

    def augment(
        self,
        tokens: Sequence[str],
        tags: Sequence[str],
        stats: AugmentStats | None = None,
        *,
        seed: int | str | None = None,
        copies: int | None = None,
    ) -> list[AugmentedTokens]:
        """New (tokens, tags) made from one sentence; copies identical to the input are dropped.

        ``seed`` and ``copies`` replace the settings' for this call: on the fly, one copy seeded by
        (seed, epoch, example).
        """
        stats = stats if stats is not None else AugmentStats()
        _check_aligned(tokens, tags)
        sentence = tokens_from_words(tokens, tags)
        rng = example_rng(self.seed if seed is None else seed, tuple(tokens), tuple(tags))
        schedule = op_schedule(self.ops, self.copies if copies is None else copies, rng)
        if not sentence:
            stats.skipped.update(schedule)
            return []
        pos_tags = self._runner.pos_tags(sentence)
        made = []
        for op in schedule:
            if op == MENTION_REPLACEMENT and self.mention_bank is not None:
                n = changes_for(self.alpha, len(entity_spans(tags)))
                new_sentence = replace_mentions(sentence, n, rng, self.mention_bank)
            else:
                new_sentence = self._runner.apply(op, sentence, rng, pos_tags)
            if new_sentence == sentence:
                stats.unchanged[op] += 1
                continue
            stats.produced[op] += 1
            new_tokens = [token.text for token in new_sentence]
            made.append(AugmentedTokens(new_tokens, [token.tag for token in new_sentence], op))
        return made


def _alternatives(bank: MentionBank, entity_type: str, current: Sequence[Token]) -> list[tuple[str, ...]]:
    current_words = tuple(token.text for token in current)
    return [mention for mention in bank.mentions(entity_type) if mention != current_words]


def _check_aligned(tokens: Sequence[str], tags: Sequence[str]) -> None:
    if isinstance(tokens, str) or isinstance(tags, str):
        raise NlptlError("NER augmentation takes lists of tokens and tags, not strings.")
    if len(tokens) != len(tags):
        raise NlptlError(f"{len(tokens)} tokens but {len(tags)} tags; every token needs exactly one tag.")
    validate_iob2(tags)
