"""`nlptl evaluate`: reproduces a run's own test scores, maps labels by the model's names, refuses unknown labels
naming file/row/value, NER, text pairs, window pooling as predict does, the reports, and the CLI's errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import pandas as pd
import pytest
import torch
import yaml
from conftest import synthetic_reviews, tiny_recipe
from predict_helpers import trained_tiny_run
from transformers import BertForTokenClassification, BertTokenizer

import nlptl
from nlptl import NlptlError
from nlptl.cli import main as cli_main
from nlptl.evaluation.run import evaluate
from nlptl.inference.predictor import Predictor

PLOTS = ("confusion_matrix.png", "roc_curve.png", "precision_recall.png", "reliability.png")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    return trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)


@pytest.fixture(scope="module")
def test_frame(tiny_data_dir) -> pd.DataFrame:
    return pd.read_parquet(tiny_data_dir / "test.parquet")


def expected_labels(predictor: Predictor, texts: list[str], pairs: list[str] | None = None) -> list[str]:
    return [row["label"] for row in predictor.predict(texts, pairs=pairs)]


def test_reproduces_the_runs_test_scores_and_writes_every_report(run_dir, tiny_data_dir, tmp_path):
    trained = json.loads((run_dir / "metrics.json").read_text())["test"]
    result = nlptl.evaluate(run_dir, str(tiny_data_dir), split="test", output_dir=tmp_path / "out", progress=False)
    scores = result["test"]
    assert scores["accuracy"] == trained["accuracy"] and scores["confusion_matrix"] == trained["confusion_matrix"]
    assert scores["roc_auc"] == pytest.approx(trained["roc_auc"], abs=1e-6)
    assert 0 <= scores["ece"] <= 1 and scores["ece"] == pytest.approx(trained["ece"], abs=1e-5)
    assert scores["long_text"] == trained["long_text"] == {"long_text": "truncate", "max_length": 32,
                                                           "truncation": "head", "head_tokens": 128}
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(written) == {"test", "evaluation"} and written["test"]["num_examples"] == 75
    assert {"accuracy", "f1", "roc_auc", "average_precision", "ece", "per_class", "confusion_matrix"} <= set(
        written["test"])
    for name in (*PLOTS, "per_class.json", "per_class.md"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert "| neg |" in (tmp_path / "out" / "per_class.md").read_text()
    for name in (*PLOTS, "training_curves.png", "per_class.md"):  # training writes the same reports
        assert (run_dir / name).stat().st_size > 0, name


@pytest.mark.slow  # unit-run budget: trains a tiny model end to end (the slow job runs it)
def test_max_samples_scores_the_rows_training_sampled(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", epochs=1)
    recipe.data.max_eval_samples = 40
    trained = nlptl.train(recipe)["test"]
    result = evaluate(tmp_path / "run", str(tiny_data_dir), max_samples=40, progress=False)["test"]
    assert result["num_examples"] == 40 and result["confusion_matrix"] == trained["confusion_matrix"]
    assert result["roc_auc"] == pytest.approx(trained["roc_auc"], abs=1e-6)


def test_labels_map_by_the_models_names_whatever_order_the_data_lists_them(run_dir, test_frame, tmp_path):
    test_frame.to_parquet(tmp_path / "ints.parquet")
    reference = evaluate(run_dir, str(tmp_path / "ints.parquet"), output_dir=tmp_path / "a", progress=False)["test"]
    names = test_frame.assign(label=test_frame["label"].map({0: "neg", 1: "pos"}))
    names.to_csv(tmp_path / "names.csv", index=False)
    by_name = evaluate(run_dir, str(tmp_path / "names.csv"), output_dir=tmp_path / "b", progress=False)["test"]
    reversed_ids = datasets.Dataset.from_dict(
        {"text": test_frame["text"].tolist(), "label": [1 - v for v in test_frame["label"]]},
        features=datasets.Features({"text": datasets.Value("string"),
                                    "label": datasets.ClassLabel(names=["pos", "neg"])}))
    reversed_ids.to_parquet(tmp_path / "reversed.parquet")
    by_classlabel = evaluate(run_dir, str(tmp_path / "reversed.parquet"), output_dir=tmp_path / "c",
                             progress=False)["test"]
    assert reference["accuracy"] > 0.6  # the tiny run learned: a label mix-up would show
    assert by_name["confusion_matrix"] == by_classlabel["confusion_matrix"] == reference["confusion_matrix"]


def test_an_unknown_label_names_file_row_and_value(run_dir, test_frame, tmp_path):
    frame = test_frame.assign(label=test_frame["label"].map({0: "neg", 1: "pos"}))
    frame.loc[4, "label"] = "meh"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(NlptlError, match=r"bad\.csv: row 5: label 'meh' is not a class of the model"):
        evaluate(run_dir, str(tmp_path / "bad.csv"), output_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_window_long_text_scores_as_predict_does_and_is_recorded(run_dir, tmp_path):
    frame = synthetic_reviews(30, seed=11)
    frame["text"] = [" ".join([text] * 4) for text in frame["text"]]  # most longer than max_length 32
    frame.to_parquet(tmp_path / "long.parquet")
    result = evaluate(run_dir, str(tmp_path / "long.parquet"), long_text="window", stride=4,
                      output_dir=tmp_path / "out", progress=False)["test"]
    predictor = Predictor(run_dir, long_text="window", stride=4, precision="fp32")
    predicted = expected_labels(predictor, frame["text"].tolist())
    assert result["accuracy"] == pytest.approx(
        sum(p == ["neg", "pos"][g] for p, g in zip(predicted, frame["label"], strict=True)) / len(frame))
    assert result["long_text"]["long_text"] == "window" and result["long_text"]["stride"] == 4


@pytest.mark.slow  # two tiny trainings
@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_training_scores_windows_as_evaluate_and_predict_do(tiny_model_dir, tiny_data_dir, tmp_path, pooling):
    """data.long_text window: the run's own test score pools windows, per text, exactly as evaluate does."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(tiny_data_dir / "train.parquet", data / "train.parquet")
    for split, seed in (("validation", 12), ("test", 13)):
        frame = synthetic_reviews(30, seed=seed)
        frame["text"] = [" ".join([text] * 4) for text in frame["text"]]  # most longer than max_length 32
        frame.to_parquet(data / f"{split}.parquet")
    recipe = tiny_recipe(tiny_model_dir, data, tmp_path / "run", epochs=2)
    recipe.data.long_text, recipe.data.window_pooling, recipe.data.stride = "window", pooling, 4
    trained = nlptl.train(recipe)["test"]
    assert trained["num_examples"] == 30  # texts, not windows
    assert trained["long_text"] == {"long_text": "window", "max_length": 32, "stride": 4, "pooling": pooling}
    result = evaluate(tmp_path / "run", str(data), output_dir=tmp_path / "out", progress=False)["test"]
    assert result["confusion_matrix"] == trained["confusion_matrix"] and result["long_text"] == trained["long_text"]
    assert result["roc_auc"] == pytest.approx(trained["roc_auc"], abs=1e-6)
    truncated = evaluate(tmp_path / "run", str(data), long_text="truncate", output_dir=tmp_path / "cut",
                         progress=False)["test"]
    assert truncated["long_text"]["long_text"] == "truncate"


