"""Dynamic padding: each batch is padded to its own longest row; labels and example ids pass through."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

PASSTHROUGH = ("labels", "example_id")


class PadCollator:
    """Pads token inputs with the tokenizer; pads list-valued labels (token tasks) with -100."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, pad_to_multiple_of: int | None = None,
                 model_inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")) -> None:
        self.tokenizer = tokenizer
        self.pad_to_multiple_of = pad_to_multiple_of
        self.model_inputs = model_inputs

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        features = [{k: row[k] for k in self.model_inputs if k in row} for row in rows]
        batch = dict(self.tokenizer.pad(features, padding=True, pad_to_multiple_of=self.pad_to_multiple_of,
                                        return_tensors="pt"))
        width = batch["input_ids"].shape[1]
        for key in PASSTHROUGH:
            if key not in rows[0]:
                continue
            values = [row[key] for row in rows]
            if isinstance(values[0], list):  # per-token labels
                values = [v + [-100] * (width - len(v)) for v in values]
            batch[key] = torch.tensor(values, dtype=torch.long)
        return batch
