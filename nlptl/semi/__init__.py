"""Learning from unlabelled text while learning the task: `semi.method` picks the method."""

from __future__ import annotations

from typing import Any

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe

METHODS = ("self_training", "uda")
IN_TRAINING = ("uda",)  # a term of the training loss (a strategy wrapper), not rounds of runs above the trainer


def check_semi_method(recipe: Recipe) -> None:
    """The method's name, and UDA's settings (it runs inside the trainer, after other methods' data steps)."""
    if recipe.semi.soft_labels and recipe.semi.method != "self_training":
        raise NlptlError(f"semi.soft_labels applies to semi.method self_training, not {recipe.semi.method}; set it or "
                         "remove semi.soft_labels")
    if recipe.semi.method not in METHODS:
        raise NlptlError(f"semi.method {recipe.semi.method!r}: choose one of {', '.join(METHODS)}")
    if recipe.semi.method == "uda":
        from nlptl.training.strategies.consistency import check_consistency_settings

        check_consistency_settings(recipe)


def run_semi(recipe: Recipe, on_evaluate: Any = None) -> dict:
    """Train with the recipe's rounds-based semi-supervised method; returns the final model's metrics."""
    check_semi_method(recipe)
    from nlptl.semi.self_training import self_train

    return self_train(recipe, on_evaluate)
