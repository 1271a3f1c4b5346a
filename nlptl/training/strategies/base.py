"""The Strategy protocol and full fine-tuning, the base the other strategies override hook by hook.

The trainer calls only these hooks, so freezing, layer-wise rates, LoRA or distillation plug in as new
strategy classes without touching the loop.
"""

from __future__ import annotations

import logging
from typing import Protocol, cast

import torch
from transformers import PreTrainedModel

from nlptl.recipe import Recipe, TrainConfig
from nlptl.tasks.base import Task
from nlptl.training.optim import param_groups

logger = logging.getLogger(__name__)
OWN_FORWARD = ("feature_extraction", "distill")  # strategies whose forward pass or loss is their own: not wrappable


class Strategy(Protocol):
    name: str
    description: str  # what it trains, in words (the model card); {field} = a strategy.* or distill.* setting
    ddp_find_unused_parameters: bool  # the trainable set changes mid-run: DDP must not wait for frozen grads

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        """Freeze, wrap or replace parts of the model before the optimizer is built."""

    def param_groups(self, model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
        """Optimizer parameter groups."""

    def on_train_start(self, total_steps: int, steps_per_epoch: int) -> None:
        """Called once the run's length is known, so a strategy can check its schedule against it."""

    def on_epoch_start(self, model: torch.nn.Module, epoch: int) -> None:
        """Called before each epoch (gradual unfreezing acts here)."""

    def on_step_start(self, model: torch.nn.Module, step: int) -> None:
        """Called before each optimizer step with the number of steps done (unfreezing every N steps)."""

    def loss_sum(self, model: torch.nn.Module, inputs: dict, labels: torch.Tensor, task: Task,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        """Summed loss of one micro-batch (`weights`: one per row, from data.weight_column)."""

    def progress(self) -> dict[str, float]:
        """Figures of the strategy's own objective since the last call, for each history.jsonl record (DANN's
        domain-classifier accuracy); empty for most."""

    def auxiliary_loss_sum(self) -> float:
        """The part of the loss sums since the last call that is the strategy's own objective, not the task's (DANN's
        domain loss, UDA's consistency term): the trainer logs and checks the task's loss without it."""

    def summary(self) -> dict:
        """What the strategy reports once, in metrics.json's `train` section (UDA: its unlabelled texts)."""

    def export_model(self, model: torch.nn.Module) -> PreTrainedModel:
        """The plain transformers model to save, called once after training (may change `model` in place)."""


class FullFineTuning:
    """Every parameter trains at the recipe's learning rate (Devlin et al. 2019)."""

    name = "full"
    description = "full fine-tuning: every parameter trains at the recipe's learning rate"
    ddp_find_unused_parameters = False

    def __init__(self, recipe: Recipe | None = None) -> None:
        self.recipe = recipe

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def param_groups(self, model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
        return param_groups(model, cfg)

    def on_train_start(self, total_steps: int, steps_per_epoch: int) -> None:
        return None

    def on_epoch_start(self, model: torch.nn.Module, epoch: int) -> None:
        return None

    def on_step_start(self, model: torch.nn.Module, step: int) -> None:
        return None

    def loss_sum(self, model: torch.nn.Module, inputs: dict, labels: torch.Tensor, task: Task,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        return task.loss_sum(*task.training_logits(model, inputs, labels), weights)

    def progress(self) -> dict[str, float]:
        return {}

    def auxiliary_loss_sum(self) -> float:
        return 0.0

    def summary(self) -> dict:
        return {}

    def export_model(self, model: torch.nn.Module) -> PreTrainedModel:
        return cast(PreTrainedModel, model)


def parameter_counts(model: torch.nn.Module, groups: list[dict]) -> dict[str, int]:
    """Parameters the optimizer updates over the run vs all the model holds (the cost of a strategy)."""
    trainable = sum(p.numel() for group in groups for p in group["params"])
    total = sum(p.numel() for p in model.parameters())
    logger.info("trainable parameters: %s of %s (%.2f%%)", f"{trainable:,}", f"{total:,}",
                100 * trainable / max(total, 1))
    return {"trainable_parameters": trainable, "total_parameters": total}