def test_window_long_text_of_a_pair_recipe_is_one_line(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", epochs=1)
    recipe.data.long_text, recipe.data.text_pair_column = "window", "text"
    with pytest.raises(NlptlError, match="long_text window does not apply to text pairs"):
        nlptl.train(recipe)
    recipe.data.long_text, recipe.data.text_pair_column, recipe.data.window_pooling = "window", None, "median"
    with pytest.raises(NlptlError, match="window_pooling 'median': choose one of mean, max"):
        nlptl.train(recipe)


@pytest.fixture(scope="module")
def pair_run(run_dir, tmp_path_factory) -> Path:
    """The tiny run as if trained on pairs: its recipe names a second-text column."""
    pair_dir = tmp_path_factory.mktemp("pairs") / "run"
    shutil.copytree(run_dir, pair_dir, ignore=shutil.ignore_patterns("checkpoints"))
    recipe = yaml.safe_load((pair_dir / "recipe.yaml").read_text())
    recipe["data"]["text_pair_column"] = "hypothesis"
    (pair_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return pair_dir


@pytest.mark.slow  # unit-run budget: trains a tiny model end to end (the slow job runs it)
def test_pair_models_read_their_pair_column_and_need_it(pair_run, run_dir, test_frame, tmp_path):
    frame = test_frame.assign(hypothesis=["superb" if i % 2 else "awful" for i in range(len(test_frame))])
    frame.to_json(tmp_path / "pairs.jsonl", orient="records", lines=True)
    result = evaluate(pair_run, str(tmp_path / "pairs.jsonl"), output_dir=tmp_path / "out", progress=False)
    predicted = expected_labels(Predictor(pair_run, precision="fp32"), frame["text"].tolist(),
                                frame["hypothesis"].tolist())
    assert result["test"]["accuracy"] == pytest.approx(
        sum(p == ["neg", "pos"][g] for p, g in zip(predicted, frame["label"], strict=True)) / len(frame))
    assert result["evaluation"]["text_pair_column"] == "hypothesis"
    frame.rename(columns={"hypothesis": "second"}).to_json(tmp_path / "renamed.jsonl", orient="records", lines=True)
    renamed = evaluate(pair_run, str(tmp_path / "renamed.jsonl"), text_pair_column="second",
                       output_dir=tmp_path / "out2", progress=False)
    assert renamed["test"]["confusion_matrix"] == result["test"]["confusion_matrix"]
    test_frame.to_json(tmp_path / "single.jsonl", orient="records", lines=True)
    with pytest.raises(NlptlError, match="no text pair column 'hypothesis'"):
        evaluate(pair_run, str(tmp_path / "single.jsonl"), output_dir=tmp_path / "out3", progress=False)
    with pytest.raises(NlptlError, match="trained on single texts"):
        evaluate(run_dir, str(tmp_path / "pairs.jsonl"), text_pair_column="hypothesis",
                 output_dir=tmp_path / "out4", progress=False)


@pytest.fixture(scope="module")
def ner_model(tiny_model_dir, tmp_path_factory) -> Path:
    """A token classifier whose most probable tag for every word is B-PER."""
    ner_dir = tmp_path_factory.mktemp("ner") / "model"
    tags = ["O", "B-PER", "I-PER"]
    model = BertForTokenClassification.from_pretrained(tiny_model_dir, num_labels=3, id2label=dict(enumerate(tags)),
                                                       label2id={t: i for i, t in enumerate(tags)})
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    model.save_pretrained(ner_dir)
    BertTokenizer.from_pretrained(tiny_model_dir).save_pretrained(ner_dir)
    return ner_dir


def test_ner_scores_entities_with_seqeval_as_training_does(ner_model, tmp_path):
    rows = [{"tokens": ["good", "film"], "ner_tags": ["B-PER", "B-PER"]},
            {"tokens": ["the", "plot"], "ner_tags": ["O", "O"]},
            {"tokens": ["fun"] * 150, "ner_tags": ["B-PER"] * 150}]  # longer than max_length: windows
    pd.DataFrame(rows).to_json(tmp_path / "ner.jsonl", orient="records", lines=True)
    result = evaluate(ner_model, str(tmp_path / "ner.jsonl"), max_length=32, output_dir=tmp_path / "out",
                      progress=False)["test"]
    assert result["num_examples"] == 3 and result["num_words"] == 154
    assert result["recall"] == 1.0 and result["precision"] == pytest.approx(152 / 154)
    assert result["long_text"]["long_text"] == "window"
    for name in ("entity_f1.png", "per_class.json", "per_class.md", "metrics.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    rows[1]["ner_tags"] = ["O", "B-LOC"]
    pd.DataFrame(rows).to_json(tmp_path / "bad.jsonl", orient="records", lines=True)
    with pytest.raises(NlptlError, match=r"bad\.jsonl: row 2: tag 'B-LOC' \(word 2, 'plot'\) is not a tag"):
        evaluate(ner_model, str(tmp_path / "bad.jsonl"), output_dir=tmp_path / "out2", progress=False)
    (tmp_path / "test.conll").write_text("good B-PER\nfilm O\n\nthe O\nplot B-LOC\n")
    with pytest.raises(NlptlError, match=r"test\.conll:5: tag 'B-LOC'"):
        evaluate(ner_model, str(tmp_path / "test.conll"), output_dir=tmp_path / "out3", progress=False)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["evaluate", *args, "--no-progress"])
    return int(exit_info.value.code or 0), capsys.readouterr().err.strip()


def test_cli_errors_are_one_line_with_exit_2_and_nothing_is_overwritten(run_dir, tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("keep")
    code, err = run_cli([str(run_dir), str(tiny_data_dir), "--output-dir", str(out)], capsys)
    assert code == 2 and "already exists" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert (out / "metrics.json").read_text() == "keep"
    code, err = run_cli([str(run_dir), str(tiny_data_dir), "--split", "dev", "--output-dir", str(tmp_path / "x")],
                        capsys)
    assert code == 2 and "has no split 'dev'" in err and len(err.splitlines()) == 1
    code, err = run_cli([str(run_dir), str(tiny_data_dir), "--label-column", "gold", "--output-dir",
                         str(tmp_path / "y")], capsys)
    assert code == 2 and "label column 'gold'" in err and len(err.splitlines()) == 1
    cli_main(["evaluate", str(run_dir), str(tiny_data_dir), "--output-dir", str(out), "--overwrite", "--no-progress",
              "--max-samples", "10"])
    assert json.loads((out / "metrics.json").read_text())["test"]["num_examples"] == 10
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind
