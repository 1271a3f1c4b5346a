"""Multi-task learning on the tiny BERT: one shared encoder, a sentiment head and an NER head."""

import json
from pathlib import Path

import pytest
from conftest import tiny_recipe
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


def test_trains_both_heads_and_reports_each_task(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path):
    metrics = nlptl.train(multitask_recipe(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path / "run"))
    validation = metrics["validation"]
    assert validation["sentiment/accuracy"] > 0.8 and validation["ner/f1"] > 0.5, validation
    assert validation["mean"] == pytest.approx((validation["sentiment/accuracy"] + validation["ner/f1"]) / 2)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert {"sentiment/accuracy", "ner/f1", "mean"} <= set(history[-1]["validation"])
    manifest = json.loads((tmp_path / "run" / "multitask.json").read_text())
    assert [task["name"] for task in manifest["tasks"]] == ["sentiment", "ner"]
    for name in ("sentiment", "ner"):
        assert (tmp_path / "run" / "heads" / name / "model.safetensors").is_file()
    recipe = load_recipe_yaml(tmp_path / "run" / "recipe.yaml")  # the run's recipe reads back, tasks included
    assert [spec.name for spec in recipe.multitask.tasks] == ["sentiment", "ner"]
    assert recipe.multitask.tasks[1].data.label_names == NAMES


def test_unknown_task_kind_and_duplicate_names_are_recipe_errors(tiny_model_dir, tiny_data_dir, ner_dir, tmp_path):
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
