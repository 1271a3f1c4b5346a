"""Align word-level NER labels to sub-tokens, window long sentences, and stitch predictions back to words.

Why windows: a sentence longer than ``max_length`` sub-tokens would otherwise be truncated and its tail
never predicted. The fast tokenizer cuts it into overlapping windows (``return_overflowing_tokens``,
``stride`` = overlap in tokens). Words in the overlap appear in two windows, so each word is *owned* by
exactly one window - the one where its first sub-token has the most context on both sides (ties go to
the earlier window) - and only the owner scores it. No word is counted twice in the loss or in
evaluation, and every word gets exactly one prediction.

Use as a batched ``datasets`` map (windows add rows, so drop the input columns)::

    windows = dataset.map(
        tokenize_and_align, batched=True, with_indices=True, remove_columns=dataset.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": 128, "stride": 32},
    )

Output columns: the tokenizer's (``input_ids``, ``attention_mask``...), ``labels`` (when the input has
labels), ``word_ids`` (index of the word scored at each position, ``-1`` everywhere else: specials,
padding, continuation sub-tokens and words owned by another window), ``sentence_id`` (source row, from
``with_indices``) and ``num_overflow_words`` (words first seen in this window, 0 for a sentence's first
window; their sum is the number of words that needed a window beyond the first).
``word_ids`` and ``sentence_id`` are what :func:`stitch_word_predictions` needs; remove them (and
``num_overflow_words``) before handing rows to a model or a padding collator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerBase

from nlptl.errors import NlptlError
from nlptl.iob2 import inside_partner

IGNORE_INDEX = -100
"""Label for positions the loss and metrics skip (PyTorch cross-entropy's default ignore_index)."""
NOT_SCORED = -1
"""``word_ids`` value for positions that do not carry a word's prediction."""

WORD_IDS_COLUMN = "word_ids"
SENTENCE_ID_COLUMN = "sentence_id"
OVERFLOW_WORDS_COLUMN = "num_overflow_words"
LABELS_COLUMN = "labels"
STITCHING_COLUMNS = (WORD_IDS_COLUMN, SENTENCE_ID_COLUMN, OVERFLOW_WORDS_COLUMN)
DEFAULT_MAX_STRIDE = 32


def continuation_label_ids(label_names: Sequence[str]) -> dict[int, int]:
    """Map each ``B-X`` id to its ``I-X`` id, for labelling a word's continuation sub-tokens."""
    label_to_id = {name: label_id for label_id, name in enumerate(label_names)}
    continuation_ids: dict[int, int] = {}
    for name, label_id in label_to_id.items():
        inside_name = inside_partner(name)
        if inside_name is None:
            continue
        if inside_name not in label_to_id:
            raise NlptlError(
                f"label {name!r} has no matching {inside_name!r} in the label list {list(label_names)}; "
                f"add {inside_name!r} or do not label all sub-tokens."
            )
        continuation_ids[label_id] = label_to_id[inside_name]
    return continuation_ids


def _checked_stride(tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int | None) -> int:
    """Check tokenizer and window settings; return the stride (``None``: a quarter window, at most 32)."""
    if not getattr(tokenizer, "is_fast", False):
        raise NlptlError(
            f"{type(tokenizer).__name__} is not a fast (tokenizers-backed) tokenizer; word alignment needs "
            "word_ids(). Load it with AutoTokenizer.from_pretrained(...) from a model with tokenizer.json."
        )
    if tokenizer.truncation_side != "right":
        raise NlptlError("windowing expects tokenizer.truncation_side == 'right'; set it back to 'right'.")
    content_length = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    if stride is None and content_length >= 1:
        stride = min(DEFAULT_MAX_STRIDE, content_length // 4)
    if content_length < 1 or stride is None or not 0 <= stride < content_length:
        raise NlptlError(
            f"max_length={max_length} leaves {content_length} tokens for words per window, and "
            f"stride={stride} must be >= 0 and smaller than that; raise max_length or lower stride."
        )
    return stride


def _content_bounds(window_word_ids: Sequence[int | None]) -> tuple[int, int]:
    """First and last position holding a word token (``(0, -1)`` for a window without words)."""
    positions = [position for position, word_id in enumerate(window_word_ids) if word_id is not None]
    return (positions[0], positions[-1]) if positions else (0, -1)


def _assign_owners(
    windows_word_ids: Sequence[Sequence[int | None]],
) -> tuple[dict[int, tuple[int, int]], list[int]]:
    """For one sentence's windows: ``{word: (window, position of its first sub-token)}`` and new-word counts.

    A word's candidate in each window is its first position there, scored by its distance to the nearer
    window edge; the best candidate wins and ties go to the earlier window. A word cut by a window
    boundary shows only its tail at the next window's very first position - distance 0 - while its real
    first sub-token sits in an earlier window with distance >= 0, so a tail never wins.
    """
    owners: dict[int, tuple[int, int]] = {}
    best_context: dict[int, int] = {}
    new_word_counts: list[int] = []
    for window_index, window_word_ids in enumerate(windows_word_ids):
        first, last = _content_bounds(window_word_ids)
        seen_in_window: set[int] = set()
        new_words = 0
        for position in range(first, last + 1):
            word_id = window_word_ids[position]
            if word_id is None or word_id in seen_in_window:
                continue
            seen_in_window.add(word_id)
            context = min(position - first, last - position)
            is_new_word = word_id not in owners
            if is_new_word and window_index > 0:
                new_words += 1
            if is_new_word or context > best_context[word_id]:
                owners[word_id] = (window_index, position)
                best_context[word_id] = context
        new_word_counts.append(new_words)
    return owners, new_word_counts


def _tokenize(
    tokenizer: PreTrainedTokenizerBase,
    words: list[list[str]],
    max_length: int,
    stride: int,
    padding: bool | str,
) -> Any:
    return tokenizer(
        words,
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        padding=padding,
    )


def _words_without_tokens(encoding: Any, words: list[list[str]]) -> dict[int, set[int]]:
    """``{sentence: word indices}`` for words the tokenizer dropped (e.g. a lone zero-width space)."""
    seen: list[set[int]] = [set() for _ in words]
    for window_index, sentence_index in enumerate(encoding["overflow_to_sample_mapping"]):
        seen[sentence_index].update(w for w in encoding.word_ids(window_index) if w is not None)
    return {
        sentence_index: missing
        for sentence_index, sentence_words in enumerate(words)
        if (missing := set(range(len(sentence_words))) - seen[sentence_index])
    }


def tokenize_and_align(
    batch: Mapping[str, list[Any]],
    indices: Sequence[int] | None = None,
    *,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int | None = None,
    stride: int | None = None,
    label_all_subtokens: bool = False,
    continuation_ids: Mapping[int, int] | None = None,
    words_column: str = "tokens",
    labels_column: str = "ner_tags",
    padding: bool | str = False,
) -> dict[str, list[Any]]:
    """Batched map function: pre-split words (+ int label ids) -> one row per window (see module doc).

    ``indices`` (from ``with_indices=True``) become ``sentence_id``; without them rows are numbered
    within the batch, which is only right when the whole dataset is one batch. ``max_length`` defaults
    to the tokenizer's ``model_max_length``; ``stride`` is the overlap between windows in tokens
    (default: a quarter of a window's word tokens, at most 32). Labels are read from ``labels_column``
    when present; by default only a word's first sub-token is labelled, with ``label_all_subtokens``
    its other sub-tokens get ``continuation_ids.get(label, label)`` (see :func:`continuation_label_ids`).
    """
    max_length = max_length or tokenizer.model_max_length
    stride = _checked_stride(tokenizer, max_length, stride)
    if label_all_subtokens and continuation_ids is None:
        raise NlptlError("label_all_subtokens=True needs continuation_ids (see continuation_label_ids()).")
    words = [list(sentence_words) for sentence_words in batch[words_column]]
    word_labels = batch.get(labels_column)
    sentence_ids = list(indices) if indices is not None else list(range(len(words)))

    encoding = _tokenize(tokenizer, words, max_length, stride, padding)
    if missing := _words_without_tokens(encoding, words):
        # Such words would never get a prediction; stand in the unknown token so each has a position.
        if tokenizer.unk_token is None:
            raise NlptlError(
                "some words produce no sub-tokens and the tokenizer has no unk_token to stand in for them."
            )
        for sentence_index, word_indices in missing.items():
            for word_index in word_indices:
                words[sentence_index][word_index] = tokenizer.unk_token
        encoding = _tokenize(tokenizer, words, max_length, stride, padding)

    window_sentences: list[int] = list(encoding["overflow_to_sample_mapping"])
    windows_by_sentence: dict[int, list[int]] = {}
    for window_index, sentence_index in enumerate(window_sentences):
        windows_by_sentence.setdefault(sentence_index, []).append(window_index)

    scored_word_ids = [[NOT_SCORED] * len(encoding["input_ids"][w]) for w in range(len(window_sentences))]
    labels = [[IGNORE_INDEX] * len(row) for row in scored_word_ids] if word_labels is not None else None
    overflow_words = [0] * len(window_sentences)
    for sentence_index, window_indices in windows_by_sentence.items():
        windows_word_ids = [encoding.word_ids(window_index) for window_index in window_indices]
        owners, new_word_counts = _assign_owners(windows_word_ids)
        for window_index, new_words in zip(window_indices, new_word_counts, strict=True):
            overflow_words[window_index] = new_words
        for word_id, (local_window, position) in owners.items():
            window_index = window_indices[local_window]
            scored_word_ids[window_index][position] = word_id
            if labels is None or word_labels is None:
                continue
            word_label = word_labels[sentence_index][word_id]
            if isinstance(word_label, str):
                raise NlptlError(
                    f"column {labels_column!r} holds string tags like {word_label!r}; convert them to label "
                    "ids first (nlptl.data.tags.encode_tags, or cast_column with a ClassLabel)."
                )
            labels[window_index][position] = word_label
            if label_all_subtokens:
                assert continuation_ids is not None
                window_word_ids = windows_word_ids[local_window]
                next_position = position + 1
                while next_position < len(window_word_ids) and window_word_ids[next_position] == word_id:
                    labels[window_index][next_position] = continuation_ids.get(word_label, word_label)
                    next_position += 1

    aligned: dict[str, list[Any]] = {
        key: list(values) for key, values in encoding.items() if key != "overflow_to_sample_mapping"
    }
    if labels is not None:
        aligned[LABELS_COLUMN] = labels
    aligned[WORD_IDS_COLUMN] = scored_word_ids
    aligned[SENTENCE_ID_COLUMN] = [sentence_ids[sentence_index] for sentence_index in window_sentences]
    aligned[OVERFLOW_WORDS_COLUMN] = overflow_words
    return aligned


def stitch_word_predictions(
    predictions: Any,
    word_ids: Sequence[Sequence[int]],
    sentence_ids: Sequence[int],
    num_words: Sequence[int] | None = None,
) -> list[list[int]]:
    """Per-window token predictions -> exactly one predicted label id per word, per source sentence.

    ``predictions`` holds one row per window: predicted ids (``[positions]``) or logits
    (``[positions, labels]``, arg-maxed here); rows may be padded past the window length. ``word_ids``
    and ``sentence_ids`` are the columns written by :func:`tokenize_and_align`. The result is indexed
    by ``sentence_id`` (``0 .. max id``, or ``len(num_words)`` sentences when given). Stitching the
    ``labels`` column the same way gives the gold label per word. Raises ``ValueError`` when a word is
    predicted twice or never (e.g. ``sentence_id`` restarted per batch because the map lacked
    ``with_indices=True``); only with ``num_words`` can a missing last word be noticed.
    """
    rows = [np.asarray(row) for row in predictions]
    ids = [row.argmax(axis=-1) if row.ndim == 2 else row for row in rows]
    return [[int(p) for p in sentence] for sentence in _stitch(ids, word_ids, sentence_ids, num_words)]


def stitch_word_scores(
    scores: Any,
    word_ids: Sequence[Sequence[int]],
    sentence_ids: Sequence[int],
    num_words: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """Like :func:`stitch_word_predictions`, for score vectors: one ``(words, labels)`` array per sentence
    (the input of sequence decoding, which needs every label's score, not just the best one)."""
    stitched = _stitch([np.asarray(row) for row in scores], word_ids, sentence_ids, num_words)
    return [np.asarray(sentence, dtype=np.float64) if sentence else np.empty((0, 0)) for sentence in stitched]


def _stitch(rows: list[np.ndarray], word_ids: Sequence[Sequence[int]], sentence_ids: Sequence[int],
            num_words: Sequence[int] | None) -> list[list[Any]]:
    if len(word_ids) != len(sentence_ids) or len(rows) != len(sentence_ids):
        raise ValueError(
            f"got {len(rows)} prediction rows, {len(word_ids)} word_ids rows and "
            f"{len(sentence_ids)} sentence ids; they must all have one row per window."
        )
    num_sentences = len(num_words) if num_words is not None else max(sentence_ids, default=-1) + 1
    per_sentence: list[dict[int, Any]] = [{} for _ in range(num_sentences)]
    for window_index, sentence_id in enumerate(sentence_ids):
        window_word_ids = np.asarray(word_ids[window_index])
        positions = np.flatnonzero(window_word_ids != NOT_SCORED)
        sentence_predictions = per_sentence[sentence_id]
        for word_id, prediction in zip(window_word_ids[positions].tolist(), rows[window_index][positions],
                                       strict=True):
            if word_id in sentence_predictions:
                raise ValueError(
                    f"word {word_id} of sentence {sentence_id} is scored in two windows; were the windows "
                    "built with with_indices=True so sentence ids are unique across batches?"
                )
            sentence_predictions[word_id] = prediction
    stitched: list[list[Any]] = []
    for sentence_id, sentence_predictions in enumerate(per_sentence):
        expected = num_words[sentence_id] if num_words is not None else len(sentence_predictions)
        if sorted(sentence_predictions) != list(range(expected)):
            raise ValueError(
                f"sentence {sentence_id}: predictions for words {sorted(sentence_predictions)}, expected "
                f"exactly one for each of its {expected} words."
            )
        stitched.append([sentence_predictions[word_id] for word_id in range(expected)])
    return stitched
