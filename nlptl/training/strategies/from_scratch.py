"""The control that measures transfer: the same architecture and configuration, randomly initialised."""

from __future__ import annotations

import logging

import torch

from nlptl.training.strategies.base import FullFineTuning

logger = logging.getLogger(__name__)


class FromScratch(FullFineTuning):
    """Full training of a fresh model built from the checkpoint's config (seeded by the recipe's seed): the gap to
    `full` is what pre-training contributes."""

    name = "from_scratch"
    description = "trained from scratch: the architecture of the checkpoint with random weights"

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        logger.info("from scratch: %s re-initialised at random (the pretrained weights are not used)",
                    type(model).__name__)
        return type(model)(model.config)
