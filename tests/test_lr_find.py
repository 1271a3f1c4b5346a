"""The LR range test (`nlptl lr-find`, `train.lr auto`) and the did-not-learn check, on the tiny BERT."""

import hashlib
import json
import logging

import numpy as np
import pytest
import yaml
from conftest import tiny_recipe
from safetensors.torch import load_file
from test_token_classification import NAMES, ner_recipe, write_ner_splits

import nlptl
from nlptl.cli import main as cli_main
from nlptl.recipe import load_recipe_yaml
from nlptl.run import find_learning_rate
from nlptl.training.lr_find import smooth, suggest_lr, sweep_rates, valley_index


def synthetic_curve(lrs):
    """Flat until 1e-4, falls (steepest near 1e-3) to a minimum near 1e-2, then explodes."""
    x = np.log10(lrs)
    falling = 1 / (1 + np.exp(-(x + 3) * 3))  # 0 -> 1 around lr 1e-3
    return list(1.0 - 0.8 * falling + np.where(x > -2, (x + 2) ** 2 * 3, 0.0))


def test_suggestion_rules_on_a_synthetic_curve():
    lrs = sweep_rates(1e-6, 1e-1, 41)
    losses = synthetic_curve(lrs)
    assert 5e-4 < suggest_lr(lrs, losses, "steepest") < 2e-3  # where the loss falls fastest
    lowest = lrs[int(np.argmin(losses))]
    assert suggest_lr(lrs, losses, "minimum") == pytest.approx(lowest / 10)
    noisy = smooth([v + 0.01 * (-1) ** i for i, v in enumerate(losses)])  # a real curve's flat start is noisy
    assert 1e-4 < suggest_lr(lrs, noisy, "valley") < 1e-3  # a third of the way down the falling stretch
    assert 5e-4 < suggest_lr(lrs, noisy, "steepest") < 5e-3
    assert valley_index([3, 2, 1, 2, 3]) == 0 + int(2 / 3) + int(2 / 3 / 2)
    with pytest.raises(nlptl.NlptlError, match="lr_find_rule='fast'"):
        suggest_lr(lrs, losses, "fast")


def test_lr_find_writes_the_curve_and_leaves_the_model_alone(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    before = hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).hexdigest()
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "find", lr="auto", lr_find_steps=12)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(nlptl.recipe.recipe_to_dict(recipe)))
    cli_main(["lr-find", str(path)])
    out = tmp_path / "find"
    assert "suggested learning rate" in capsys.readouterr().out
    assert (out / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
    found = json.loads((out / "lr_find.json").read_text())
    assert 1e-6 <= found["suggested_lr"] <= 1e-1 and found["rule"] == "minimum"
    assert 4 <= len(found["lrs"]) == len(found["losses"]) <= 12
    assert set(found["suggestions"]) == {"steepest", "valley", "minimum"}
    assert not (out / "model.safetensors").exists() and not (out / "checkpoints").exists()
    assert hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).hexdigest() == before
    with pytest.raises(SystemExit) as stop:
        cli_main(["lr-find", str(path), "--train.lr_find_range", "1e-2,1e-5"])
    assert stop.value.code == 2 and "lr_find_range" in capsys.readouterr().err


