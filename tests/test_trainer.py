import json
import shutil

import pytest
import torch
import yaml
from conftest import tiny_recipe
from safetensors.torch import load_file
from transformers import AutoConfig

import nlptl
from nlptl import NlptlError
from nlptl.cli import main as cli_main
from nlptl.data.pipeline import build_datasets
from nlptl.models import load_tokenizer
from nlptl.recipe import load_recipe_yaml
from nlptl.tasks import get_task


def weights(path):
    return load_file(str(path / "model.safetensors"))


def assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=atol, rtol=0), key


def test_fine_tunes_and_writes_every_output(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, out)
    metrics = nlptl.train(recipe)
    assert metrics["test"]["num_examples"] == 75 and metrics["validation"]["num_examples"] == 64
    assert metrics["test"]["accuracy"] > 0.8  # one sentiment word decides the label
    saved = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "f1", "precision", "recall", "per_class", "confusion_matrix"} <= set(saved["test"])
    config = AutoConfig.from_pretrained(out)
    assert config.id2label == {0: "neg", 1: "pos"} and config.label2id == {"neg": 0, "pos": 1}
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert load_recipe_yaml(out / "recipe.yaml") == recipe
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert {"step", "epoch", "loss", "lr", "samples_per_second", "validation"} <= set(history[0])
    assert history[-1]["loss"] < history[0]["loss"]
    assert saved["train"]["did_not_learn"] is False and "did_not_learn" not in history[-1]  # a learning run
    assert not list(out.glob(".*tmp")) and not list(out.glob(".staging-*"))


def test_existing_run_is_not_overwritten(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    with pytest.raises(NlptlError, match="already holds a run"):
        nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, out))
    assert (out / "metrics.json").read_text() == "{}"


def test_gradient_accumulation_equals_a_larger_batch(tiny_model_dir, tiny_data_dir, tmp_path):
    common = {"max_steps": 3, "group_by_length": False, "eval_batch_size": 64}
    big = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "big", batch_size=16, **common)
    small = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "small", batch_size=8, grad_accum=2, **common)
    for recipe in (big, small):
        recipe.model.dropout = 0.0
        nlptl.train(recipe)
    assert_same_weights(weights(tmp_path / "big"), weights(tmp_path / "small"), atol=1e-5)


@pytest.mark.slow  # unit-run budget: several tiny trainings (the slow job runs it)
def test_resume_continues_exactly(tiny_model_dir, tiny_data_dir, tmp_path):
    """Resuming mid-epoch from a checkpoint ends with the same weights as the uninterrupted run."""
    full = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "full", epochs=2, eval_every=6, keep_checkpoints=10)
    nlptl.train(full)
    resumed = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "resumed", epochs=2, eval_every=6,
                          keep_checkpoints=10)
    resumed.resume = str(tmp_path / "full" / "checkpoints" / "step-0000006")
    nlptl.train(resumed)
    last = "checkpoints/step-0000032"
    assert_same_weights(weights(tmp_path / "full" / last), weights(tmp_path / "resumed" / last))
    history = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "history.jsonl").read_text().splitlines()]
    assert history == [12, 18, 24, 30, 32]


def test_resume_latest_in_the_same_output_dir(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2))
    shutil.rmtree(out / "checkpoints" / "step-0000004")  # as if killed before the last checkpoint
    again = tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2)
    again.resume = "latest"
    nlptl.train(again)
    steps = [json.loads(line)["step"] for line in (out / "history.jsonl").read_text().splitlines()]
    assert steps == [2, 4]


@pytest.mark.slow  # unit-run budget: trains a tiny model end to end (the slow job runs it)
def test_early_stopping_and_best_model(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, out, eval_every=2, early_stopping_patience=2,
                         metric_for_best="num_examples", keep_checkpoints=1)
    nlptl.train(recipe)  # a constant metric never improves after the first evaluation
    steps = [json.loads(line)["step"] for line in (out / "history.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]
    assert_same_weights(weights(out), weights(out / "checkpoints" / "step-0000002"))


def test_unknown_metric_for_best(tiny_model_dir, tiny_data_dir, tmp_path):
    with pytest.raises(NlptlError, match="metric_for_best='auc'"):
        nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "r", max_steps=1, metric_for_best="auc"))


def test_second_identical_run_reuses_tokenization(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "r")
    recipe.data.cache_dir = str(tmp_path / "cache")
    tokenizer = load_tokenizer(recipe.model, {})
    first = build_datasets(recipe, get_task(recipe.task), tokenizer)
    files = [f["filename"] for f in first["train"].cache_files]
    stamps = {f: __import__("os").stat(f).st_mtime_ns for f in files}
    second = build_datasets(recipe, get_task(recipe.task), tokenizer)
    assert [f["filename"] for f in second["train"].cache_files] == files
    assert all(__import__("os").stat(f).st_mtime_ns == stamps[f] for f in files)


def test_cli_trains_a_saved_recipe_yaml(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "first", max_steps=2)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(nlptl.recipe.recipe_to_dict(recipe)))
    cli_main(["train", str(path), "--output-dir", str(tmp_path / "second"), "--train.lr", "1e-3"])
    assert load_recipe_yaml(tmp_path / "second" / "recipe.yaml").train.lr == 1e-3
    with pytest.raises(SystemExit) as stop:
        cli_main(["train", str(path), "--train.lr", "fast"])
    assert stop.value.code == 2 and "--train.lr: cannot read 'fast'" in capsys.readouterr().err


def test_min_steps_trains_more_epochs_on_a_small_training_set(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", epochs=1, min_steps=5)
    recipe.data.max_train_samples = 32  # 2 steps per epoch at batch 16
    metrics = nlptl.train(recipe)
    assert metrics["train"]["steps"] == 5 and metrics["train"]["samples_seen"] == 5 * 16


def test_group_window_below_one_is_a_clear_error(tiny_model_dir, tiny_data_dir, tmp_path):
    with pytest.raises(NlptlError, match="train.group_window=0: use at least 1"):
        nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", group_window=0))


def test_auto_precision_is_recorded_and_kept_by_a_resumed_run(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    metrics = nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2,
                                      mixed_precision="auto"))
    chosen = metrics["train"]["precision"]
    assert chosen["requested"] == "auto" and chosen["used"] in ("no", "bf16") and "x fp32 here" in chosen["reason"]
    assert json.loads((out / "metrics.json").read_text())["train"]["precision"] == chosen
    other = "no" if chosen["used"] == "bf16" else "bf16"  # as if the interrupted run had measured otherwise
    (out / "precision.json").write_text(json.dumps({**chosen, "used": other}))
    shutil.rmtree(out / "checkpoints" / "step-0000004")
    again = tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2, mixed_precision="auto")
    again.resume = "latest"
    resumed = nlptl.train(again)["train"]["precision"]
    assert resumed["used"] == other and resumed["reason"].startswith("as the interrupted run")


@pytest.mark.slow  # unit-run budget: trains a tiny model end to end (the slow job runs it)
def test_a_damaged_precision_record_is_measured_again_on_resume(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2, mixed_precision="auto"))
    (out / "precision.json").write_text("{not json")
    shutil.rmtree(out / "checkpoints" / "step-0000004")
    again = tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2, mixed_precision="auto")
    again.resume = "latest"
    chosen = nlptl.train(again)["train"]["precision"]
    assert "x fp32 here" in chosen["reason"] and not chosen["reason"].startswith("as the interrupted run")
    assert json.loads((out / "precision.json").read_text())["used"] == chosen["used"]  # rewritten whole
