"""Transfer strategies decide which parameters train, at which rate, and how the loss is computed.

The trainer calls only these hooks, so freezing, layer-wise rates, LoRA or distillation plug in as new
strategy classes without touching the loop.
"""

from __future__ import annotations

from typing import Protocol

import torch

from nlptl.recipe import TrainConfig
from nlptl.tasks.base import Task
from nlptl.training.optim import param_groups


class Strategy(Protocol):
    name: str

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        """Freeze, wrap or replace parts of the model before the optimizer is built."""

    def param_groups(self, model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
        """Optimizer parameter groups."""

    def on_epoch_start(self, model: torch.nn.Module, epoch: int) -> None:
        """Called before each epoch (gradual unfreezing acts here)."""

    def loss_sum(self, model: torch.nn.Module, inputs: dict, labels: torch.Tensor, task: Task) -> torch.Tensor:
        """Summed loss of one micro-batch."""


class FullFineTuning:
    """Every parameter trains at the recipe's learning rate (Devlin et al. 2019)."""

    name = "full"

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def param_groups(self, model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
        return param_groups(model, cfg)

    def on_epoch_start(self, model: torch.nn.Module, epoch: int) -> None:
        return None

    def loss_sum(self, model: torch.nn.Module, inputs: dict, labels: torch.Tensor, task: Task) -> torch.Tensor:
        return task.loss_sum(model(**inputs).logits, labels)
