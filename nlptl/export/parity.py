"""Does the exported graph predict what the PyTorch model predicts? Both run the same encoded held-out texts
(same batches, same padding); the report is the share of identical labels (per text, or per token for NER) and
the largest absolute logit difference."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import torch

from nlptl.data.batching import SortedBatches
from nlptl.data.collate import PadCollator
from nlptl.data.files.stream import open_source, read_chunks
from nlptl.errors import NlptlError


@dataclass
class Parity:
    texts: int  # held-out texts compared
    compared: int  # labels compared: one per text, or one per token for token classification
    identical: int
    max_logit_diff: float
    source: str

    @property
    def identical_share(self) -> float:
        return self.identical / self.compared if self.compared else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "identical_share": self.identical_share}

    def line(self) -> str:
        unit = "labels" if self.compared == self.texts else "token labels"
        return (f"parity on {self.texts} held-out texts ({self.source}): {unit} identical "
                f"{100 * self.identical_share:.2f}% ({self.identical}/{self.compared}), "
                f"max |logit difference| {self.max_logit_diff:.3g}")


def sample_texts(source_name: str, split: str | None, column: str, pair_column: str | None, count: int,
                 config_name: str | None = None, recipe_mirrors: dict[str, str] | None = None,
                 seed: int = 0) -> tuple[list[str], list[str] | None, str]:
    """`count` texts drawn evenly (seeded reservoir sample) from a file, directory split or Hub split; a list of
    words (NER data) is joined with spaces. Returns texts, second texts (pair models) and where they came from."""
    source = open_source(source_name, split, column, config_name, recipe_mirrors)
    rng = random.Random(seed)
    kept: list[tuple[str, str]] = []
    seen = 0
    for chunk in read_chunks(source, 4096, column):
        if pair_column and pair_column not in chunk.table.column_names:
            raise NlptlError(f"{source.name} has no column {pair_column!r} (the model's data.text_pair_column)")
        texts = chunk.table.column(column).to_pylist()
        pairs = chunk.table.column(pair_column).to_pylist() if pair_column else [""] * len(texts)
        for text, pair in zip(texts, pairs, strict=True):
            text = " ".join(map(str, text)) if isinstance(text, list) else text
            if not isinstance(text, str) or not text.strip():
                continue
            seen += 1
            if len(kept) < count:
                kept.append((text, pair or ""))
            elif (slot := rng.randrange(seen)) < count:
                kept[slot] = (text, pair or "")
    if not kept:
        raise NlptlError(f"{source.name} has no usable text in column {column!r} for the parity check")
    return [t for t, _ in kept], ([p for _, p in kept] if pair_column else None), source.name


@torch.inference_mode()
def compare(reference: Any, candidate: Any, tokenizer: Any, encoded: dict[str, list[list[int]]], batch_size: int,
            source: str) -> Parity:
    """Run both models on the same batches; token logits are compared where the attention mask is 1."""
    collate = PadCollator(tokenizer, model_inputs=tuple(encoded))
    lengths = [len(ids) for ids in encoded["input_ids"]]
    compared = identical = 0
    worst = 0.0
    for rows in SortedBatches(lengths, batch_size):
        batch = collate([{key: values[i] for key, values in encoded.items()} for i in rows])
        expected = reference(**batch).logits.float()
        got = candidate(**batch).logits.float()
        if expected.dim() == 3:  # token classification: real tokens only
            mask = batch["attention_mask"].bool()
            expected, got = expected[mask], got[mask]
        compared += expected.shape[0]
        identical += int((expected.argmax(-1) == got.argmax(-1)).sum())
        worst = max(worst, float((expected - got).abs().max()))
    return Parity(len(lengths), compared, identical, worst, source)
