"""Decoding per-word IOB2 tags into entity spans, with and without character offsets."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers.pre_tokenizers import BertPreTokenizer

from nlptl.tasks.ner_decode import (
    EntitySpan,
    decode_entities,
    decode_tags,
    split_words_with_offsets,
)


def test_spans_over_words_end_exclusive() -> None:
    words = ["EU", "rejects", "German", "call", "Peter", "Blackburn"]
    tags = ["B-ORG", "O", "B-MISC", "O", "B-PER", "I-PER"]
    assert decode_entities(words, tags) == [
        EntitySpan("ORG", 0, 1, "EU"),
        EntitySpan("MISC", 2, 3, "German"),
        EntitySpan("PER", 4, 6, "Peter Blackburn"),
    ]


def test_adjacent_same_type_entities_split_on_b() -> None:
    spans = decode_entities(["a", "b", "c"], ["B-LOC", "B-LOC", "I-LOC"])
    assert [(s.start_word, s.end_word) for s in spans] == [(0, 1), (1, 3)]


def test_type_change_inside_entity_starts_new_span() -> None:
    spans = decode_entities(["a", "b"], ["B-LOC", "I-ORG"])
    assert [(s.type, s.start_word, s.end_word) for s in spans] == [("LOC", 0, 1), ("ORG", 1, 2)]


def test_stray_inside_tag_lenient_vs_strict() -> None:
    words, tags = ["the", "New", "York", "Times"], ["O", "I-ORG", "I-ORG", "I-ORG"]
    assert decode_entities(words, tags) == [EntitySpan("ORG", 1, 4, "New York Times")]
    assert decode_entities(words, tags, strict=True) == []


def test_no_entities() -> None:
    assert decode_entities(["a", "b"], ["O", "O"]) == []
    assert decode_entities([], []) == []


def test_split_words_with_offsets_on_whitespace() -> None:
    text = "  Peter\tBlackburn  visited naïve 東京.\n"
    words, offsets = split_words_with_offsets(text)
    assert words == ["Peter", "Blackburn", "visited", "naïve", "東京."]
    assert [text[start:end] for start, end in offsets] == words


def test_character_offsets_keep_original_spacing() -> None:
    text = "Peter  Blackburn visited New York, said EU."
    tags = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "B-ORG"]
    words, offsets = split_words_with_offsets(text)
    spans = decode_entities(words, tags, offsets=offsets, text=text)
    assert spans[0] == EntitySpan("PER", 0, 2, "Peter  Blackburn", 0, 16)
    for span in spans:
        assert span.text == text[span.start_char : span.end_char]
    assert [span.text for span in spans] == ["Peter  Blackburn", "New York,", "EU."]


def test_pre_tokenizer_that_splits_punctuation() -> None:
    text = "Visited New York, said EU."
    words, _ = split_words_with_offsets(text, BertPreTokenizer())
    assert words == ["Visited", "New", "York", ",", "said", "EU", "."]
    tags = ["O", "B-LOC", "I-LOC", "O", "O", "B-ORG", "O"]
    words, offsets = split_words_with_offsets(text, BertPreTokenizer())
    spans = decode_entities(words, tags, offsets=offsets, text=text)
    assert [(s.text, s.start_char, s.end_char) for s in spans] == [("New York", 8, 16), ("EU", 23, 25)]


def test_offsets_without_text_join_words() -> None:
    [span] = decode_entities(["New", "York"], ["B-LOC", "I-LOC"], offsets=[(10, 13), (14, 18)])
    assert (span.text, span.start_char, span.end_char) == ("New York", 10, 18)


def test_length_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="2 words but 1 tags"):
        decode_entities(["a", "b"], ["O"])
    with pytest.raises(ValueError, match="offsets"):
        decode_entities(["a"], ["O"], offsets=[])


TAG_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]


def valid_iob2(tags: list[str]) -> bool:
    return all(not tag.startswith("I-") or (i > 0 and tags[i - 1][2:] == tag[2:] and tags[i - 1] != "O")
               for i, tag in enumerate(tags))


def test_constrained_decoding_repairs_what_argmax_gets_wrong():
    probs = np.array([[0.9, 0.05, 0.0, 0.05, 0.0],     # O
                      [0.1, 0.0, 0.0, 0.4, 0.5],       # argmax I-ORG after O: invalid
                      [0.1, 0.0, 0.0, 0.1, 0.8]])      # I-ORG
    log_probs = np.log(probs + 1e-9)
    assert [TAG_NAMES[i] for i in decode_tags(log_probs, TAG_NAMES, "argmax")] == ["O", "I-ORG", "I-ORG"]
    assert [TAG_NAMES[i] for i in decode_tags(log_probs, TAG_NAMES)] == ["O", "B-ORG", "I-ORG"]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_constrained_decoding_finds_the_best_valid_iob2_sequence(words, seed):
    log_probs = np.log(np.random.default_rng(seed).dirichlet(np.ones(len(TAG_NAMES)), size=words))
    best = decode_tags(log_probs, TAG_NAMES)
    argmax = decode_tags(log_probs, TAG_NAMES, "argmax")
    assert len(best) == words and valid_iob2([TAG_NAMES[i] for i in best])

    def score(path):
        return sum(log_probs[i, tag] for i, tag in enumerate(path))

    valid = [p for p in itertools.product(range(len(TAG_NAMES)), repeat=words)
             if valid_iob2([TAG_NAMES[i] for i in p])]
    assert score(best) == pytest.approx(max(score(p) for p in valid))
    if valid_iob2([TAG_NAMES[i] for i in argmax]):
        assert best == argmax


def test_tag_sets_without_iob_prefixes_decode_as_argmax():
    log_probs = np.log(np.array([[0.2, 0.8], [0.7, 0.3]]))
    assert decode_tags(log_probs, ["PER", "LOC"]) == [1, 0]
    with pytest.raises(ValueError, match="unknown decoding"):
        decode_tags(log_probs, ["PER", "LOC"], "beam")
