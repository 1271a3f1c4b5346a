"""Batch prediction: `Predictor(model_dir).predict(texts)` for Python callers, `predict_file` for files.

Imported on first use, so `import nlptl.inference.ner` (the NER decoding) does not pull in the file machinery.
"""

from typing import Any

__all__ = ["Predictor", "predict_file"]


def __getattr__(name: str) -> Any:
    if name == "Predictor":
        from nlptl.inference.predictor import Predictor

        return Predictor
    if name == "predict_file":
        from nlptl.inference.files import predict_file

        return predict_file
    raise AttributeError(f"module 'nlptl.inference' has no attribute {name!r}")
