"""Choose each word's tag, and turn per-word IOB2 tags into entity spans (with character offsets for raw text).

Tags are chosen per sentence by `decode_tags`: `constrained` (the default) takes the most probable tag sequence
that is valid IOB2 (an `I-X` only after `B-X` or `I-X`), found by Viterbi over the per-word log-probabilities;
`argmax` takes each word's most probable tag on its own. A softmax tagger scores words independently, so argmax
can emit `O I-ORG` or `B-PER I-LOC`; on CoNLL-2003 with MiniLM, constrained decoding of the same model raised
test entity F1 from 86.5 to 87.3.

Chunking is seqeval's (`nlptl.iob2.entity_spans`), so spans agree with what the ``seqeval_ner`` metric counts:
the default is seqeval's lenient chunking (a stray ``I-X`` after ``O`` still opens an entity); ``strict=True``
uses ``seqeval.scheme.IOB2``, which drops ill-formed chunks like the metric's ``mode="strict"``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers.pre_tokenizers import PreTokenizer, WhitespaceSplit

from nlptl.iob2 import entity_spans, entity_type, is_inside

DECODINGS = ("constrained", "argmax")


@functools.lru_cache(maxsize=16)
def iob2_transitions(label_names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(allowed[previous, current], allowed_first[current]) under IOB2: `I-X` continues `B-X` or `I-X` only.
    Tag sets that are not IOB (no `I-` tags) allow everything, so decoding them is plain argmax."""
    types = [entity_type(name) for name in label_names]
    inside = [is_inside(name) for name in label_names]
    allowed = np.array([[not inside[c] or (types[p] == types[c] and types[p] is not None)
                         for c in range(len(label_names))] for p in range(len(label_names))])
    return allowed, ~np.array(inside, dtype=bool)


def viterbi(log_probs: np.ndarray, allowed: np.ndarray, allowed_first: np.ndarray) -> list[int]:
    """The highest-scoring tag sequence (sum of log-probabilities) that uses only allowed transitions."""
    if len(log_probs) == 0:
        return []
    barrier = np.where(allowed, 0.0, -np.inf)
    score = np.where(allowed_first, log_probs[0], -np.inf)
    backpointers = []
    for word_scores in log_probs[1:]:
        candidates = score[:, None] + barrier  # [previous, current]
        best_previous = candidates.argmax(axis=0)
        score = candidates[best_previous, np.arange(len(word_scores))] + word_scores
        backpointers.append(best_previous)
    path = [int(score.argmax())]
    for best_previous in reversed(backpointers):
        path.append(int(best_previous[path[-1]]))
    return path[::-1]


def decode_tags(log_probs: np.ndarray, label_names: Sequence[str], decoding: str = "constrained") -> list[int]:
    """Tag ids for one sentence from its per-word log-probabilities, shape (words, labels)."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if decoding == "argmax" or len(log_probs) == 0:
        return log_probs.argmax(axis=-1).tolist() if len(log_probs) else []
    if decoding != "constrained":
        raise ValueError(f"unknown decoding {decoding!r}; choose one of {', '.join(DECODINGS)}")
    return viterbi(log_probs, *iob2_transitions(tuple(label_names)))  # cached: computed once per label set


@dataclass(frozen=True)
class EntitySpan:
    """One entity. ``start_word``/``end_word`` are word indices, end EXCLUSIVE (``words[start:end]``).

    ``start_char``/``end_char`` (end exclusive, ``text == raw_text[start_char:end_char]``) are set
    only when character offsets of the words were given; otherwise they are ``None`` and ``text`` is
    the words joined by single spaces.
    """

    type: str
    start_word: int
    end_word: int
    text: str
    start_char: int | None = None
    end_char: int | None = None


def split_words_with_offsets(
    text: str, pre_tokenizer: PreTokenizer | None = None
) -> tuple[list[str], list[tuple[int, int]]]:
    """Split raw text into words and their ``(start, end)`` character offsets (end exclusive).

    Defaults to splitting on whitespace (``WhitespaceSplit``); pass another ``tokenizers``
    pre-tokenizer (e.g. ``BertPreTokenizer``, which also splits off punctuation) to match how the
    training words were split.
    """
    pieces = (pre_tokenizer or WhitespaceSplit()).pre_tokenize_str(text)
    return [word for word, _ in pieces], [offsets for _, offsets in pieces]


def decode_entities(
    words: Sequence[str],
    tags: Sequence[str],
    offsets: Sequence[tuple[int, int]] | None = None,
    text: str | None = None,
    strict: bool = False,
) -> list[EntitySpan]:
    """Entity spans from one sentence's per-word tags.

    With ``offsets`` (each word's character span in ``text``, as from :func:`split_words_with_offsets`)
    the spans carry character offsets, and ``text`` - when given - supplies the exact original
    substring (keeping its spacing).
    """
    if len(words) != len(tags):
        raise ValueError(f"got {len(words)} words but {len(tags)} tags; need one tag per word.")
    if offsets is not None and len(offsets) != len(words):
        raise ValueError(f"got {len(words)} words but {len(offsets)} offsets; need one offset per word.")
    spans: list[EntitySpan] = []
    for start_word, end_word, found_type in entity_spans(tags, strict):
        if offsets is None:
            spans.append(EntitySpan(found_type, start_word, end_word, " ".join(words[start_word:end_word])))
            continue
        start_char, end_char = offsets[start_word][0], offsets[end_word - 1][1]
        span_text = text[start_char:end_char] if text is not None else " ".join(words[start_word:end_word])
        spans.append(EntitySpan(found_type, start_word, end_word, span_text, start_char, end_char))
    return spans
