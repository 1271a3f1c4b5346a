"""The measured precision choice: the probe's decision (fake clock), its cache, and explicit modes bypassing it."""

from __future__ import annotations

import json

import pytest
import torch

from nlptl import precision
from nlptl.errors import NlptlError
from nlptl.precision import LayerShape, inference_precision, time_workloads, training_precision

SHAPE = LayerShape(hidden=32, intermediate=64, heads=2, batch=4, seq=16)


class FakeClock:
    """A clock that moves only when a fake workload runs: timings are exact and the test takes no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def workloads(self, fp32_s: float, bf16_s: float) -> dict:
        def advance(seconds: float):
            def run() -> None:
                self.now += seconds
            return run
        return {"fp32": advance(fp32_s), "bf16": advance(bf16_s)}


@pytest.fixture
def fake_probe(monkeypatch):
    """Make the probe's workloads advance a fake clock by the given seconds; returns a setter and the clock."""
    clock = FakeClock()
    calls = []

    def install(fp32_s: float, bf16_s: float) -> None:
        def workloads(shape):
            calls.append(shape)
            return clock.workloads(fp32_s, bf16_s)
        monkeypatch.setattr(precision, "training_workloads", workloads)
        monkeypatch.setattr(precision, "inference_workloads", workloads)

    return install, clock, calls


def test_time_workloads_takes_the_best_of_interleaved_repeats():
    clock = FakeClock()
    timings = time_workloads(clock.workloads(0.3, 0.1), timer=clock)
    assert timings == {"fp32": pytest.approx(0.3), "bf16": pytest.approx(0.1)}


@pytest.mark.parametrize(("fp32_s", "bf16_s", "used"), [(0.2, 0.1, "bf16"), (0.1, 0.18, "no"), (0.1, 0.099, "no")])
def test_training_auto_picks_the_faster_format(fake_probe, tmp_path, fp32_s, bf16_s, used):
    install, clock, _ = fake_probe
    install(fp32_s, bf16_s)
    choice = training_precision("auto", "cpu", SHAPE, timer=clock, path=tmp_path / "cache.json")
    assert choice.used == used  # a bf16 gain under 3% (the last case) keeps the exact format
    assert choice.bf16_speedup == pytest.approx(fp32_s / bf16_s, rel=1e-3)
    assert choice.reason.startswith(f"bf16 {fp32_s / bf16_s:.2f}x fp32 here")
    assert choice.reason.endswith("using bf16" if used == "bf16" else "using fp32")


def test_inference_auto_names_fp32_as_prediction_does(fake_probe, tmp_path):
    install, clock, _ = fake_probe
    install(0.1, 0.2)
    choice = inference_precision("auto", torch.device("cpu"), SHAPE, timer=clock, path=tmp_path / "cache.json")
    assert (choice.used, choice.bf16_speedup) == ("fp32", 0.5)


def test_the_cache_answers_the_second_run_without_probing(fake_probe, tmp_path):
    install, clock, calls = fake_probe
    install(0.2, 0.1)
    cache = tmp_path / "cache.json"
    first = training_precision("auto", "cpu", SHAPE, timer=clock, path=cache)
    second = training_precision("auto", "cpu", SHAPE, timer=clock, path=cache)
    assert len(calls) == 1 and not first.cached and second.cached and second.probe_s == 0.0
    assert (second.used, second.bf16_speedup) == (first.used, first.bf16_speedup)
    other_shape = LayerShape(hidden=64, intermediate=128, heads=2, batch=4, seq=16)
    training_precision("auto", "cpu", other_shape, timer=clock, path=cache)  # another model: probed anew
    inference_precision("auto", torch.device("cpu"), SHAPE, timer=clock, path=cache)  # another job: probed anew
    assert len(calls) == 3 and len(json.loads(cache.read_text())) == 3


def test_a_damaged_or_unwritable_cache_only_costs_a_new_probe(fake_probe, tmp_path):
    install, clock, calls = fake_probe
    install(0.2, 0.1)
    damaged = tmp_path / "cache.json"
    damaged.write_text("{not json")
    assert training_precision("auto", "cpu", SHAPE, timer=clock, path=damaged).used == "bf16"
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert training_precision("auto", "cpu", SHAPE, timer=clock, path=blocked / "cache.json").used == "bf16"
    assert len(calls) == 2


def test_explicit_precisions_bypass_the_probe(fake_probe, tmp_path):
    install, clock, calls = fake_probe
    install(0.2, 0.1)
    cache = tmp_path / "cache.json"
    for mode in ("no", "bf16"):
        assert training_precision(mode, "cpu", SHAPE, timer=clock, path=cache).used == mode
    for mode in ("fp32", "bf16", "int8"):
        assert inference_precision(mode, torch.device("cpu"), SHAPE, timer=clock, path=cache).used == mode
    assert training_precision("bf16", "cpu", None).reason == "set by the recipe"
    assert calls == [] and not cache.exists()


def test_bad_modes_are_one_line_errors():
    with pytest.raises(NlptlError, match="train.mixed_precision='fast'"):
        training_precision("fast", "cpu", SHAPE)
    with pytest.raises(NlptlError, match="needs a GPU"):
        training_precision("fp16", "cpu", SHAPE)
    with pytest.raises(NlptlError, match="--precision 'half'"):
        inference_precision("half", torch.device("cpu"), SHAPE)
    with pytest.raises(NlptlError, match="--precision int8 runs on the CPU"):
        inference_precision("int8", torch.device("cuda"), SHAPE)


def test_the_real_probe_runs_both_formats_quickly(tmp_path):
    for job, choose in (("train", training_precision), ("predict", inference_precision)):
        device = "cpu" if job == "train" else torch.device("cpu")
        choice = choose("auto", device, SHAPE, path=tmp_path / "cache.json")
        assert choice.fp32_ms > 0 and choice.bf16_ms > 0 and choice.probe_s < 5, job


def test_layer_shape_reads_bert_and_distilbert_configs():
    from transformers import BertConfig, DistilBertConfig

    bert = LayerShape.of(BertConfig(hidden_size=384, intermediate_size=1536, num_attention_heads=12), 32, 64)
    assert (bert.hidden, bert.intermediate, bert.heads, bert.batch, bert.seq) == (384, 1536, 12, 32, 64)
    distil = LayerShape.of(DistilBertConfig(dim=768, hidden_dim=3072, n_heads=12), 32, 512)
    assert (distil.hidden, distil.intermediate, distil.heads) == (768, 3072, 12)
    assert distil.seq == 128 and distil.batch * distil.seq <= precision.PROBE_TOKENS
