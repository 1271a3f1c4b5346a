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

pytestmark = pytest.mark.slow  # tiny multi-task trainings (a minute or more on 2 cores): the slow run


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


def test_resume_continues_exactly(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path):
    from conftest import final_weights_whole_and_resumed

    def recipe_for(output_dir: Path) -> nlptl.Recipe:
        recipe = multitask_recipe(tiny_model_dir, tiny_data_dir, ner_dir, output_dir, max_steps=6, eval_every=3,
                                  keep_checkpoints=5)
        recipe.multitask.sampling = "uniform"
        return recipe

    whole, resumed = final_weights_whole_and_resumed(recipe_for, tmp_path)
    assert whole.keys() == resumed.keys() and all((whole[k] == resumed[k]).all() for k in whole)


def test_freezing_applies_to_the_shared_encoder(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path):
    from safetensors.torch import load_file

    recipe = multitask_recipe(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path / "run", max_steps=4)
    recipe.strategy.name, recipe.strategy.freeze_layers = "partial_freezing", 1
    metrics = nlptl.train(recipe)
    pretrained = {k.removeprefix("bert."): v for k, v in load_file(str(tiny_model_dir / "model.safetensors")).items()}
    trained = load_file(str(tmp_path / "run" / "model.safetensors"))
    frozen = [k for k in trained if k.startswith(("embeddings.", "encoder.layer.0."))]
    assert frozen and all((trained[k] == pretrained[k]).all() for k in frozen)
    top = "encoder.layer.1.output.dense.weight"
    assert not (trained[top] == pretrained[top]).all()
    assert metrics["train"]["trainable_parameters"] < metrics["train"]["total_parameters"]


def test_loss_weight_scales_the_task_loss(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path):
    import torch

    from nlptl.tasks.multitask import MultitaskTask

    recipe = multitask_recipe(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path / "run")
    recipe.multitask.tasks[1].loss_weight = 0.25
    task = MultitaskTask()
    task.setup(recipe)
    logits, labels = torch.randn(2, 3, 5), torch.tensor([[0, 1, -100], [2, 0, 0]])
    weighted = task.task_of({"task_index": torch.tensor([1, 1])})
    assert weighted.loss_sum(logits, labels) == pytest.approx(0.25 * task.tasks[1].loss_sum(logits, labels).item())
    assert weighted.count_targets(labels) == 5
    assert task.task_of({"task_index": torch.tensor([0])}) is task.tasks[0]


def test_per_task_fields_are_command_line_flags(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path):
    from nlptl.overrides import apply_overrides
    from nlptl.recipe import load_recipe_file

    recipe = load_recipe_file(Path(__file__).resolve().parents[1] / "recipes" / "sst2_conll_multitask.py")
    changed = apply_overrides(recipe, ["--multitask.tasks.conll.data.max_train_samples", "200", "--seed", "7",
                                       "--multitask.sampling", "temperature", "--train.max_steps", "5",
                                       "--model", str(tiny_model_dir), "--output-dir", str(tmp_path)])
    sst2, conll = changed.multitask.tasks
    assert conll.data.max_train_samples == 200 and sst2.data.max_train_samples is None
    assert (changed.seed, changed.multitask.sampling, changed.train.max_steps) == (7, "temperature", 5)
    assert changed.model.name == str(tiny_model_dir) and changed.output_dir == str(tmp_path)
    imdb = load_recipe_file(Path(__file__).resolve().parents[1] / "recipes" / "imdb_sst2_multitask.py")
    assert [spec.data.source for spec in imdb.multitask.tasks] == ["stanfordnlp/imdb", "stanfordnlp/sst2"]
    with pytest.raises(NlptlError, match="did you mean --multitask.tasks.conll.data.max-train-samples"):
        apply_overrides(recipe, ["--multitask.tasks.cnll.data.max_train_samples", "200"])


@pytest.mark.parametrize("strategy", ["lora", "feature_extraction"])
def test_strategies_that_wrap_the_encoder_train_and_save_a_usable_run(tiny_model_dir, tiny_data_dir, ner_dir,
                                                                       tmp_path, strategy):
    recipe = multitask_recipe(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path / "run", max_steps=2)
    recipe.strategy.name = strategy
    metrics = nlptl.train(recipe)
    assert metrics["train"]["trainable_parameters"] < metrics["train"]["total_parameters"] / 2
    assert nlptl.Predictor(tmp_path / "run", task="sentiment").predict(["a good film"])[0]["label"] in ("neg", "pos")
    assert "entities" in nlptl.Predictor(tmp_path / "run", task="ner").predict(["the Goods film"])[0]


def test_export_writes_one_head_as_a_standalone_onnx_model(trained, tmp_path, capsys):
    run, _ = trained
    code, _, err = run_cli(["export", str(run), "--output", str(tmp_path / "onnx"), "--task", "sentiment",
                            "--parity-samples", "16"], capsys)
    assert code == 0, err
    info = json.loads((tmp_path / "onnx" / "export.json").read_text())
    assert info["labels"] == ["neg", "pos"] and info["parity"]["identical_share"] == 1.0
    texts = ["a great film", "an awful plot"]
    onnx = [row["label"] for row in nlptl.Predictor(tmp_path / "onnx", backend="onnx").predict(texts)]
    assert onnx == [row["label"] for row in nlptl.Predictor(run, task="sentiment").predict(texts)]
