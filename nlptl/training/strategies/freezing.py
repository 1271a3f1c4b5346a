"""Strategies that choose which pretrained layers train: partial freezing and gradual unfreezing (ULMFiT).

Frozen parameters have `requires_grad=False`, so they get no gradient. AdamW skips parameters without a
gradient entirely (no update, no weight decay, no moment state), which is what lets gradual unfreezing put
every parameter in the optimizer at the start and switch groups on later: a group's Adam state starts the
step it is unfrozen.
"""

from __future__ import annotations

import logging

import torch

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe
from nlptl.training.layers import layer_groups, set_trainable
from nlptl.training.strategies.base import FullFineTuning

logger = logging.getLogger(__name__)


class PartialFreezing(FullFineTuning):
    """Embeddings and the bottom `strategy.freeze_layers` layers stay as pretrained (Sun et al. 2019; lower
    layers hold general features, upper ones adapt to the task)."""

    name = "partial_freezing"
    description = "partial freezing: the embeddings and the bottom {freeze_layers} encoder layers stay frozen"

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.freeze_layers = recipe.strategy.freeze_layers

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        groups = layer_groups(model)
        if not 0 <= self.freeze_layers <= len(groups.layers):
            raise NlptlError(f"strategy.freeze_layers={self.freeze_layers}: the model has {len(groups.layers)} "
                             f"encoder layers; choose 0..{len(groups.layers)}")
        frozen = groups.embeddings + [name for layer in groups.layers[:self.freeze_layers] for name in layer]
        set_trainable(model, frozen, False)
        logger.info("partial freezing: embeddings and the bottom %d of %d layers frozen", self.freeze_layers,
                    len(groups.layers))
        return model


class GradualUnfreezing(FullFineTuning):
    """ULMFiT (Howard & Ruder 2018): train the head first, then unfreeze one more layer group, top down, every
    epoch (or every `strategy.unfreeze_every_steps` optimizer steps), so the task head settles before it
    sends gradients into the pretrained layers. Groups: head, top layer, ..., bottom layer, embeddings."""

    name = "gradual_unfreezing"
    description = ("gradual unfreezing (ULMFiT): layer groups are unfrozen from the top down, one more group every "
                   "{unfreeze_every_steps} steps (every epoch when unset)")
    ddp_find_unused_parameters = True

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.every_steps = recipe.strategy.unfreeze_every_steps
        if self.every_steps is not None and self.every_steps < 1:
            raise NlptlError(f"strategy.unfreeze_every_steps={self.every_steps}: use a positive number or none")
        self.groups: list[list[str]] = []
        self.unfrozen = 0

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        self.groups = layer_groups(model).top_down()
        return model  # everything trainable now, so every parameter enters the optimizer (and DDP's buckets)

    def on_train_start(self, total_steps: int, steps_per_epoch: int) -> None:
        """Warn when the run ends before every group has opened: a short run with this schedule silently
        trains like partial freezing (on SST-2 with 100 steps, a group every 15 steps cost 10-20 points)."""
        interval = self.every_steps or steps_per_epoch
        opened = min(len(self.groups), (total_steps - 1) // max(interval, 1) + 1)
        if opened < len(self.groups):
            unit = f"every {self.every_steps} steps" if self.every_steps else f"every epoch ({steps_per_epoch} steps)"
            logger.warning("gradual unfreezing: one group %s opens only %d of the %d layer groups in this %d-step run; "
                           "set strategy.unfreeze_every_steps to at most %d to open them all in its first half",
                           unit, opened, len(self.groups), total_steps,
                           max(total_steps // (2 * (len(self.groups) - 1)), 1))

    def on_epoch_start(self, model: torch.nn.Module, epoch: int) -> None:
        if self.every_steps is None:
            self.unfreeze(model, epoch + 1)

    def on_step_start(self, model: torch.nn.Module, step: int) -> None:
        if self.every_steps is not None:
            self.unfreeze(model, step // self.every_steps + 1)

    def unfreeze(self, model: torch.nn.Module, count: int) -> None:
        """Exactly the top `count` groups train; a function of epoch/step only, so a resumed run agrees."""
        count = min(count, len(self.groups))
        if count == self.unfrozen:
            return
        trainable = {name for group in self.groups[:count] for name in group}
        for name, param in model.named_parameters():
            param.requires_grad_(name in trainable)
        self.unfrozen = count
        logger.info("gradual unfreezing: top %d of %d layer groups train", count, len(self.groups))
