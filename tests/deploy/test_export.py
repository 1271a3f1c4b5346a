"""`nlptl export --format onnx`: the folder it writes, its parity check, and the ONNX backend of prediction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
from predict_helpers import trained_tiny_run  # noqa: E402
from transformers import BertForTokenClassification, BertTokenizer  # noqa: E402

from nlptl.cli import main as cli_main  # noqa: E402
from nlptl.errors import NlptlError  # noqa: E402
from nlptl.export.onnx import export_onnx  # noqa: E402
from nlptl.inference.files import predict_file  # noqa: E402
from nlptl.inference.predictor import Predictor  # noqa: E402

pytestmark = pytest.mark.slow  # torch.onnx (dynamo) exports: ~70 s

TEXTS = ["the film was good", "boring and dull plot", "a superb story", "ugly acting .", "it was fine " * 20]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    return trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)


@pytest.fixture(scope="module")
def onnx_dir(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "onnx"
    summary = export_onnx(run_dir, out, parity_samples=40)
    assert summary.parity is not None and summary.parity.texts == 40
    return out


def test_export_writes_a_runnable_folder_with_full_parity(onnx_dir, run_dir):
    assert {"model.onnx", "config.json", "tokenizer.json", "recipe.yaml", "export.json"} <= {
        p.name for p in onnx_dir.iterdir()}
    info = json.loads((onnx_dir / "export.json").read_text())
    assert info["quantize"] is None and info["labels"] == ["neg", "pos"]
    assert info["parity"]["identical_share"] == 1.0 and info["parity"]["max_logit_diff"] < 1e-4
    assert "test" in info["parity"]["source"]  # the run's own test split
    torch_rows = Predictor(run_dir, precision="fp32").predict(TEXTS, all_scores=True)
    onnx = Predictor(onnx_dir, backend="onnx", batch_size=2)  # batches of different lengths and padding
    onnx_rows = onnx.predict(TEXTS, all_scores=True)
    assert [r["label"] for r in onnx_rows] == [r["label"] for r in torch_rows]
    for got, want in zip(onnx_rows, torch_rows, strict=True):
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)
    assert onnx.settings.max_length == 32  # the recipe copied beside the graph says how texts were cut
    one = Predictor(onnx_dir, backend="onnx").predict(["good"])[0]  # a batch of one row, one token of text
    want = Predictor(run_dir, precision="fp32").predict(["good"])[0]
    assert one["label"] == want["label"] and one["score"] == pytest.approx(want["score"], abs=1e-5)
    with pytest.raises(NlptlError, match="--precision int8 is for the torch backend"):
        Predictor(onnx_dir, backend="onnx", precision="int8")


def test_predict_files_with_the_onnx_backend(onnx_dir, run_dir, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": TEXTS * 3}).to_csv(src, index=False)
    predict_file(run_dir, str(src), tmp_path / "torch.csv", precision="fp32", chunk_size=4, progress=False)
    cli_main(["predict", str(onnx_dir), str(src), "--output", str(tmp_path / "onnx.csv"), "--backend", "onnx",
              "--chunk-size", "4", "--batch-size", "3", "--no-progress"])
    want, got = pd.read_csv(tmp_path / "torch.csv"), pd.read_csv(tmp_path / "onnx.csv")
    assert list(got["label"]) == list(want["label"])
    assert got["score"].to_numpy() == pytest.approx(want["score"].to_numpy(), abs=1e-5)


def test_int8_export_from_the_cli(run_dir, tmp_path, capsys):
    out = tmp_path / "int8"
    cli_main(["export", str(run_dir), "--format", "onnx", "--quantize", "int8", "--output", str(out),
              "--parity-samples", "30"])
    printed = capsys.readouterr().out
    assert "int8" in printed and "parity on 30 held-out texts" in printed
    info = json.loads((out / "export.json").read_text())
    assert info["quantize"] == "int8" and info["parity"]["compared"] == 30
    rows = Predictor(out, backend="onnx").predict(TEXTS)
    assert all(row["label"] in ("neg", "pos") for row in rows)


def test_export_errors_are_one_line_and_write_nothing(run_dir, onnx_dir, tmp_path, capsys):
    with pytest.raises(NlptlError, match="already exists"):
        export_onnx(run_dir, onnx_dir)
    with pytest.raises(NlptlError, match="no model.onnx"):
        Predictor(run_dir, backend="onnx")
    with pytest.raises(NlptlError, match="--backend 'tf'"):
        Predictor(onnx_dir, backend="tf")
    with pytest.raises(SystemExit) as stop:
        cli_main(["export", str(run_dir), "--output", str(tmp_path / "x"), "--parity-data", str(tmp_path / "no.csv")])
    assert stop.value.code == 2 and "no such file" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name != "no.csv"]  # nothing half-written


def test_token_classification_exports_and_predicts_the_same_entities(tiny_model_dir, tmp_path):
    ner_dir = tmp_path / "ner-model"
    tags = ["O", "B-PER", "I-PER"]
    torch.manual_seed(1)
    model = BertForTokenClassification.from_pretrained(tiny_model_dir, num_labels=3, id2label=dict(enumerate(tags)),
                                                       label2id={t: i for i, t in enumerate(tags)})
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.0, 0.3, 0.1]))
    model.save_pretrained(ner_dir)
    BertTokenizer.from_pretrained(tiny_model_dir).save_pretrained(ner_dir)
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    out = tmp_path / "ner-onnx"
    summary = export_onnx(ner_dir, out, parity_data=str(held_out), parity_samples=10)
    assert summary.parity is not None and summary.parity.texts == len(TEXTS)
    assert summary.parity.compared > len(TEXTS) and summary.parity.identical_share == 1.0  # per token
    want = Predictor(ner_dir, precision="fp32").predict(TEXTS)
    assert Predictor(out, backend="onnx").predict(TEXTS) == want


def test_cli_serves_an_exported_folder(onnx_dir, tmp_path):
    import httpx2 as httpx
    from serving import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen([sys.executable, "-m", "nlptl.cli", "serve", str(onnx_dir), "--backend", "onnx",
                               "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nlptl serve did not come up"
                time.sleep(0.5)
        assert health["backend"] == "onnx"
        reply = httpx.post(f"http://127.0.0.1:{port}/predict", json={"text": "good film"})
        assert reply.status_code == 200 and reply.json()["predictions"][0]["label"] in ("neg", "pos")
    finally:
        server.terminate()
        server.wait(timeout=30)
