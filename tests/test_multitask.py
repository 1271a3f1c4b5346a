"""Multi-task learning on the tiny BERT: one shared encoder, a sentiment head and an NER head."""

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_recipe
from test_cli import run_cli
from test_token_classification import NAMES, write_ner_splits

import nlptl
from nlptl import NlptlError
from nlptl.recipe import MultitaskConfig, TaskSpec, load_recipe_yaml


@pytest.fixture(scope="module")
def ner_dir(tmp_path_factory) -> Path:
    return write_ner_splits(tmp_path_factory.mktemp("mt-ner"), {"train": 192, "validation": 40, "test": 40})


def multitask_recipe(model_dir: Path, data_dir: Path, ner_dir: Path, output_dir: Path, **train) -> nlptl.Recipe:
    recipe = tiny_recipe(model_dir, data_dir, output_dir, **{"epochs": 6, **train})
    recipe.task = "multitask"
    recipe.multitask = MultitaskConfig(tasks=[
        TaskSpec(name="sentiment", data=recipe.data),
        TaskSpec(name="ner", task="token_classification",
                 data=nlptl.DataConfig(source=str(ner_dir), label_names=NAMES, max_length=32)),
    ])
    return recipe


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path_factory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("mt") / "run"
    return run, nlptl.train(multitask_recipe(tiny_model_dir, tiny_data_dir, ner_dir, run))


def test_trains_both_heads_and_reports_each_task(trained):
    run, metrics = trained
    validation = metrics["validation"]
    assert validation["sentiment/accuracy"] > 0.8 and validation["ner/f1"] > 0.5, validation
    assert validation["mean"] == pytest.approx((validation["sentiment/accuracy"] + validation["ner/f1"]) / 2)
    assert "ner/f1" in metrics["test"] and "sentiment/accuracy" in metrics["test"]
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert {"sentiment/accuracy", "ner/f1", "mean"} <= set(history[-1]["validation"])
    manifest = json.loads((run / "multitask.json").read_text())
    assert [(task["name"], task["task"]) for task in manifest["tasks"]] == [
        ("sentiment", "sequence_classification"), ("ner", "token_classification")]
    for name in ("sentiment", "ner"):
        assert (run / "heads" / name / "model.safetensors").is_file()
    assert (run / "heads" / "sentiment" / "confusion_matrix.png").is_file()  # each task's own reports
    recipe = load_recipe_yaml(run / "recipe.yaml")  # the run's recipe reads back, tasks included
    assert [spec.name for spec in recipe.multitask.tasks] == ["sentiment", "ner"]
    assert recipe.multitask.tasks[1].data.label_names == NAMES


def test_the_encoder_is_plain_transformers_and_each_head_predicts(trained, tiny_data_dir):
    from transformers import AutoModel

    run, metrics = trained
    assert type(AutoModel.from_pretrained(run)).__name__ == "BertModel"
    validation = pd.read_parquet(tiny_data_dir / "validation.parquet")
    predictions = nlptl.Predictor(run, task="sentiment", precision="fp32").predict(list(validation["text"]))
    accuracy = sum(p["label"] == ["neg", "pos"][y] for p, y in zip(predictions, validation["label"], strict=True))
    assert accuracy / len(validation) == pytest.approx(metrics["validation"]["sentiment/accuracy"], abs=1e-6)
    entities = nlptl.Predictor(run, task="ner").predict(["the Goods film was in Bad ."])[0]["entities"]
    assert {(e["text"], e["type"]) for e in entities} >= {("Goods", "PER")}, entities


def test_predict_and_evaluate_take_the_task_from_the_command_line(trained, ner_dir, tmp_path, capsys):
    run, metrics = trained
    (tmp_path / "in.csv").write_text("text\na great film\nan awful film\n")
    code, _, err = run_cli(["predict", str(run), str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"),
                            "--task", "sentiment", "--no-progress"], capsys)
    assert code == 0, err
    assert list(pd.read_csv(tmp_path / "out.csv")["label"]) == ["pos", "neg"]
    code, _, err = run_cli(["evaluate", str(run), str(ner_dir), "--task", "ner", "--output-dir",
                            str(tmp_path / "eval"), "--no-progress"], capsys)
    assert code == 0, err
    scored = json.loads((tmp_path / "eval" / "metrics.json").read_text())["test"]
    assert scored["f1"] == pytest.approx(metrics["test"]["ner/f1"], abs=1e-6)  # the same head as in training


@pytest.mark.parametrize("task, message", [
    (None, "is a multi-task model: no --task given; pass --task with one of sentiment, ner"),
    ("sentimnt", "is a multi-task model: no task 'sentimnt'; pass --task with one of sentiment, ner"),
])
def test_a_missing_or_unknown_task_is_one_line_and_exit_code_2(trained, tmp_path, capsys, task, message):
    run, _ = trained
    (tmp_path / "in.csv").write_text("text\na great film\n")
    argv = ["predict", str(run), str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")]
    code, _, err = run_cli(argv + (["--task", task] if task else []), capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(NlptlError, match=message.split(":")[1].strip()):
        nlptl.Predictor(run, task=task)


def test_a_task_asked_of_a_single_task_model_is_an_error(tiny_model_dir, tmp_path):
    with pytest.raises(NlptlError, match="is a single-task model"):
        nlptl.Predictor(tiny_model_dir, task="sentiment")


def test_recipe_errors_name_the_task(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path):
    recipe = multitask_recipe(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path / "run")
    recipe.multitask.tasks[1].name = "sentiment"
    with pytest.raises(NlptlError, match=r"multitask.tasks\[1\].name='sentiment'"):
        nlptl.train(recipe)
    recipe.multitask.tasks[1].name = "ner"
    recipe.multitask.tasks[1].task = "token_clasification"
    with pytest.raises(NlptlError, match=r"multitask.tasks\[1\].task='token_clasification': choose one of"):
        nlptl.train(recipe)
    recipe.multitask.tasks = []
    with pytest.raises(NlptlError, match="needs multitask.tasks"):
        nlptl.train(recipe)
    assert not (tmp_path / "run").exists()
