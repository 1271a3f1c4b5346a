"""nlptl: transfer learning for NLP with pretrained BERT-family encoders.

`train` and `main` are imported on first use, so light modules (recipes, augmentation) load without torch.
"""

from typing import Any

from nlptl.errors import NlptlError
from nlptl.recipe import DataConfig, ModelConfig, Recipe, TrainConfig

__all__ = ["DataConfig", "ModelConfig", "NlptlError", "Recipe", "TrainConfig", "main", "train"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("main", "train"):
        from nlptl import run

        return getattr(run, name)
    raise AttributeError(f"module 'nlptl' has no attribute {name!r}")
