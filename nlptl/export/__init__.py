"""Deployment formats for a trained run: `export_onnx` writes an ONNX graph (optionally int8) with the tokenizer,
config (label map) and recipe beside it, and checks it against the PyTorch model on held-out texts."""

from typing import Any

__all__ = ["export_onnx"]


def __getattr__(name: str) -> Any:
    if name == "export_onnx":
        from nlptl.export.onnx import export_onnx

        return export_onnx
    raise AttributeError(f"module 'nlptl.export' has no attribute {name!r}")
