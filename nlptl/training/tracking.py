"""Experiment trackers through accelerate: TensorBoard by default, W&B / MLflow when installed and asked for."""

from __future__ import annotations

import importlib.util
import logging

from nlptl.errors import NlptlError
from nlptl.recipe import Recipe, recipe_to_dict

logger = logging.getLogger(__name__)
TRACKER_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",)}


def available_trackers(requested: list[str]) -> list[str]:
    usable = []
    for name in requested:
        if name not in TRACKER_PACKAGES:
            raise NlptlError(f"train.log_with: unknown tracker {name!r}; choose from {', '.join(TRACKER_PACKAGES)}")
        if any(importlib.util.find_spec(pkg) for pkg in TRACKER_PACKAGES[name]):
            usable.append(name)
        else:
            logger.warning("tracker %r is not installed (pip install %s); not logging to it",
                           name, TRACKER_PACKAGES[name][0])
    return usable


def flat_hparams(recipe: Recipe) -> dict[str, str | int | float | bool]:
    """Recipe as flat scalars, the form tracker hyper-parameter tables accept."""
    flat: dict[str, str | int | float | bool] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}{key}.", sub)
        elif isinstance(value, str | int | float | bool):
            flat[prefix[:-1]] = value
        else:
            flat[prefix[:-1]] = str(value)

    walk("", recipe_to_dict(recipe))
    return flat
