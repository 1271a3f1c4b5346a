"""Rows of a second stream beside the labelled batches (DANN's target-domain texts, UDA's unlabelled texts), handed
out per micro-batch as a function of (optimizer step, micro-batch, process) alone: a resumed run draws exactly the
rows the uninterrupted run would have, and within a step each process reads its own stretch of the permutation
(the same rows only once the stream wraps around)."""

from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerBase

from nlptl.data.truncation import encode_single
from nlptl.recipe import DataConfig


def text_rows(tokenizer: PreTrainedTokenizerBase, texts: list[str], data: DataConfig) -> list[dict[str, list[int]]]:
    """The texts tokenized and cut as the recipe cuts its labelled texts, one dict of model inputs per text."""
    encoded = encode_single(tokenizer, texts, data.max_length, data.truncation, data.head_tokens)
    return [dict(zip(encoded, values, strict=True)) for values in zip(*encoded.values(), strict=True)]


class SideRows:
    """A seeded permutation of `count` row indices, read in order and wrapped around; call `start_step` before each
    optimizer step and `take` once per micro-batch."""

    def __init__(self, count: int, seed: int, grad_accum: int) -> None:
        if count < 1:
            raise ValueError("a side stream needs at least one row")  # callers name the recipe field first
        self.order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
        self.grad_accum = grad_accum
        self.step = self.micro = 0

    def start_step(self, step: int) -> None:
        self.step, self.micro = step, 0

    def take(self, size: int) -> list[int]:
        """The row indices of this process's next micro-batch of `size` rows."""
        from nlptl.training.distributed import partial_state

        state = partial_state()
        micro = self.step * self.grad_accum + self.micro
        start = (micro * state.num_processes + state.process_index) * size
        self.micro += 1
        return [self.order[(start + i) % len(self.order)] for i in range(size)]