@pytest.mark.slow  # unit-run budget: several tiny trainings (the slow job runs it)
def test_lr_auto_records_the_choice_and_trains_like_that_rate(tiny_model_dir, tiny_data_dir, tmp_path):
    common = {"max_steps": 6, "eval_every": 3, "keep_checkpoints": 5, "lr_find_steps": 10}
    auto = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "auto", lr="auto", **common)
    metrics = nlptl.train(auto)
    found = metrics["train"]["lr_find"]
    assert metrics["train"]["lr"] == found["suggested_lr"] and found["seconds"] > 0
    assert len(found["lrs"]) == len(found["losses"]) > 0
    assert load_recipe_yaml(tmp_path / "auto" / "recipe.yaml").train.lr == "auto"
    assert json.loads((tmp_path / "auto" / "metrics.json").read_text())["train"]["lr_find"] == found
    card = (tmp_path / "card").joinpath
    nlptl.push(tmp_path / "auto", "me/tiny", to_dir=tmp_path / "card")
    assert "auto: " in card("README.md").read_text() and "LR range test" in card("README.md").read_text()
    # the sweep restores every random state: the run equals one given the chosen rate
    fixed = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "fixed", lr=found["suggested_lr"], **common)
    nlptl.train(fixed)
    a, b = (load_file(str(tmp_path / run / "model.safetensors")) for run in ("auto", "fixed"))
    assert all((a[k] == b[k]).all() for k in a)
    # a resumed auto run reuses the recorded rate instead of sweeping again
    recorded = json.loads((tmp_path / "auto" / "lr_find.json").read_text())
    (tmp_path / "auto" / "lr_find.json").write_text(json.dumps({**recorded, "seconds": -1.0}))
    again = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "auto", lr="auto", **common)
    again.resume = str(tmp_path / "auto" / "checkpoints" / "step-0000003")
    resumed = nlptl.train(again)
    assert resumed["train"]["lr_find"]["seconds"] == -1.0
    c = load_file(str(tmp_path / "auto" / "model.safetensors"))
    assert all((a[k] == c[k]).all() for k in a)


@pytest.mark.parametrize("strategy", ["lora", "layerwise_lr", "gradual_unfreezing", "feature_extraction"])
def test_lr_find_with_transfer_strategies(tiny_model_dir, tiny_data_dir, tmp_path, strategy):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / strategy, lr="auto", lr_find_steps=8)
    recipe.strategy.name = strategy
    recipe.strategy.unfreeze_every_steps = 2
    found = find_learning_rate(recipe)
    assert 1e-6 <= found.suggested_lr <= 1e-1 and all(np.isfinite(found.losses))


@pytest.mark.slow  # unit-run budget: several tiny trainings (the slow job runs it)
def test_lr_find_for_masked_lm_and_ner_tasks(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "mlm", lr="auto", lr_find_steps=8)
    recipe.task = "masked_lm"
    recipe.data.max_train_samples = 64
    found = find_learning_rate(recipe)
    assert 1e-6 <= found.suggested_lr <= 1e-1 and found.losses[0] > 1  # ~ln(vocab) at the start
    (tmp_path / "ner-data").mkdir()
    ner = write_ner_splits(tmp_path / "ner-data", {"train": 64, "validation": 16, "test": 16})
    found = find_learning_rate(ner_recipe(tiny_model_dir, ner, tmp_path / "ner", NAMES, lr="auto",
                                                 lr_find_steps=8))
    assert 1e-6 <= found.suggested_lr <= 1e-1 and all(np.isfinite(found.losses))


@pytest.mark.slow  # unit-run budget: several tiny trainings (the slow job runs it)
def test_a_run_with_lr_zero_says_it_did_not_learn(tiny_model_dir, tiny_data_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="nlptl"):
        metrics = nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "stuck", lr=0.0, epochs=2))
    assert metrics["train"]["did_not_learn"] is True
    saved = json.loads((tmp_path / "stuck" / "metrics.json").read_text())
    assert saved["train"]["did_not_learn"] is True and saved["train"]["did_not_learn_because"]
    warnings = [r.getMessage() for r in caplog.records if "did not learn" in r.getMessage()]
    assert len(warnings) == 3  # each of the two evaluations and the end: one line each
    assert "majority-class rate" in warnings[-1] and "nlptl lr-find" in warnings[-1] and "\n" not in warnings[-1]
    history = [json.loads(line) for line in (tmp_path / "stuck" / "history.jsonl").read_text().splitlines()]
    assert all(h["did_not_learn"] for h in history)
