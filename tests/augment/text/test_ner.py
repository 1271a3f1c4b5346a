"""NER augmentation: tokens and tags stay aligned, mentions survive (or keep their type when replaced)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlptl.augment import (
    EDA_OPS,
    MENTION_REPLACEMENT,
    AugmentStats,
    MentionBank,
    NerAugmenter,
)
from nlptl.augment.text.wordnet import WordNetLexicon, default_lexicon
from nlptl.errors import NlptlError
from nlptl.iob2 import entity_spans, mention_tags, validate_iob2
from nlptl.recipe import AugmentSettings

SETTINGS = settings(max_examples=50, deadline=None)
OUTSIDE_WORDS = ["the", "happy", "man", "went", "quickly", "to", "beautiful", "city", "in", "1999", ",", "."]
NAMES = {
    "PER": [("John",), ("John", "Smith"), ("Mary", "Ann", "Lee")],
    "LOC": [("Paris",), ("New", "York"), ("Good", "Hope")],
    "ORG": [("Acme",), ("Bright", "Star", "Inc")],
}

outside_segment = st.sampled_from(OUTSIDE_WORDS).map(lambda word: [(word, "O")])
mention_segment = st.sampled_from([(kind, name) for kind, names in NAMES.items() for name in names]).map(
    lambda mention: list(zip(mention[1], mention_tags(mention[0], len(mention[1])), strict=True))
)
tagged_sentences = st.lists(st.one_of(outside_segment, mention_segment), min_size=1, max_size=10).map(
    lambda segments: [pair for segment in segments for pair in segment]
)


def settings_for(ops=EDA_OPS, **fields) -> AugmentSettings:
    """Augmentation settings, by default the four EDA operations."""
    return AugmentSettings(ops=list(ops), **fields)


def augment_all(augmenter: NerAugmenter, token_lists, tag_lists) -> tuple[list, AugmentStats]:
    """Augment a whole dataset: the new examples (originals not included) and per-operation counts."""
    stats = AugmentStats()
    copies = [copy for tokens, tags in zip(token_lists, tag_lists, strict=True)
              for copy in augmenter.augment(tokens, tags, stats)]
    return copies, stats


def mentions(tokens: list[str], tags: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    return [(span.entity_type, tuple(tokens[span.start : span.end])) for span in entity_spans(tags)]


@pytest.fixture(scope="module")
def lexicon() -> WordNetLexicon:
    return default_lexicon()


@pytest.fixture(scope="module")
def bank() -> MentionBank:
    return MentionBank({kind: names for kind, names in NAMES.items()})


@SETTINGS
@given(sentence=tagged_sentences, seed=st.integers(0, 2**32), alpha=st.sampled_from([0.1, 0.3, 1.0]))
def test_eda_ops_keep_every_mention_and_alignment(lexicon, sentence, seed, alpha) -> None:
    tokens, tags = [token for token, _ in sentence], [tag for _, tag in sentence]
    augmenter = NerAugmenter(settings_for(alpha=alpha, copies=8, seed=seed), lexicon=lexicon)
    for copy in augmenter.augment(tokens, tags):
        assert copy.op in EDA_OPS
        assert len(copy.tokens) == len(copy.tags) > 0
        validate_iob2(copy.tags)
        assert mentions(copy.tokens, copy.tags) == mentions(tokens, tags)


@SETTINGS
@given(sentence=tagged_sentences, seed=st.integers(0, 2**32), alpha=st.sampled_from([0.1, 0.5, 1.0]))
def test_mention_replacement_keeps_types_and_rebuilds_iob2(lexicon, bank, sentence, seed, alpha) -> None:
    tokens, tags = [token for token, _ in sentence], [tag for _, tag in sentence]
    config = settings_for([MENTION_REPLACEMENT], alpha=alpha, copies=3, seed=seed)
    for copy in NerAugmenter(config, mention_bank=bank, lexicon=lexicon).augment(tokens, tags):
        assert len(copy.tokens) == len(copy.tags)
        validate_iob2(copy.tags)
        new_mentions, old_mentions = mentions(copy.tokens, copy.tags), mentions(tokens, tags)
        assert [kind for kind, _ in new_mentions] == [kind for kind, _ in old_mentions]
        assert all(mention in NAMES[kind] for kind, mention in new_mentions)
        assert new_mentions != old_mentions
        outside = [(token, tag) for token, tag in zip(copy.tokens, copy.tags, strict=True) if tag == "O"]
        assert outside == [(token, tag) for token, tag in sentence if tag == "O"]


@SETTINGS
@given(sentence=tagged_sentences, seed=st.integers(0, 2**32))
def test_same_seed_same_copies(lexicon, bank, sentence, seed) -> None:
    tokens, tags = [token for token, _ in sentence], [tag for _, tag in sentence]
    config = settings_for([*EDA_OPS, MENTION_REPLACEMENT], copies=5, seed=seed)
    first = NerAugmenter(config, mention_bank=bank, lexicon=lexicon).augment(tokens, tags)
    second = NerAugmenter(config, mention_bank=bank, lexicon=lexicon).augment(tokens, tags)
    assert first == second


def test_mention_bank_collects_unique_mentions_in_order() -> None:
    bank = MentionBank.from_examples(
        [["John", "Smith", "saw", "Paris"], ["Paris", "and", "Mary"], ["John", "Smith"]],
        [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O", "B-PER"], ["B-PER", "I-PER"]],
    )
    assert bank.entity_types == ["PER", "LOC"]
    assert bank.mentions("PER") == [("John", "Smith"), ("Mary",)]
    assert bank.mentions("LOC") == [("Paris",)] and bank.mentions("ORG") == []


def test_a_lone_mention_of_its_type_is_left_alone(lexicon) -> None:
    bank = MentionBank({"LOC": [("Paris",)]})
    config = settings_for([MENTION_REPLACEMENT], copies=2)
    copies, stats = augment_all(NerAugmenter(config, mention_bank=bank, lexicon=lexicon),
                                [["Paris", "is", "big"]], [["B-LOC", "O", "O"]])
    assert copies == [] and stats.unchanged[MENTION_REPLACEMENT] == 2


def test_counts_per_op(lexicon, bank) -> None:
    config = settings_for([*EDA_OPS, MENTION_REPLACEMENT], copies=5, alpha=0.3)
    augmenter = NerAugmenter(config, mention_bank=bank, lexicon=lexicon)
    sentence = ["John", "Smith", "went", "quickly", "to", "the", "beautiful", "city", "of", "Paris"]
    tags = ["B-PER", "I-PER", "O", "O", "O", "O", "O", "O", "O", "B-LOC"]
    copies, stats = augment_all(augmenter, [sentence], [tags])
    assert {copy.op for copy in copies} == set(augmenter.ops) == {*EDA_OPS, MENTION_REPLACEMENT}
    assert sum(stats.produced.values()) == len(copies) == 5


@pytest.mark.parametrize(
    ("tokens", "tags", "message"),
    [
        (["a", "b"], ["O"], "2 tokens but 1 tags"),
        (["a", "b"], ["O", "I-PER"], "IOB2"),
        (["a", "b"], ["B-PER", "I-LOC"], "IOB2"),
        (["a"], ["PER"], "not IOB2"),
        ("a b", "O O", "lists"),
    ],
)
def test_misaligned_or_non_iob2_input_is_refused(lexicon, tokens, tags, message) -> None:
    with pytest.raises(NlptlError, match=message):
        NerAugmenter(settings_for(), lexicon=lexicon).augment(tokens, tags)


def test_ner_refuses_label_flipping_and_needs_a_bank(lexicon) -> None:
    flip = {"positive": "negative"}
    with pytest.raises(NlptlError, match="NER"):
        NerAugmenter(settings_for(["antonym_replacement"], antonym_label_map=flip), lexicon=lexicon)
    with pytest.raises(NlptlError, match="MentionBank"):
        NerAugmenter(settings_for([MENTION_REPLACEMENT]), lexicon=lexicon)
