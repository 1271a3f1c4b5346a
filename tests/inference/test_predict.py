"""Batch prediction over files: every format, order and columns kept, equal to a plain loop in fp32, resume,
bad rows, chunked reading, long texts, routing of token-classification models."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from conftest import synthetic_reviews
from predict_helpers import reference_predictions, trained_tiny_run
from transformers import AutoModelForSequenceClassification, BertForTokenClassification, BertTokenizer

import nlptl
from nlptl import NlptlError
from nlptl.cli import main as cli_main
from nlptl.data.files.stream import open_source, read_chunks
from nlptl.inference.engine import encode_texts
from nlptl.inference.files import predict_file
from nlptl.inference.predictor import Predictor
from nlptl.inference.workdir import WorkDir
from nlptl.precision import DTYPES

MAX_LENGTH = 32  # the tiny run's data.max_length, which prediction takes from its recipe.yaml


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    return trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Reviews with extra columns that must come back unchanged (commas, quotes, unicode in `note`)."""
    frame = synthetic_reviews(45, seed=7).rename(columns={"label": "gold"})
    frame.insert(0, "id", range(100, 145))
    frame["note"] = [f'n{i}, "quoted" é ✓' if i % 3 else "" for i in range(45)]
    return frame


def write_input(frame: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, row_group_size=10)
    elif suffix == ".txt":
        path.write_text("".join(text + "\n" for text in frame["text"]))
    return path


def read_output(path: Path) -> pd.DataFrame:
    if path.suffix in (".csv", ".tsv"):
        return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
    if path.suffix == ".jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    return pq.read_table(path).to_pandas()


@pytest.mark.parametrize("source, target", [("csv", "jsonl"), ("tsv", "csv"), ("jsonl", "parquet"),
                                            ("parquet", "csv"), ("parquet", "parquet"), ("txt", "jsonl"),
                                            ("csv", "tsv")])
def test_every_format_keeps_order_columns_and_matches_a_plain_loop(run_dir, table, tmp_path, source, target):
    src = write_input(table, tmp_path / f"in.{source}")
    out = tmp_path / f"out.{target}"
    summary = predict_file(run_dir, str(src), out, chunk_size=7, batch_size=4, precision="fp32", progress=False)
    result = read_output(out)
    expected_columns = ["text"] if source == "txt" else list(table.columns)
    assert list(result.columns) == expected_columns + ["label", "score"]
    assert summary.rows == len(table) == len(result)
    assert result["text"].tolist() == table["text"].tolist()
    if source != "txt":
        for column in ("id", "gold", "note"):
            assert [str(v) for v in result[column]] == [str(v) for v in table[column]]
    labels, scores = reference_predictions(run_dir, table["text"].tolist(), MAX_LENGTH)
    assert result["label"].tolist() == labels
    assert [float(s) for s in result["score"]] == pytest.approx(scores, abs=1e-5)
    assert not WorkDir(out).path.exists()


def test_predictor_api_and_all_scores(run_dir, table, tmp_path):
    predictor = nlptl.Predictor(run_dir, precision="fp32")
    texts = table["text"].tolist()[:6]
    results = predictor.predict(texts, all_scores=True)
    labels, scores = reference_predictions(run_dir, texts, MAX_LENGTH)
    assert [r["label"] for r in results] == labels
    assert [r["score"] for r in results] == pytest.approx(scores, abs=1e-5)
    assert all(set(r["scores"]) == {"neg", "pos"} and sum(r["scores"].values()) == pytest.approx(1) for r in results)
    skipped = predictor.predict(["good film", None, "  "], bad_rows="skip")
    assert skipped[0]["label"] in ("neg", "pos")
    assert [r.get("skip_reason") for r in skipped[1:]] == ["null text", "empty text"]
    with pytest.raises(NlptlError, match="row 2: null text"):
        predictor.predict(["good film", None])

    out = tmp_path / "all.csv"
    predict_file(predictor, str(write_input(table, tmp_path / "in.parquet")), out, all_scores=True, progress=False)
    result = pd.read_csv(out)
    assert list(result.columns)[-4:] == ["label", "score", "score_neg", "score_pos"]
    assert (result["score_neg"] + result["score_pos"]).tolist() == pytest.approx([1.0] * len(table))
    assert (result[["score_neg", "score_pos"]].max(axis=1)).tolist() == pytest.approx(result["score"].tolist())


