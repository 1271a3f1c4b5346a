"""The number format for training and prediction, chosen by measurement on this machine.

CPU flags do not say whether bf16 pays: a CPU with AMX multiplies bf16 several times faster than fp32, one
with only AVX-512 BF16 can be slower in bf16 than in fp32 (the autocast casts cost more than the matmuls
save). So on CPU `auto` times one encoder layer of the model's shape, at the run's tokens per batch, in fp32
and in bf16 — forward and backward under autocast for training, forward of a bf16 copy for prediction, as the
real run does — and uses bf16 only where it is faster. The figures are cached per machine (CPU model and
flags), torch version, thread count and shape, so later runs pay nothing. GPUs keep bf16 where supported.

Used by training (`train.mixed_precision`) and prediction (`--precision`) alike; this module sits below both.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from nlptl.errors import NlptlError
from nlptl.io import write_json

logger = logging.getLogger(__name__)

TRAINING_MODES = ("auto", "no", "bf16", "fp16")  # train.mixed_precision (accelerate's names)
INFERENCE_MODES = ("auto", "fp32", "bf16", "int8")  # --precision (int8: nlptl.inference.int8, CPU only)
BF16_MIN_SPEEDUP = 1.03  # within 3% of fp32, the exact format wins
PROBE_TOKENS = 2048  # at most this many tokens per probe batch: real matmul shapes, a fraction of a second
PROBE_BUDGET_S = 1.0  # timed repeats stop after this (at least MIN_REPEATS each)
MIN_REPEATS, MAX_REPEATS = 2, 5


@dataclass(frozen=True)
class LayerShape:
    """What the probe needs of a model: one encoder layer's widths, and the tokens of one batch."""

    hidden: int
    intermediate: int
    heads: int
    batch: int
    seq: int

    @classmethod
    def of(cls, config, batch_size: int, max_length: int) -> LayerShape:
        """From a transformers config (BERT/RoBERTa/ELECTRA/DeBERTa names, or DistilBERT's)."""
        hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None) or 768
        intermediate = getattr(config, "intermediate_size", None) or getattr(config, "hidden_dim", None) or 4 * hidden
        heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", None) or 12
        seq = max(8, min(max_length, 128))
        batch = max(1, min(batch_size, PROBE_TOKENS // seq))
        return cls(int(hidden), int(intermediate), int(heads), batch, seq)


@dataclass
class PrecisionChoice:
    """The format a run uses and why; recorded in metrics.json (training) and the predict manifest."""

    requested: str
    used: str  # training: no | bf16 | fp16; prediction: fp32 | bf16
    reason: str
    bf16_speedup: float | None = None  # fp32 seconds / bf16 seconds for the probe
    fp32_ms: float | None = None
    bf16_ms: float | None = None
    probe_s: float | None = None  # time this run spent probing (0 when cached)
    cached: bool = False

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


# ---- the timed probe -----------------------------------------------------------------------------------
def probe_layer(shape: LayerShape) -> nn.Module:
    torch.manual_seed(0)
    return nn.TransformerEncoderLayer(shape.hidden, shape.heads, shape.intermediate, dropout=0.1,
                                      activation="gelu", batch_first=True)


def training_workloads(shape: LayerShape) -> dict[str, Callable[[], None]]:
    """One training micro-step of the layer: fp32, and bf16 autocast over fp32 weights (accelerate's way)."""
    layer = probe_layer(shape).train()
    x = torch.randn(shape.batch, shape.seq, shape.hidden, requires_grad=True)

    def step(dtype: torch.dtype | None) -> Callable[[], None]:
        def run() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                out = layer(x)
            out.float().sum().backward()
            layer.zero_grad(set_to_none=True)
            x.grad = None
        return run

    return {"fp32": step(None), "bf16": step(torch.bfloat16)}


def inference_workloads(shape: LayerShape) -> dict[str, Callable[[], None]]:
    """One inference batch through the layer: fp32, and a bf16 copy of it (the predictor casts the model)."""
    fp32 = probe_layer(shape).eval()
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    x = torch.randn(shape.batch, shape.seq, shape.hidden)
    xb = x.to(torch.bfloat16)

    def run(layer: nn.Module, inputs: torch.Tensor) -> Callable[[], None]:
        def go() -> None:
            with torch.inference_mode():
                layer(inputs)
        return go

    return {"fp32": run(fp32, x), "bf16": run(bf16, xb)}


def time_workloads(workloads: dict[str, Callable[[], None]],
                   timer: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Best-of-n seconds per workload, interleaved so a drifting machine load hits both alike."""
    for run in workloads.values():  # warm-up: kernel selection, allocations
        run()
    best = {name: float("inf") for name in workloads}
    started = timer()
    for repeat in range(MAX_REPEATS):
        for name, run in workloads.items():
            t0 = timer()
            run()
            best[name] = min(best[name], timer() - t0)
        if repeat + 1 >= MIN_REPEATS and timer() - started > PROBE_BUDGET_S:
            break
    return best


# ---- the cache -----------------------------------------------------------------------------------------
def cache_path() -> Path:
    if os.environ.get("NLPTL_CACHE_DIR"):
        return Path(os.environ["NLPTL_CACHE_DIR"]) / "precision.json"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nlptl" / "precision.json"


def machine_id() -> str:
    """CPU model and flags (cloud CPUs often share a generic model name), architecture and torch version."""
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and not model:
                model = value
            elif key in ("flags", "Features") and not flags:
                flags = value
    except OSError:
        pass
    model = model or platform.processor()
    digest = hashlib.sha1(flags.encode()).hexdigest()[:12]
    return f"{platform.machine()} {model} flags:{digest} torch {torch.__version__} threads {torch.get_num_threads()}"


def cache_key(job: str, shape: LayerShape) -> str:
    return f"{machine_id()} | {job} {shape.hidden}/{shape.intermediate}/{shape.heads} x {shape.batch}x{shape.seq}"


def read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: measure again


def write_cache(path: Path, key: str, timings: dict[str, float]) -> None:
    try:
        write_json(path, {**read_cache(path), key: timings})
    except OSError as err:  # a read-only home: measure again next time, never fail the run
        logger.info("could not cache the precision probe in %s: %s", path, err)


# ---- the choice ----------------------------------------------------------------------------------------
def measured_bf16(job: str, shape: LayerShape, timer: Callable[[], float] = time.perf_counter,
                  path: Path | None = None) -> tuple[dict[str, float], float, bool]:
    """(seconds per format, probe seconds spent now, whether it came from the cache)."""
    path = path or cache_path()
    key = cache_key(job, shape)
    found = read_cache(path).get(key)
    if isinstance(found, dict) and {"fp32", "bf16"} <= found.keys():
        return {k: float(found[k]) for k in ("fp32", "bf16")}, 0.0, True
    started = time.perf_counter()
    workloads = training_workloads(shape) if job == "train" else inference_workloads(shape)
    timings = time_workloads(workloads, timer)
    write_cache(path, key, timings)
    return timings, time.perf_counter() - started, False


def choose_cpu(requested: str, job: str, shape: LayerShape, fp32_name: str,
               timer: Callable[[], float] = time.perf_counter, path: Path | None = None) -> PrecisionChoice:
    timings, spent, cached = measured_bf16(job, shape, timer, path)
    speedup = timings["fp32"] / max(timings["bf16"], 1e-12)
    used = "bf16" if speedup >= BF16_MIN_SPEEDUP else fp32_name
    verdict = "using bf16" if used == "bf16" else "using fp32"
    reason = f"bf16 {speedup:.2f}x fp32 here ({job} probe{', cached' if cached else ''}): {verdict}"
    return PrecisionChoice(requested, used, reason, round(speedup, 3), round(timings["fp32"] * 1e3, 3),
                           round(timings["bf16"] * 1e3, 3), round(spent, 3), cached)


def training_precision(requested: str, device_type: str, shape: LayerShape | None,
                       timer: Callable[[], float] = time.perf_counter, path: Path | None = None) -> PrecisionChoice:
    """accelerate's `mixed_precision` for a run; `auto` measured on CPU, bf16 (else fp16) on GPUs."""
    if requested not in TRAINING_MODES:
        raise NlptlError(f"train.mixed_precision={requested!r}: choose one of {', '.join(TRAINING_MODES)}")
    if requested == "fp16" and device_type == "cpu":
        raise NlptlError("train.mixed_precision=fp16 needs a GPU; use bf16 or no on CPU")
    if requested != "auto":
        return PrecisionChoice(requested, requested, "set by the recipe")
    if device_type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return PrecisionChoice(requested, "bf16" if bf16 else "fp16",
                               "GPU with bf16" if bf16 else "GPU without bf16: fp16 with loss scaling")
    if device_type == "cpu":
        if shape is None:
            raise NlptlError("train.mixed_precision=auto on CPU is measured on the model's layer shape; none given")
        return choose_cpu(requested, "train", shape, "no", timer, path)
    return PrecisionChoice(requested, "no", f"{device_type}: fp32")


def inference_precision(requested: str, device: torch.device, shape: LayerShape,
                        timer: Callable[[], float] = time.perf_counter, path: Path | None = None) -> PrecisionChoice:
    """The format prediction runs in: `fp32` exact, `bf16`, `int8` (dynamic int8 Linear layers, CPU), or `auto`
    (fp32 or bf16: measured on CPU, bf16 on GPUs with it)."""
    if requested not in INFERENCE_MODES:
        raise NlptlError(f"--precision {requested!r}: choose one of {', '.join(INFERENCE_MODES)}")
    if requested == "int8" and device.type != "cpu":
        raise NlptlError(f"--precision int8 runs on the CPU (dynamic int8 kernels); on {device.type} use bf16 or fp32")
    if requested != "auto":
        return PrecisionChoice(requested, requested, "set by --precision")
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return PrecisionChoice(requested, "bf16" if bf16 else "fp32", "GPU with bf16" if bf16 else "GPU: fp32")
    if device.type == "cpu":
        return choose_cpu(requested, "predict", shape, "fp32", timer, path)
    return PrecisionChoice(requested, "fp32", f"{device.type}: fp32")


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "int8": torch.float32}  # int8: fp32 activations
