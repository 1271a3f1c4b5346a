"""Sparse word-embedding updates: only the vocabulary rows a step's batch used get a gradient and an update.

A BERT word-embedding matrix (30,522 x 384 for MiniLM: 11.7M of its 22.7M parameters) gets a dense gradient
every step, although a batch of 32 SST-2 sentences touches about 400 of its rows. On a CPU the zero-filled
dense gradient, its norm and AdamW's update over all 11.7M rows cost about a fifth of a bf16 training step
(bench/step_candidates.py). Here the embedding returns a sparse (row) gradient (`nn.Embedding(sparse=True)`),
and its rows are stepped by `torch.optim.SparseAdam`, the "lazy Adam" of TensorFlow's LazyAdam: moments and
the decoupled weight decay of a row change only on steps that use it. Every other parameter keeps fused AdamW.

`train.embedding_update`: `auto` (sparse where it was measured to pay: one CPU process, no fp16 loss scaling,
an embedding not tied to an output layer), `sparse` (the same conditions, an error where they fail), `dense`
(AdamW on every row, as transformers.Trainer). Several processes stay dense: DDP with NCCL cannot reduce
sparse gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType

from nlptl.errors import NlptlError
from nlptl.recipe import TrainConfig

EMBEDDING_UPDATES = ("auto", "dense", "sparse")


def sparse_embedding(model: torch.nn.Module, groups: list[dict], cfg: TrainConfig,
                     accelerator: Accelerator) -> torch.nn.Embedding | None:
    """The word embedding to update sparsely, or None (dense); `sparse` where it cannot be is an error."""
    if cfg.embedding_update not in EMBEDDING_UPDATES:
        raise NlptlError(f"train.embedding_update={cfg.embedding_update!r}: choose one of "
                         f"{', '.join(EMBEDDING_UPDATES)}")
    if cfg.embedding_update == "dense":
        return None
    embedding = word_embedding(model)
    reason = why_dense(model, embedding, groups, accelerator)
    if reason is None and isinstance(embedding, torch.nn.Embedding):
        return embedding
    if cfg.embedding_update == "sparse":
        raise NlptlError(f"train.embedding_update=sparse is not possible here: {reason}; use auto or dense")
    return None


def word_embedding(model: torch.nn.Module) -> object:
    """The model's input (word) embedding, or None where it has none (feature extraction keeps only a head)."""
    get = getattr(model, "get_input_embeddings", None)
    try:
        return get() if callable(get) else None
    except NotImplementedError:
        return None


def why_dense(model: torch.nn.Module, embedding: object, groups: list[dict],
              accelerator: Accelerator) -> str | None:
    """Why the word embedding must get a dense gradient in this run (None: it can be sparse)."""
    if not isinstance(embedding, torch.nn.Embedding):
        return "the model has no plain word-embedding layer"
    if not any(p is embedding.weight for group in groups for p in group["params"]):
        return "the word embeddings do not train"
    sharing = [name for name, p in model.named_parameters(remove_duplicate=False) if p is embedding.weight]
    if len(sharing) > 1:
        return f"the word embeddings are tied to another layer ({sharing[1]})"
    if accelerator.num_processes > 1 or accelerator.distributed_type != DistributedType.NO:
        return "several processes (DDP reduces dense gradients only)"
    if accelerator.device.type != "cpu":
        return f"sparse updates are measured to pay on CPU only, this run is on {accelerator.device.type}"
    if accelerator.mixed_precision == "fp16":
        return "fp16 loss scaling unscales dense gradients only"
    return None


class SparseRowsAdamW(torch.optim.Optimizer):
    """One optimizer to the loop, scheduler and checkpoints: fused AdamW for the dense parameters, SparseAdam with
    decoupled weight decay on the used rows for the word embedding. `param_groups` is both optimizers' groups, so
    a scheduler sets every learning rate; the state dict holds both."""

    def __init__(self, dense: torch.optim.Optimizer, embedding: torch.Tensor, lr: float, weight_decay: float,
                 betas: tuple[float, float], eps: float) -> None:
        self.dense = dense
        self.rows = torch.optim.SparseAdam([embedding], betas=betas, eps=eps)  # it refuses lr=0 (a valid rate here)
        self.rows.param_groups[0].update(lr=lr, weight_decay=weight_decay)
        super().__init__([embedding], {})
        self.param_groups = self.dense.param_groups + self.rows.param_groups

    @property  # type: ignore[override]
    def state(self) -> dict:
        """Both optimizers' per-parameter state (each replaces its own on load_state_dict)."""
        return {**self.dense.state, **self.rows.state}

    @state.setter
    def state(self, value: dict) -> None:
        """Optimizer.__init__ assigns an empty state; the two optimizers keep the real ones."""

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = self.dense.step(closure)
        group = self.rows.param_groups[0]
        (weight,) = group["params"]
        if weight.grad is not None:
            if not weight.grad.is_sparse:
                raise NlptlError("the word embedding got a dense gradient: the model uses its weights outside the "
                                 "lookup (e.g. a tied output layer); set train.embedding_update=dense")
            weight.grad = weight.grad.coalesce()
            rows = weight.grad.indices()[0]
            if group["weight_decay"]:
                weight.index_copy_(0, rows, weight.index_select(0, rows) * (1 - group["lr"] * group["weight_decay"]))
            self.rows.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.dense.zero_grad(set_to_none=set_to_none)
        self.rows.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"dense": self.dense.state_dict(), "rows": self.rows.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        if set(state_dict) != {"dense", "rows"}:
            raise NlptlError("the checkpoint's optimizer state is from a run with dense word-embedding updates; "
                             "resume with train.embedding_update=dense")
        self.dense.load_state_dict(state_dict["dense"])
        self.rows.load_state_dict(state_dict["rows"])
        self.param_groups = self.dense.param_groups + self.rows.param_groups


def with_sparse_rows(build: Callable[[list[dict]], torch.optim.Optimizer], groups: list[dict],
                     embedding: torch.nn.Embedding, cfg: TrainConfig) -> torch.optim.Optimizer:
    """`build` (AdamW) over every group but the word embedding, whose rows SparseAdam steps at its group's rate."""
    weight = embedding.weight
    (home,) = [group for group in groups if any(p is weight for p in group["params"])]
    dense = [{**group, "params": [p for p in group["params"] if p is not weight]} for group in groups]
    embedding.sparse = True
    return SparseRowsAdamW(build([group for group in dense if group["params"]]), weight, lr=home["lr"],
                           weight_decay=home["weight_decay"], betas=(cfg.adam_betas[0], cfg.adam_betas[1]),
                           eps=cfg.adam_eps)


def check_resumable(checkpoint: Path, sparse: bool) -> None:
    """A checkpoint's optimizer state has the format of its run's embedding update; resuming it with the other one
    is a one-line error naming the setting (`auto` decides afresh, e.g. on another device or process count)."""
    saved = checkpoint / "optimizer.bin"
    if not saved.is_file():
        return
    try:
        was_sparse = set(torch.load(saved, map_location="cpu", weights_only=True)) == {"dense", "rows"}
    except Exception:  # a damaged file: the checkpoint loader reports it, with what to do
        return
    if was_sparse != sparse:
        used, now = ("sparse", "dense") if was_sparse else ("dense", "sparse")
        raise NlptlError(f"checkpoint {checkpoint} was written with {used} word-embedding updates and this run would "
                         f"use {now} ones; resume with --train.embedding_update {used}")
