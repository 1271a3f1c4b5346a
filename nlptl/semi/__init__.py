"""Learning from unlabelled text while learning the task: `semi.method` picks the method."""

from __future__ import annotations

from typing import Any

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe

METHODS = ("self_training",)


def run_semi(recipe: Recipe, on_evaluate: Any = None) -> dict:
    """Train with the recipe's semi-supervised method; returns the final model's metrics."""
    if recipe.semi.method not in METHODS:
        raise NlptlError(f"semi.method {recipe.semi.method!r}: choose one of {', '.join(METHODS)}")
    from nlptl.semi.self_training import self_train

    return self_train(recipe, on_evaluate)
