"""Texts -> model inputs for inference, in one fast-tokenizer call per chunk.

Texts longer than `max_length` are either truncated (head, tail or head_tail, as in training) or cut into
overlapping windows (`long_text="window"`) whose class probabilities are averaged afterwards, so no part of a
long review is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from nlptl.data.truncation import STRATEGIES, encode_single, special_token_frame
from nlptl.errors import NlptlError

LONG_TEXT = ("truncate", "window")


@dataclass(frozen=True)
class EncodeSettings:
    max_length: int
    truncation: str = "head"  # head | tail | head_tail, when long_text="truncate"
    head_tokens: int = 128  # head_tail: tokens kept from the start
    long_text: str = "truncate"  # truncate | window
    stride: int | None = None  # window: tokens shared by neighbouring windows; None: a quarter of max_length

    def check(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """Fail before reading any input when a setting cannot work with this tokenizer."""
        if self.long_text not in LONG_TEXT:
            raise NlptlError(f"--long-text {self.long_text!r}: choose one of {', '.join(LONG_TEXT)}")
        if self.truncation not in STRATEGIES:
            raise NlptlError(f"--truncation {self.truncation!r}: choose one of {', '.join(STRATEGIES)}")
        prefix, suffix = special_token_frame(tokenizer)
        room = self.max_length - len(prefix) - len(suffix)
        if room < 1:
            raise NlptlError(f"--max-length {self.max_length} leaves no room for text after the special tokens")
        if self.long_text == "window" and not 0 <= self.window_stride() < room:
            raise NlptlError(f"--stride {self.stride}: must be at least 0 and below {room} "
                             f"(max_length {self.max_length} minus special tokens)")

    def window_stride(self) -> int:
        return self.max_length // 4 if self.stride is None else self.stride


def encode_texts(tokenizer: PreTrainedTokenizerBase, texts: list[str], settings: EncodeSettings,
                 pairs: list[str] | None = None) -> tuple[dict[str, list[list[int]]], list[int]]:
    """Model inputs, one row per text (truncate) or per window, and for each row the index of its text.
    With `pairs` (second texts), each row is the pair cut as training cuts pairs (longest_first)."""
    if pairs is not None:
        if settings.long_text == "window":
            raise NlptlError("--long-text window does not apply to text pairs; use --long-text truncate")
        both = tokenizer(texts, pairs, truncation="longest_first", max_length=settings.max_length)
        return {key: both[key] for key in tokenizer.model_input_names if key in both}, list(range(len(texts)))
    if settings.long_text == "window":
        encoded = tokenizer(texts, truncation=True, max_length=settings.max_length,
                            stride=settings.window_stride(), return_overflowing_tokens=True)
        owners = list(encoded["overflow_to_sample_mapping"])
        return {key: encoded[key] for key in tokenizer.model_input_names if key in encoded}, owners
    encoded = encode_single(tokenizer, texts, settings.max_length, settings.truncation, settings.head_tokens)
    return encoded, list(range(len(texts)))
