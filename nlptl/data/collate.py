"""Dynamic padding: each batch is padded to its own longest row; labels and example ids pass through.

The padding is transformers' own collators: `DataCollatorForTokenClassification` for per-token labels (padded
with -100) and rows without labels, `DataCollatorWithPadding` for one label per row."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding, PreTrainedTokenizerBase

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "task_index")
"""The columns a batch hands to the model's forward (the rest are targets and bookkeeping); `task_index` picks
a multi-task model's head (only multi-task batches carry it)."""
PASSTHROUGH = ("labels", "example_id", "weight")  # weight: per-example loss weights (nlptl.data.weights)


class Collator(Protocol):
    """What the trainer's loaders collate with."""

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]: ...

    def set_epoch(self, epoch: int) -> None:
        """Called before each epoch's batches are drawn: collators that draw per epoch (augmentation,
        masking) reseed here."""


class PadCollator:
    """Pads token inputs with the tokenizer; pads list-valued labels (token tasks) with -100. Columns other
    than the model inputs, `labels` and `example_id` (e.g. NER's stitching columns) are left behind."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, pad_to_multiple_of: int | None = None,
                 model_inputs: tuple[str, ...] = MODEL_INPUTS, row_labels: bool = False) -> None:
        self.tokenizer = tokenizer
        self.row_labels = row_labels  # list-valued labels belong to the row (multi-label, several targets)
        self.keep = (*model_inputs, *PASSTHROUGH)
        self.per_token = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_to_multiple_of)
        self.per_row = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        features = [{k: row[k] for k in self.keep if k in row} for row in rows]
        labels = features[0].get("labels")
        per_row = labels is not None and (self.row_labels or not isinstance(labels, list))
        pad = self.per_row if per_row else self.per_token
        return dict(pad(features))

    def set_epoch(self, epoch: int) -> None:
        return None  # the same padding every epoch
