"""Class probabilities for many encoded rows, as fast as the hardware allows.

Rows are run longest first in batches padded to their own longest row (one sort per chunk, so padding waste
is small), under `torch.inference_mode`; results go back to the input order by index, so the caller never
sees the sort.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlptl.data.batching import SortedBatches
from nlptl.data.collate import PadCollator


def class_probabilities(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                        encoded: dict[str, list[list[int]]], batch_size: int) -> torch.Tensor:
    """Softmax over the classes for each encoded row, shape (rows, classes), fp32, in row order."""
    rows = len(encoded["input_ids"])
    probabilities = torch.empty(rows, model.config.num_labels or 0, dtype=torch.float32)
    if rows == 0:
        return probabilities
    collate = PadCollator(tokenizer, model_inputs=tuple(encoded))
    device = model.device
    lengths = [len(ids) for ids in encoded["input_ids"]]
    with torch.inference_mode():
        for batch_rows in SortedBatches(lengths, batch_size):
            batch = collate([{key: values[i] for key, values in encoded.items()} for i in batch_rows])
            logits = model(**{key: tensor.to(device) for key, tensor in batch.items()}).logits
            probabilities[batch_rows] = logits.float().softmax(dim=-1).cpu()
    return probabilities


def pool_windows(probabilities: torch.Tensor, owners: list[int], texts: int) -> torch.Tensor:
    """Mean class probabilities of each text's windows (a text with one window keeps its own)."""
    if len(owners) == texts and owners == list(range(texts)):
        return probabilities
    index = torch.tensor(owners, dtype=torch.long)
    sums = torch.zeros(texts, probabilities.shape[1]).index_add_(0, index, probabilities)
    counts = torch.zeros(texts).index_add_(0, index, torch.ones(len(owners)))
    return sums / counts.clamp(min=1).unsqueeze(1)
