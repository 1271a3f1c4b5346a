"""nlptl: transfer learning for NLP with pretrained BERT-family encoders."""

from nlptl.errors import NlptlError
from nlptl.recipe import DataConfig, ModelConfig, Recipe, TrainConfig
from nlptl.run import main, train

__all__ = ["DataConfig", "ModelConfig", "NlptlError", "Recipe", "TrainConfig", "main", "train"]
__version__ = "0.1.0"
