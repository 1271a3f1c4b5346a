"""Texts -> model inputs -> model outputs, as fast as the hardware allows; one engine for every kind of head.

Texts are encoded in one fast-tokenizer call per chunk. Texts longer than `max_length` are either truncated
(head, tail or head_tail, as in training) or cut into overlapping windows (`long_text="window"`) whose logits are
pooled afterwards (`nlptl.data.windows`, shared with training's scoring), so no part of a long review is ignored.

Rows are run longest first in batches padded to their own longest row (one sort per chunk, so padding waste
is small), under `torch.inference_mode`; each batch's outputs come back with the rows they belong to, so the
caller puts them in input order and never sees the sort. Sequence classification (here) and NER
(`nlptl.inference.ner`) both run through `sorted_forward`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlptl.data.batching import SortedBatches
from nlptl.data.collate import MODEL_INPUTS, PadCollator
from nlptl.data.truncation import STRATEGIES, encode_single, special_token_frame
from nlptl.data.windows import check_window_settings, default_stride, encode_windows
from nlptl.errors import NlptlError


@dataclass(frozen=True)
class EncodeSettings:
    max_length: int
    truncation: str = "head"  # head | tail | head_tail, when long_text="truncate"
    head_tokens: int = 128  # head_tail: tokens kept from the start
    long_text: str = "truncate"  # truncate | window
    stride: int | None = None  # window: tokens shared by neighbouring windows; None: a quarter of max_length
    pooling: str = "mean"  # window: mean | max of the windows' logits

    def check(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """Fail before reading any input when a setting cannot work with this tokenizer."""
        check_window_settings(self.long_text, self.pooling)  # one message for recipe fields and flags
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
        return default_stride(self.max_length, self.stride)


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
        return encode_windows(tokenizer, texts, settings.max_length, settings.window_stride())
    encoded = encode_single(tokenizer, texts, settings.max_length, settings.truncation, settings.head_tokens)
    return encoded, list(range(len(texts)))


def sorted_forward(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, encoded: dict[str, list],
                   batch_size: int, output: Callable[[torch.Tensor], torch.Tensor],
                   model_inputs: tuple[str, ...] = MODEL_INPUTS) -> list[tuple[list[int], torch.Tensor]]:
    """`output(logits)` of each length-sorted batch of the encoded rows, with the row indices it holds (in batch
    order). `encoded` may hold columns other than `model_inputs`; they stay behind."""
    collate = PadCollator(tokenizer, model_inputs=model_inputs)
    device = model.device
    lengths = [len(ids) for ids in encoded["input_ids"]]
    outputs = []
    with torch.inference_mode():
        for rows in SortedBatches(lengths, batch_size):
            batch = collate([{key: values[i] for key, values in encoded.items()} for i in rows])
            outputs.append((rows, output(model(**{key: tensor.to(device) for key, tensor in batch.items()}).logits)))
    return outputs


def class_probabilities(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                        encoded: dict[str, list[list[int]]], batch_size: int) -> torch.Tensor:
    """Softmax over the classes for each encoded row, shape (rows, classes), fp32, in row order."""
    rows = len(encoded["input_ids"])
    probabilities = torch.empty(rows, model.config.num_labels or 0, dtype=torch.float32)
    if rows == 0:
        return probabilities
    for batch_rows, batch_probabilities in sorted_forward(model, tokenizer, encoded, batch_size,
                                                          lambda logits: logits.float().softmax(dim=-1).cpu(),
                                                          model_inputs=tuple(encoded)):
        probabilities[batch_rows] = batch_probabilities
    return probabilities


def head_outputs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, encoded: dict[str, list[list[int]]],
                 batch_size: int, transform: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`transform(logits)` (fp32) for each encoded row, shape (rows, outputs), in row order: a multi-label
    head's sigmoids, a regression head's values."""
    rows = len(encoded["input_ids"])
    outputs = torch.empty(rows, model.config.num_labels or 0, dtype=torch.float32)
    if rows == 0:
        return outputs
    for batch_rows, values in sorted_forward(model, tokenizer, encoded, batch_size,
                                             lambda logits: transform(logits.float()).cpu(),
                                             model_inputs=tuple(encoded)):
        outputs[batch_rows] = values
    return outputs

