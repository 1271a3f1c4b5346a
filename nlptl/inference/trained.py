"""What a checkpoint says about how it was trained, so prediction cuts texts the way training did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_POSITIONS = 512  # BERT-family position tables; RoBERTa's 514 include two offset slots


def training_settings(model_dir: str | Path) -> dict[str, Any]:
    """The `data` section of the recipe.yaml that `nlptl train` saved next to the weights (empty if none)."""
    path = Path(model_dir) / "recipe.yaml"
    try:
        recipe = yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return {}
    section = recipe.get("data") if isinstance(recipe, dict) else None
    return section if isinstance(section, dict) else {}


def default_max_length(tokenizer: Any, config: Any) -> int:
    """The longest input the model and tokenizer both accept (at most 512)."""
    limits = [MAX_POSITIONS, getattr(config, "max_position_embeddings", MAX_POSITIONS)]
    if 0 < getattr(tokenizer, "model_max_length", 0) < 100_000:
        limits.append(tokenizer.model_max_length)
    return min(limits)