def test_auto_precision_uses_the_measured_format(run_dir, table):
    auto = Predictor(run_dir, precision="auto", device="cpu")
    assert auto.precision_choice.bf16_speedup is not None and "x fp32 here" in auto.precision_choice.reason
    assert auto.dtype == DTYPES[auto.precision_choice.used]
    exact = Predictor(run_dir, precision="fp32", device="cpu")
    texts = table["text"].tolist()
    same = sum(a == b for a, b in zip(auto.columns(texts)["label"], exact.columns(texts)["label"], strict=True))
    assert same >= 0.9 * len(texts)


def test_int8_quantizes_every_linear_layer_and_keeps_the_predictions(run_dir, table):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    int8 = Predictor(run_dir, precision="int8", device="cpu")
    linears = [m for m in int8.model.modules() if isinstance(m, torch.nn.Linear | DynamicInt8Linear)]
    assert linears and all(isinstance(m, DynamicInt8Linear) for m in linears)
    assert int8.precision_choice.reason == "set by --precision" and "int8" in int8.describe()["dtype"]
    texts = table["text"].tolist()
    exact = Predictor(run_dir, precision="fp32", device="cpu").probabilities(texts)
    quantized = int8.probabilities(texts)
    gap = (quantized - exact).abs().max()
    assert 0 < gap < 0.05  # quantized (not the fp32 model), and close to it
    assert (quantized.argmax(-1) == exact.argmax(-1)).float().mean() >= 0.9


