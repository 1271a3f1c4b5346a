"""What a checkpoint says about how it was trained, so prediction cuts texts the way training did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlptl.recipe import Recipe, load_recipe_yaml

MAX_POSITIONS = 512  # BERT-family position tables; RoBERTa's 514 include two offset slots


def saved_recipe(model_dir: str | Path) -> Recipe | None:
    """The typed recipe that `nlptl train` saved next to the weights (recipe.yaml), or None if there is none."""
    path = Path(model_dir) / "recipe.yaml"
    return load_recipe_yaml(path) if path.is_file() else None


def default_max_length(tokenizer: Any, config: Any) -> int:
    """The longest input the model and tokenizer both accept (at most 512)."""
    limits = [MAX_POSITIONS, getattr(config, "max_position_embeddings", MAX_POSITIONS)]
    if 0 < getattr(tokenizer, "model_max_length", 0) < 100_000:
        limits.append(tokenizer.model_max_length)
    return min(limits)
