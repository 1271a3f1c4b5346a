"""Long texts as overlapping windows, scored together: the one home of window cutting and pooling, so a
model's validation/test scores (`data.long_text: window`), `nlptl evaluate` and `nlptl predict` treat a long
review the same way.

Each window of a text is scored alone; a text's class probabilities are the softmax of its windows' pooled
logits — the mean (every part of the text counts) or the max (one strongly worded part decides). Pooling works
on log-probabilities, which equal the logits up to a per-window constant: the mean of them gives exactly the
softmax of the mean logits, and the max compares each class's strongest window.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerBase

from nlptl.errors import NlptlError

LONG_TEXT = ("truncate", "window")
POOLING = ("mean", "max")
TEXT_ID_COLUMN = "text_id"  # a window row's text (its row in the untokenized split)


def check_window_settings(long_text: str, pooling: str, pair: bool = False) -> None:
    """One line naming the setting that cannot work."""
    if long_text not in LONG_TEXT:
        raise NlptlError(f"long_text {long_text!r}: choose one of {', '.join(LONG_TEXT)}")
    if pooling not in POOLING:
        raise NlptlError(f"window_pooling {pooling!r}: choose one of {', '.join(POOLING)}")
    if long_text == "window" and pair:
        raise NlptlError("long_text window does not apply to text pairs; use truncate")


def default_stride(max_length: int, stride: int | None) -> int:
    """Tokens shared by neighbouring windows: a quarter of max_length unless set."""
    return max_length // 4 if stride is None else stride


def encode_windows(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int,
                   stride: int) -> tuple[dict[str, list[list[int]]], list[int]]:
    """Model inputs, one row per window, and for each row the index of its text (a short text: one window)."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length, stride=stride,
                        return_overflowing_tokens=True)
    owners = list(encoded["overflow_to_sample_mapping"])
    return {key: encoded[key] for key in tokenizer.model_input_names if key in encoded}, owners


def pool_windows(probabilities: torch.Tensor, owners: list[int], texts: int, pooling: str = "mean") -> torch.Tensor:
    """Class probabilities per text, (texts, classes), from its windows' probabilities (rows in `owners` order)."""
    if len(owners) == texts and owners == list(range(texts)):
        return probabilities
    log_p = probabilities.float().clamp(min=1e-30).log()
    index = torch.tensor(owners, dtype=torch.long).unsqueeze(1).expand_as(log_p)
    pooled = torch.full((texts, log_p.shape[1]), -torch.inf if pooling == "max" else 0.0)
    pooled = pooled.scatter_reduce(0, index, log_p, reduce="amax" if pooling == "max" else "mean",
                                   include_self=False)
    return pooled.softmax(dim=-1)


def mean_by_text(values: torch.Tensor, owners: list[int], texts: int) -> torch.Tensor:
    """Plain mean of each text's window outputs (multi-label probabilities, regression values)."""
    if len(owners) == texts and owners == list(range(texts)):
        return values
    index = torch.tensor(owners, dtype=torch.long)
    sums = torch.zeros(texts, values.shape[1]).index_add_(0, index, values.float())
    counts = torch.zeros(texts).index_add_(0, index, torch.ones(len(owners)))
    return sums / counts.clamp(min=1).unsqueeze(1)


def number_rows(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
    """Dataset.map function: `example_id` = the window's row number (windows are made per batch, so the
    row number is only known after the first map)."""
    return {"example_id": list(indices)}
