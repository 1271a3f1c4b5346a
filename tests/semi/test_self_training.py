"""Self-training end to end on the tiny BERT: rounds, balanced pseudo-labels measured against hidden gold labels,
a plain run folder at the end, and a killed run resumed to the same final weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from conftest import synthetic_reviews, tiny_recipe
from safetensors.torch import load_file

import nlptl
from nlptl import NlptlError, SemiConfig
from nlptl.semi import self_training


@pytest.fixture
def data_with_pool(tiny_data_dir, tmp_path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    synthetic_reviews(150, seed=21).to_parquet(data / "unsup.parquet")  # labelled, so the test can measure
    return data


def semi_recipe(tiny_model_dir: Path, data: Path, output: Path):
    recipe = tiny_recipe(tiny_model_dir, data, output)
    recipe.data.unlabelled_split = "unsup"  # the tiny model is right but unsure: probabilities 0.51-0.59
    recipe.semi = SemiConfig(method="self_training", rounds=1, threshold=0.52, max_unlabelled=120)
    return recipe


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


@pytest.mark.slow  # trains the tiny model end to end
def test_rounds_write_a_plain_run_and_report_the_pseudo_labels(tiny_model_dir, data_with_pool, tmp_path):
    out = tmp_path / "run"
    metrics = nlptl.train(semi_recipe(tiny_model_dir, data_with_pool, out))
    report = metrics["self_training"]
    [round_1] = report["rounds"]
    assert round_1["pool"] == 120 and round_1["pseudo_labelled"] > 0
    assert round_1["per_class"]["neg"] == round_1["per_class"]["pos"] == round_1["pseudo_labelled"] // 2
    assert 0 <= round_1["pool_accuracy"] <= 1 and 0 <= round_1["pseudo_label_accuracy"] <= 1
    assert report["teacher"]["test"]["num_examples"] == 75 and metrics["test"]["num_examples"] == 75
    train_rows = pq.read_table(out / "rounds" / "round-1" / "data" / "train.parquet")
    assert train_rows.num_rows == 256 + round_1["pseudo_labelled"]
    assert (out / "rounds" / "round-0" / "model.safetensors").is_file()
    assert json.loads((out / "metrics.json").read_text())["self_training"] == report
    assert nlptl.Predictor(out).predict(["a great film"])[0]["label"] in ("neg", "pos")
    with pytest.raises(NlptlError, match="already holds a self-training run"):
        nlptl.train(semi_recipe(tiny_model_dir, data_with_pool, out))


@pytest.mark.slow  # trains the tiny model end to end
def test_soft_labels_train_the_student_on_the_teacher_probabilities(tiny_model_dir, data_with_pool, tmp_path):
    out = tmp_path / "soft"
    recipe = semi_recipe(tiny_model_dir, data_with_pool, out)
    recipe.semi.soft_labels = True
    metrics = nlptl.train(recipe)
    [round_1] = metrics["self_training"]["rounds"]
    train_rows = pq.read_table(out / "rounds" / "round-1" / "data" / "train.parquet").to_pydict()
    weights = train_rows[self_training.SOFT_WEIGHT]
    assert len(weights) == 256 + round_1["soft_label_rows"] == 256 + 2 * round_1["pseudo_labelled"]  # unsure teacher
    assert weights[:256] == [1.0] * 256 and all(0.01 <= w < 1 for w in weights[256:])
    pairs = list(zip(train_rows["text"][256:], weights[256:], strict=True))
    assert all(text == pairs[i + 1][0] and w + pairs[i + 1][1] == pytest.approx(1.0, abs=1e-6)
               for i, (text, w) in list(enumerate(pairs))[::2])  # both classes of each text, summing to 1
    assert f"weight_column: {self_training.SOFT_WEIGHT}" in (out / "recipe.yaml").read_text()  # the student's
    assert (out / "model.safetensors").is_file() and metrics["test"]["num_examples"] == 75


@pytest.mark.slow  # four tiny trainings
def test_a_run_killed_between_rounds_resumes_to_the_same_weights(tiny_model_dir, data_with_pool, tmp_path,
                                                                 monkeypatch):
    whole = nlptl.train(semi_recipe(tiny_model_dir, data_with_pool, tmp_path / "whole"))
    select = self_training.select_pseudo_labels

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(self_training, "select_pseudo_labels", killed)
    with pytest.raises(KeyboardInterrupt):
        nlptl.train(semi_recipe(tiny_model_dir, data_with_pool, tmp_path / "killed"))
    teacher = tmp_path / "killed" / "rounds" / "round-0" / "model.safetensors"
    stamp = teacher.stat().st_mtime_ns
    monkeypatch.setattr(self_training, "select_pseudo_labels", select)
    recipe = semi_recipe(tiny_model_dir, data_with_pool, tmp_path / "killed")
    recipe.resume = "latest"
    resumed = nlptl.train(recipe)
    assert teacher.stat().st_mtime_ns == stamp  # the finished teacher was reused, not retrained
    assert resumed["self_training"]["rounds"][0]["per_class"] == whole["self_training"]["rounds"][0]["per_class"]
    final, expected = weights(tmp_path / "killed"), weights(tmp_path / "whole")
    assert all(torch.equal(final[name], expected[name]) for name in expected)


@pytest.mark.parametrize(("change", "message"), [
    ({"unlabelled_split": None}, "needs data.unlabelled_split"),
    ({"unlabelled_split": "nosuch"}, "data.unlabelled_split 'nosuch': .* has no such split"),
    ({"rounds": 0}, "semi.rounds 0: at least 1"),
    ({"method": "magic"}, "semi.method 'magic': choose one of self_training"),
    ({"soft_labels": True, "weight_column": "w"}, "semi.soft_labels weights each pseudo-labelled row"),
    ({"soft_labels": True, "method": "uda"}, "semi.soft_labels applies to semi.method self_training, not uda"),
    ({"soft_labels": True, "method": None}, "semi.soft_labels applies to semi.method self_training, not None"),
])
def test_recipe_mistakes_are_one_line(tiny_model_dir, data_with_pool, tmp_path, change, message):
    recipe = semi_recipe(tiny_model_dir, data_with_pool, tmp_path / "run")
    for key, value in change.items():
        setattr(recipe.data if key in ("unlabelled_split", "weight_column") else recipe.semi, key, value)
    with pytest.raises(NlptlError, match=message):
        nlptl.train(recipe)
    assert not (tmp_path / "run" / "rounds" / "round-0").exists()  # failed before training anything
