"""nlptl: transfer learning for NLP with pretrained BERT-family encoders.

`train`, `main`, `Predictor`, `predict_file`, `evaluate` and `push` are imported on first use, so light modules
(recipes, augmentation) load without torch.
"""

from typing import Any

from nlptl.errors import NlptlError
from nlptl.recipe import (
    AugmentSettings,
    DataConfig,
    DistillConfig,
    DomainConfig,
    MaskedLMConfig,
    ModelConfig,
    MultitaskConfig,
    Recipe,
    SemiConfig,
    StrategyConfig,
    TaskSpec,
    TrainConfig,
)

__all__ = ["AugmentSettings", "DataConfig", "DistillConfig", "DomainConfig", "MaskedLMConfig", "ModelConfig",
           "MultitaskConfig", "NlptlError", "Predictor", "Recipe", "SemiConfig", "StrategyConfig", "TaskSpec",
           "TrainConfig", "evaluate", "main",
           "predict_file", "push", "train"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("main", "train"):
        from nlptl import run

        return getattr(run, name)
    if name in ("Predictor", "predict_file"):
        from nlptl import inference

        return getattr(inference, name)
    if name == "evaluate":  # scoring a saved model (nlptl.evaluation.run); not the `evaluate` library
        from nlptl.evaluation.run import evaluate

        return evaluate
    if name == "push":
        from nlptl.hub.push import push

        return push
    raise AttributeError(f"module 'nlptl' has no attribute {name!r}")
