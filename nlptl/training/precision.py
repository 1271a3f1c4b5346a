"""Pick the mixed-precision mode the hardware supports."""

from __future__ import annotations

import torch

from nlptl.errors import NlptlError

MODES = ("auto", "no", "bf16", "fp16")


def cpu_has_bf16() -> bool:
    """AVX-512 BF16 or AMX: bf16 matrix products run natively (about 2x fp32 on such CPUs)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_mixed_precision(choice: str, device_type: str) -> str:
    if choice not in MODES:
        raise NlptlError(f"train.mixed_precision={choice!r}: choose one of {', '.join(MODES)}")
    if choice != "auto":
        if choice == "fp16" and device_type == "cpu":
            raise NlptlError("train.mixed_precision=fp16 needs a GPU; use bf16 or no on CPU")
        return choice
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device_type == "cpu":
        return "bf16" if cpu_has_bf16() else "no"
    return "no"
