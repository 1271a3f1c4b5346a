"""The number format for inference: bf16 where the hardware multiplies it natively, fp32 for exact results."""

from __future__ import annotations

import torch

from nlptl.errors import NlptlError
from nlptl.training.precision import cpu_has_bf16

CHOICES = ("auto", "fp32", "bf16")


def inference_dtype(choice: str, device: torch.device) -> torch.dtype:
    """`auto`: bf16 on GPUs that support it and on CPUs with AVX-512 BF16/AMX (about 1.7x fp32 there,
    same labels in practice), else fp32. `fp32`: exact mode, the reference for comparisons."""
    if choice not in CHOICES:
        raise NlptlError(f"--precision {choice!r}: choose one of {', '.join(CHOICES)}")
    if choice == "fp32":
        return torch.float32
    if choice == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_bf16() else torch.float32
    return torch.float32
