"""Discriminative fine-tuning: lower layers, which hold more general features, move less (Howard & Ruder 2018;
Sun et al. 2019 found a decay of 0.95 best for BERT-base on text classification)."""

from __future__ import annotations

import torch

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe, TrainConfig
from nlptl.training.layers import layer_groups
from nlptl.training.optim import numeric_lr, param_groups
from nlptl.training.strategies.base import FullFineTuning


class LayerwiseLR(FullFineTuning):
    """Learning rate lr * decay ** depth: depth 0 for the head, the pooler and the top layer, one more per layer
    below it; the embeddings sit one below the bottom layer."""

    name = "layerwise_lr"
    description = "layer-wise learning-rate decay: each layer trains at lr x {lr_decay} ^ (layers above it)"

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.decay = recipe.strategy.lr_decay
        if not 0 < self.decay <= 1:
            raise NlptlError(f"strategy.lr_decay={self.decay}: use a factor in (0, 1], e.g. 0.9")

    def param_groups(self, model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
        depths = layer_groups(model).depth_from_top()
        return param_groups(model, cfg, lr_for=lambda name: numeric_lr(cfg) * self.decay ** depths[name])
