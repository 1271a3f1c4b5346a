"""Methods that add a term of their own to the loss of the recipe's transfer strategy (DANN's domain loss, UDA's
consistency term) and hand every other hook to that strategy, which keeps deciding what trains and at which rate."""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe, TrainConfig
from nlptl.training.strategies.base import OWN_FORWARD, Strategy


def wrapper_words(recipe: Recipe) -> str | None:
    """The recipe's loss-adding method in words (the model card's strategy section), None when it has none."""
    semi, domain = recipe.semi, recipe.domain
    if semi.method == "uda":
        return (f"consistency training (UDA, Xie et al. 2020) on unlabelled texts ({recipe.data.unlabelled_split}; "
                f"augmented copies: {', '.join(semi.uda_ops)} at {semi.uda_alpha})")
    if domain.method == "dann":
        return (f"adversarial domain adaptation (DANN, Ganin et al. 2016) toward the unlabelled texts of "
                f"{domain.target_source or recipe.data.source} ({domain.target_split})")
    return None


def check_wrappable(recipe: Recipe, method: str) -> None:
    """A wrapper reads single texts of a sequence classifier through the inner strategy's own forward pass."""
    if recipe.strategy.name in OWN_FORWARD:
        raise NlptlError(f"{method} does not combine with strategy {recipe.strategy.name}; use full, layerwise_lr, "
                         "partial_freezing, gradual_unfreezing or lora")
    if recipe.task != "sequence_classification" or recipe.data.text_pair_column:
        raise NlptlError(f"{method} applies to sequence classification of single texts")


class StrategyWrapper:
    """Delegates every hook to `inner`; subclasses add their term in `loss_sum` and count it in `self.auxiliary`."""

    name = "wrapper"

    def __init__(self, inner: Strategy, recipe: Recipe) -> None:
        self.inner, self.recipe = inner, recipe
        self.description = f"{inner.description}; {wrapper_words(recipe)}"
        self.ddp_find_unused_parameters = inner.ddp_find_unused_parameters
        self.total_steps = 1
        self.auxiliary: torch.Tensor | float = 0.0  # the wrapper's own loss term (detached), summed since last read

    def configure(self, model: nn.Module) -> nn.Module:
        return self.inner.configure(model)

    def param_groups(self, model: nn.Module, cfg: TrainConfig) -> list[dict]:
        return self.inner.param_groups(model, cfg)

    def on_train_start(self, total_steps: int, steps_per_epoch: int) -> None:
        self.total_steps = max(total_steps, 1)
        self.inner.on_train_start(total_steps, steps_per_epoch)

    def on_epoch_start(self, model: nn.Module, epoch: int) -> None:
        self.inner.on_epoch_start(model, epoch)

    def on_step_start(self, model: nn.Module, step: int) -> None:
        self.inner.on_step_start(model, step)

    def progress(self) -> dict[str, float]:
        return self.inner.progress()

    def auxiliary_loss_sum(self) -> float:
        total, self.auxiliary = float(self.auxiliary), 0.0  # read once per optimizer step: one device sync
        return total + self.inner.auxiliary_loss_sum()

    def summary(self) -> dict:
        return self.inner.summary()

    def export_model(self, model: nn.Module) -> PreTrainedModel:
        return self.inner.export_model(model)
