"""Optimizer and schedule. Parameter groups are built here so transfer strategies (frozen layers, layer-wise
learning rates, LoRA) only change which parameters train and at which rate, never the loop."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from transformers import get_scheduler
from transformers.pytorch_utils import ALL_LAYERNORM_LAYERS
from transformers.trainer_pt_utils import get_parameter_names

from nlptl.errors import NlptlError
from nlptl.recipe import TrainConfig
from nlptl.training.sparse_rows import with_sparse_rows

SCHEDULES = ("linear", "cosine", "constant")
NO_DECAY_NAME_PATTERNS = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]  # as Trainer


def no_decay_names(model: torch.nn.Module) -> set[str]:
    """Biases and normalisation weights: weight decay on them hurts (Loshchilov & Hutter; BERT's recipe). The
    split is transformers.Trainer's: LayerNorm modules, and parameters whose names say bias or norm."""
    decay = set(get_parameter_names(model, ALL_LAYERNORM_LAYERS, NO_DECAY_NAME_PATTERNS))
    return {name for name, _ in model.named_parameters() if name not in decay}


def numeric_lr(cfg: TrainConfig) -> float:
    """`train.lr` as a number: `auto` is replaced by the LR range test's rate before any optimizer is built."""
    if isinstance(cfg.lr, str):
        raise NlptlError(f"train.lr={cfg.lr!r} was not resolved to a number before building the optimizer")
    return float(cfg.lr)


def param_groups(model: torch.nn.Module, cfg: TrainConfig,
                 lr_for: Callable[[str], float] | None = None) -> list[dict]:
    """AdamW groups: trainable parameters only, split by (learning rate, decay or not)."""
    skip_decay = no_decay_names(model)
    groups: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lr = lr_for(name) if lr_for else numeric_lr(cfg)
        decay = 0.0 if name in skip_decay else cfg.weight_decay
        groups.setdefault((lr, decay), []).append(param)
    if not groups:
        raise NlptlError("no trainable parameters: the transfer strategy froze the whole model")
    return [{"params": params, "lr": lr, "weight_decay": decay} for (lr, decay), params in groups.items()]


def betas(cfg: TrainConfig) -> tuple[float, float]:
    first, second = cfg.adam_betas  # a list works too (a recipe built in Python)
    return first, second


def build_optimizer(groups: list[dict], cfg: TrainConfig,
                    sparse_rows: torch.nn.Embedding | None = None) -> torch.optim.Optimizer:
    """AdamW; with `sparse_rows` (training/sparse_rows.py), that embedding's used rows are stepped apart."""
    if sparse_rows is not None:
        return with_sparse_rows(lambda dense: adamw(dense, cfg), groups, sparse_rows, cfg)
    return adamw(groups, cfg)


def adamw(groups: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with the fused kernel (CPU and GPU): the per-tensor loop costs as much as a backward pass on CPU."""
    try:
        return torch.optim.AdamW(groups, lr=numeric_lr(cfg), betas=betas(cfg), eps=cfg.adam_eps, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(groups, lr=numeric_lr(cfg), betas=betas(cfg), eps=cfg.adam_eps, foreach=True)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    if cfg.scheduler not in SCHEDULES:
        raise NlptlError(f"train.scheduler={cfg.scheduler!r}: choose one of {', '.join(SCHEDULES)}")
    name = "constant_with_warmup" if cfg.scheduler == "constant" else cfg.scheduler
    warmup = math.ceil(cfg.warmup_ratio * total_steps)
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
