"""A fine-tuned model as an ONNX graph with dynamic batch and sequence axes.

torch 2.13's maintained exporter is the dynamo one (`torch.onnx.export(..., dynamo=True)`, via `torch.export`).
The TorchScript exporter (`dynamo=False`) is deprecated and, with transformers 5's SDPA attention, traces the
padding mask of the example batch into the graph: other batches then get wrong logits (0.009 off on a tiny BERT),
so it is not used.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn


class LogitsOnly(nn.Module):
    """The model's forward with the logits as the one output (the graph's inputs are the arguments given)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        given = {"attention_mask": attention_mask, "token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, **{k: v for k, v in given.items() if v is not None}).logits


def export_graph(model: nn.Module, example: dict[str, torch.Tensor], path: Path, opset: int | None = None) -> int:
    """Write `model` to `path` as ONNX (inputs named as the tokenizer names them, output `logits`); returns the
    opset used. `example`: one padded batch of at least two rows of different lengths."""
    names = list(example)
    dynamic = {name: {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC} for name in names}
    kwargs: dict[str, Any] = {"opset_version": opset} if opset else {}
    for name in ("onnx_ir", "onnxscript", "torch.onnx"):  # their INFO lines are the exporter's inner passes
        logging.getLogger(name).setLevel(logging.WARNING)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on axis names and deprecated internals
        program = torch.onnx.export(LogitsOnly(model.eval()), (), kwargs=example, input_names=names,
                                    output_names=["logits"], dynamic_shapes=dynamic, dynamo=True, optimize=True,
                                    verbose=False, **kwargs)
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    program.save(str(path))
    return int(program.model.opset_imports.get("", 0))