def test_resume_after_an_interruption_equals_an_uninterrupted_run(run_dir, table, tmp_path, monkeypatch):
    src = str(write_input(table, tmp_path / "in.csv"))
    full = tmp_path / "full.csv"
    predict_file(run_dir, src, full, chunk_size=8, precision="fp32", progress=False)

    out = tmp_path / "out.csv"
    write_part = WorkDir.write_part
    written: list[int] = []

    def crash_after_three(self, index, part):
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(index)
        write_part(self, index, part)

    monkeypatch.setattr(WorkDir, "write_part", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        predict_file(run_dir, src, out, chunk_size=8, precision="fp32", progress=False)
    monkeypatch.undo()
    work = WorkDir(out)
    assert not out.exists() and work.finished() == {0, 1, 2}
    (work.path / ".part-00000003.parquet.abc.tmp").write_bytes(b"half a part")  # what a hard kill leaves

    with pytest.raises(NlptlError, match="--resume"):
        predict_file(run_dir, src, out, chunk_size=8, precision="fp32", progress=False)
    with pytest.raises(NlptlError, match="chunk_size"):
        predict_file(run_dir, src, out, chunk_size=5, precision="fp32", progress=False, resume=True)
    summary = predict_file(run_dir, src, out, chunk_size=8, precision="fp32", progress=False, resume=True)
    assert summary.resumed_chunks == 3 and summary.predicted_rows == len(table) - 24
    assert out.read_bytes() == full.read_bytes()
    assert not work.path.exists()


BAD_CSV = b'id,text\n1,good film\n2,\n3,caf\xe9 awful\n4,"  "\n5,fine movie\n'
BAD_JSONL = b'{"id": 1, "text": "good film"}\n{"id": 2, "text": null}\nnot json\n{"id": 4}\n' \
            b'{"id": 5, "text": "bad \xff film"}\n\n{"id": 6, "text": "fine movie", "extra": "x"}\n'
BAD_TXT = b"good film\n\nbad \xff movie\nfine\n"


@pytest.mark.parametrize("name, content, first_bad, reasons", [
    ("in.csv", BAD_CSV, "row 2: empty text",
     [None, "empty text", "undecodable bytes", "empty text", None]),
    ("in.jsonl", BAD_JSONL, "row 2: null text",
     [None, "null text", "invalid JSON on line 3 (Expecting value)", "null text", "undecodable bytes", None]),
    ("in.txt", BAD_TXT, "row 2: empty text", [None, "empty text", "undecodable bytes", None]),
])
def test_bad_rows_fail_naming_the_row_or_are_kept_with_a_reason(run_dir, tmp_path, name, content, first_bad,
                                                                   reasons):
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(NlptlError, match=first_bad):
        predict_file(run_dir, str(src), tmp_path / "error.jsonl", progress=False)
    out = tmp_path / "skip.jsonl"
    summary = predict_file(run_dir, str(src), out, bad_rows="skip", chunk_size=2, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["skip_reason"] for r in rows] == reasons
    assert [r["label"] is None for r in rows] == [reason is not None for reason in reasons]
    assert [r["score"] is None for r in rows] == [reason is not None for reason in reasons]
    assert summary.skipped_rows == sum(reason is not None for reason in reasons)
    if name == "in.csv":
        assert rows[2]["text"] == "caf\ufffd awful"  # bytes that are not UTF-8 are replaced, not lost
    if name == "in.jsonl":
        assert rows[-1]["extra"] == "x" and rows[0]["extra"] is None  # keys first seen late are kept


def test_reading_is_chunked_for_every_format(table, tmp_path):
    frame = table.head(23)
    dataset_dir = tmp_path / "saved"
    datasets.Dataset.from_pandas(frame, preserve_index=False).save_to_disk(str(dataset_dir))
    inputs = [write_input(frame, tmp_path / f"in.{s}") for s in ("csv", "tsv", "jsonl", "parquet", "txt")]
    for path in [*inputs, dataset_dir]:
        source = open_source(str(path), text_column="text")
        assert all(batch.num_rows <= 4 for batch, _ in source.batches(4)), path  # never the whole file at once
        chunks = list(read_chunks(source, 4, "text"))
        assert [c.table.num_rows for c in chunks] == [4] * 5 + [3]
        assert [c.index for c in chunks] == list(range(6)) and [c.first_row for c in chunks] == list(range(0, 24, 4))
        assert [t for c in chunks for t in c.table.column("text").to_pylist()] == frame["text"].tolist()


def test_split_directories_and_clear_input_errors(run_dir, table, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    table.head(5).to_parquet(data / "train.parquet")
    table.tail(6).to_parquet(data / "test-00000-of-00001.parquet")
    summary = predict_file(run_dir, str(data), tmp_path / "test.csv", split="test", progress=False)
    assert summary.rows == 6 and pd.read_csv(tmp_path / "test.csv")["id"].tolist() == table.tail(6)["id"].tolist()
    with pytest.raises(NlptlError, match="choose one with --split"):
        predict_file(run_dir, str(data), tmp_path / "x.csv", progress=False)
    with pytest.raises(NlptlError, match="no column 'body'"):
        predict_file(run_dir, str(data), tmp_path / "x.csv", split="test", text_column="body", progress=False)
    with pytest.raises(NlptlError, match="unsupported extension"):
        predict_file(run_dir, str(data), tmp_path / "x.xlsx", split="test", progress=False)
    with pytest.raises(NlptlError, match="no such file: .*missing.csv"):
        predict_file(run_dir, str(tmp_path / "missing.csv"), tmp_path / "x.csv", progress=False)
    (tmp_path / "array.json").write_text('[{"text": "good film"}]')
    with pytest.raises(NlptlError, match="one JSON array"):
        predict_file(run_dir, str(tmp_path / "array.json"), tmp_path / "x.csv", progress=False)
    assert not list(tmp_path.glob(".x.csv.nlptl-predict"))  # a failed start leaves nothing to resume


def test_existing_columns_and_outputs_are_never_overwritten_silently(run_dir, table, tmp_path):
    src = tmp_path / "gold.parquet"
    table.rename(columns={"gold": "label"}).to_parquet(src)
    with pytest.raises(NlptlError, match="--prefix"):
        predict_file(run_dir, str(src), tmp_path / "out.parquet", progress=False)
    predict_file(run_dir, str(src), tmp_path / "out.parquet", prefix="pred_", progress=False)
    result = pq.read_table(tmp_path / "out.parquet")
    assert result.column_names == ["id", "text", "label", "note", "pred_label", "pred_score"]
    assert result.column("label").to_pylist() == table["gold"].tolist()
    with pytest.raises(NlptlError, match="already exists"):
        predict_file(run_dir, str(src), tmp_path / "out.parquet", prefix="pred_", progress=False)
    with pytest.raises(NlptlError, match=r"out.parquet is complete \(its run finished; nothing to resume\)"):
        predict_file(run_dir, str(src), tmp_path / "out.parquet", prefix="pred_", resume=True, progress=False)
    predict_file(run_dir, str(src), tmp_path / "out.parquet", prefix="p_", overwrite=True, progress=False)
    assert "p_label" in pq.read_schema(tmp_path / "out.parquet").names


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_long_texts_in_windows_pool_the_window_logits(run_dir, table, pooling):
    text = " ".join(table["text"].tolist()[:6])
    predictor = Predictor(run_dir, max_length=12, long_text="window", stride=3, window_pooling=pooling,
                          precision="fp32")
    encoded, owners = encode_texts(predictor.tokenizer, [text], predictor.settings)
    assert len(owners) > 3 and set(owners) == {0}
    model = AutoModelForSequenceClassification.from_pretrained(run_dir).eval()
    with torch.no_grad():
        windows = torch.stack([model(input_ids=torch.tensor([ids])).logits.log_softmax(-1)[0]
                               for ids in encoded["input_ids"]])
    pooled = (windows.mean(0) if pooling == "mean" else windows.max(0).values).softmax(-1)
    result = predictor.predict([text], all_scores=True)[0]
    assert result["scores"] == pytest.approx(dict(zip(predictor.labels, pooled.tolist(), strict=True)), abs=1e-5)
    assert result["label"] == predictor.labels[int(pooled.argmax())]
    with pytest.raises(NlptlError, match="--stride"):
        Predictor(run_dir, max_length=12, long_text="window", stride=10)


def test_cli_predict_and_one_line_errors(run_dir, table, tmp_path, capsys):
    src = write_input(table, tmp_path / "in.jsonl")
    out = tmp_path / "out.parquet"
    cli_main(["predict", str(run_dir), str(src), "--output", str(out), "--precision", "fp32", "--no-progress",
              "--batch-size", "8", "--truncation", "tail"])
    assert pq.read_table(out).num_rows == len(table)
    with pytest.raises(SystemExit) as stop:
        cli_main(["predict", str(run_dir), str(src), "--output", str(tmp_path / "b.csv"), "--text-column", "body"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("nlptl: error:") and "no column 'body'" in error
    with pytest.raises(SystemExit) as stop:
        cli_main(["predict", str(run_dir), str(src), "--output", str(tmp_path / "c.csv"), "--precision", "half"])
    assert stop.value.code == 2 and not (tmp_path / "c.csv").exists()
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "nlptl: error: --precision 'half': choose one of auto, fp32, bf16, int8")


def test_token_classification_models_are_routed_to_the_ner_decoding(tiny_model_dir, tmp_path, monkeypatch):
    ner_dir = tmp_path / "ner-model"
    tags = ["O", "B-PER", "I-PER"]
    model = BertForTokenClassification.from_pretrained(tiny_model_dir, num_labels=3, id2label=dict(enumerate(tags)),
                                                       label2id={t: i for i, t in enumerate(tags)})
    with torch.no_grad():  # every word's most probable tag is B-PER, so the real decoding finds entities
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    model.save_pretrained(ner_dir)
    BertTokenizer.from_pretrained(tiny_model_dir).save_pretrained(ner_dir)
    calls = []

    def predict_entities(model, texts, **settings):
        calls.append((list(texts), settings))
        return [[{"type": "PER", "text": text.split()[0]}] for text in texts]

    monkeypatch.setattr("nlptl.inference.predictor.predict_entities", predict_entities)
    predictor = Predictor(ner_dir)
    assert predictor.kind == "token_classification"
    assert predictor.predict(["good film", None], bad_rows="skip")[0] == {"entities": [{"type": "PER",
                                                                                         "text": "good"}]}
    src = tmp_path / "in.txt"
    src.write_text("good film\nbad plot\n")
    predict_file(predictor, str(src), tmp_path / "out.jsonl", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [json.loads(r["entities"]) for r in rows] == [[{"type": "PER", "text": "good"}],
                                                          [{"type": "PER", "text": "bad"}]]
    assert [texts for texts, _ in calls] == [["good film"], ["good film", "bad plot"]]  # the bad row never goes in
    assert all(settings["tokenizer"] is predictor.tokenizer and settings["batch_size"] == predictor.batch_size
               and settings["max_length"] == predictor.settings.max_length  # no recipe.yaml: the model's limit
               and (settings["stride"], settings["strict"], settings["decoding"]) == (None, False, "constrained")
               for _, settings in calls)
    monkeypatch.undo()
    texts = ["the film was good", "bad plot ."]
    spans = Predictor(ner_dir).predict(texts)  # the real decoding
    assert [len(row["entities"]) for row in spans] == [4, 3]  # every word is a one-word PER entity
    for text, row in zip(texts, spans, strict=True):
        assert [entity["text"] for entity in row["entities"]] == text.split()
        assert all(entity["type"] == "PER" and text[entity["start_char"]:entity["end_char"]] == entity["text"]
                   for entity in row["entities"])


def test_base_checkpoints_without_a_head_are_refused(tiny_model_dir):
    with pytest.raises(NlptlError, match="prediction needs a fine-tuned sequence classification, multi-label, "
                                         "regression or token-classification"):
        Predictor(tiny_model_dir)
