"""LoRA (Hu et al. 2022) through `peft`: low-rank updates on the attention query/value projections, the head
trained in full; merged into the base weights on export, so the saved model is a plain transformers model."""

from __future__ import annotations

import logging
from typing import Any, cast

import torch
from transformers import PreTrainedModel

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe
from nlptl.training.layers import layer_groups
from nlptl.training.strategies.base import FullFineTuning

logger = logging.getLogger(__name__)
HEAD_MODULES = ("classifier", "pre_classifier", "pooler")


def head_modules(model: torch.nn.Module) -> list[str]:
    """Names of the head modules this model has (they train in full, `modules_to_save` in peft's terms)."""
    names = {name.split(".")[-1] for name, _ in model.named_modules()}
    present = [name for name in HEAD_MODULES if name in names]
    if not present:
        head = layer_groups(model).head
        raise NlptlError(f"LoRA: cannot find the task head of {type(model).__name__} (parameters: {head[:4]})")
    return present


class LoRA(FullFineTuning):
    """Only the rank-r adapters and the head train; `strategy.lora_r/lora_alpha/lora_dropout` set the adapters,
    `strategy.lora_target_modules` the wrapped linear layers (default: peft's query/value per model type)."""

    name = "lora"
    description = ("LoRA adapters (r={lora_r}, alpha={lora_alpha}, dropout={lora_dropout}, target modules: "
                   "{lora_target_modules}); the pretrained weights stay frozen")

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.options = recipe.strategy

    def configure(self, model: torch.nn.Module) -> torch.nn.Module:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise NlptlError("strategy.name=lora needs the peft package: pip install peft") from None
        opts = self.options
        config = LoraConfig(r=opts.lora_r, lora_alpha=opts.lora_alpha,  # type: ignore[arg-type]  # a float works
                            lora_dropout=opts.lora_dropout, target_modules=opts.lora_target_modules,
                            modules_to_save=head_modules(model))
        try:
            wrapped = get_peft_model(model, config)
        except ValueError as err:
            raise NlptlError(f"LoRA on {type(model).__name__}: {err}; set strategy.lora_target_modules "
                             "(e.g. query,value)") from None
        targets = cast(LoraConfig, wrapped.peft_config["default"]).target_modules  # a set, once peft resolved it
        logger.info("LoRA: r=%d alpha=%s dropout=%s on %s", opts.lora_r, opts.lora_alpha, opts.lora_dropout,
                    sorted(targets or ()))
        return wrapped

    def export_model(self, model: Any) -> PreTrainedModel:
        """W + (alpha/r)·BA folded into W, adapters and peft wrappers removed."""
        return model.merge_and_unload()
