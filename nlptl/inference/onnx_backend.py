"""Run a folder written by `nlptl export --format onnx` with ONNX Runtime.

`OnnxModel` keeps the forward contract of a transformers model that prediction relies on (`model(**inputs)
.logits`, `.config`, `.device`, `.parameters()`), so the sorted batch engine and the NER decoding run it
unchanged: same reader, encoding, sorting, windows and decoding as the PyTorch backend, only the forward differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nlptl.errors import NlptlError

ONNX_FILE = "model.onnx"
EXPORT_INFO = "export.json"
BACKENDS = ("torch", "onnx")
INSTALL_HINT = "pip install 'nlptl[export]' (onnx, onnxruntime)"


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise NlptlError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return backend


def onnxruntime() -> Any:
    """The onnxruntime module, or a one-line install hint (it is an optional extra)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise NlptlError(f"the ONNX backend needs ONNX Runtime: {INSTALL_HINT}") from None
    return ort


@dataclass
class OnnxOutput:
    logits: torch.Tensor


class OnnxModel:
    """An exported graph behind `model(**inputs).logits`; inputs and logits are torch tensors on the CPU."""

    def __init__(self, path: str | Path, config: Any, threads: int | None = None) -> None:
        ort = onnxruntime()
        path = Path(path)
        if path.is_dir():
            path = path / ONNX_FILE
        if not path.is_file():
            raise NlptlError(f"{path.parent}: no {ONNX_FILE}; make one with "
                             f"`nlptl export RUN --format onnx --output {path.parent}` (or use --backend torch)")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for unreadable graphs
            raise NlptlError(f"{path}: ONNX Runtime cannot load it ({str(err).splitlines()[0][:200]}); "
                             "export it again with `nlptl export`") from None
        self.path = path
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.config = config
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    def __call__(self, **inputs: torch.Tensor) -> OnnxOutput:
        ids = inputs["input_ids"]
        feed = {}
        for name in self.input_names:
            value = inputs.get(name)
            if value is None and name == "token_type_ids":
                value = torch.zeros_like(ids)
            if value is None:
                raise NlptlError(f"{self.path}: the graph needs the input {name!r}, which the tokenizer did not give")
            feed[name] = value.detach().cpu().numpy().astype(np.int64, copy=False)
        (logits,) = self.session.run(["logits"], feed)
        return OnnxOutput(torch.from_numpy(logits))

    def eval(self) -> OnnxModel:
        return self

    def parameters(self) -> Iterator[torch.Tensor]:
        """Where inputs go (callers read the device off the first parameter)."""
        yield torch.empty(0)
