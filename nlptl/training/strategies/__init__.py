"""Transfer strategies, chosen by `recipe.strategy.name`: which parameters train, at which rate, how the loss is
computed and what is saved. The trainer calls only the hooks of `Strategy`."""

from __future__ import annotations

import dataclasses

from nlptl.domain import METHODS
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe
from nlptl.semi import check_semi_method
from nlptl.training.strategies.base import FullFineTuning, Strategy, parameter_counts
from nlptl.training.strategies.distill import Distillation
from nlptl.training.strategies.feature_extraction import FeatureExtraction
from nlptl.training.strategies.freezing import GradualUnfreezing, PartialFreezing
from nlptl.training.strategies.from_scratch import FromScratch
from nlptl.training.strategies.layerwise_lr import LayerwiseLR
from nlptl.training.strategies.lora import LoRA
from nlptl.training.strategies.wrapper import wrapper_words

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (
    FullFineTuning, FeatureExtraction, PartialFreezing, GradualUnfreezing, LayerwiseLR, LoRA, FromScratch,
    Distillation)}

__all__ = ["STRATEGIES", "FullFineTuning", "Strategy", "build_strategy", "describe_strategy", "parameter_counts"]


def build_strategy(recipe: Recipe) -> Strategy:
    """The recipe's transfer strategy, wrapped by its in-training semi-supervised method (UDA) or its
    domain-adaptation method (DANN) if it names one."""
    name = recipe.strategy.name
    if name not in STRATEGIES:
        raise NlptlError(f"strategy.name={name!r}: choose one of {', '.join(STRATEGIES)}")
    strategy = STRATEGIES[name](recipe)  # type: ignore[call-arg]  # every strategy class takes the recipe
    if recipe.semi.method:
        check_semi_method(recipe)
        if recipe.semi.method == "uda":
            from nlptl.training.strategies.consistency import ConsistencyTraining

            return ConsistencyTraining(strategy, recipe)
    method = recipe.domain.method
    if method is None:
        return strategy
    if method not in METHODS:
        raise NlptlError(f"domain.method {method!r}: choose one of {', '.join(METHODS)}")
    if method != "dann":
        raise NlptlError(f"domain.method {method} re-weights the data before training; run it with nlptl.train")
    from nlptl.training.strategies.domain_adversarial import DomainAdversarial

    return DomainAdversarial(strategy, recipe)


def describe_strategy(recipe: Recipe) -> str | None:
    """The recipe's strategy in words, its settings filled in (unset ones read "default"); None for a name
    that is no strategy of this install."""
    strategy = STRATEGIES.get(recipe.strategy.name)
    if strategy is None:
        return None
    settings = {**dataclasses.asdict(recipe.distill), **dataclasses.asdict(recipe.strategy)}
    described = strategy.description.format_map({k: "default" if v is None else v for k, v in settings.items()})
    method = wrapper_words(recipe)
    return described if method is None else f"{described}; {method}"
