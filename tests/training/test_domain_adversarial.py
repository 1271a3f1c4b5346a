"""DANN: gradient reversal, the λ schedule, a tiny run that saves a plain classifier, and recipe mistakes."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import synthetic_reviews, tiny_recipe
from safetensors.torch import load_file

import nlptl
from nlptl import DomainConfig, NlptlError
from nlptl.training.strategies.domain_adversarial import dann_lambda, reverse_gradient


def test_gradient_reversal_is_identity_forward_and_flips_and_scales_the_gradient():
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.3)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.3, -0.6, -0.9]))


def test_lambda_rises_from_zero_to_the_maximum():
    values = [dann_lambda(p / 10, 0.5) for p in range(11)]
    assert values[0] == 0 and values == sorted(values) and values[-1] == pytest.approx(0.5, abs=1e-4)
    assert dann_lambda(0.5, 1.0) == pytest.approx(2 / (1 + torch.e ** -5) - 1)


@pytest.fixture
def target_file(tmp_path):
    frame = synthetic_reviews(80, seed=31)
    frame["text"] = [text + " and the film was a film" for text in frame["text"]]  # a slightly other domain
    frame[["text"]].to_parquet(tmp_path / "target.parquet")
    return tmp_path / "target.parquet"


@pytest.mark.slow  # trains the tiny model end to end
def test_a_dann_run_logs_domain_accuracy_and_saves_a_plain_classifier(tiny_model_dir, tiny_data_dir, target_file,
                                                                      tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", epochs=2, eval_every=8)
    recipe.domain = DomainConfig(method="dann", target_source=str(target_file), target_split="train")
    metrics = nlptl.train(recipe)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert all(0 <= record["domain_accuracy"] <= 1 for record in history)
    assert history[0]["dann_lambda"] < history[-1]["dann_lambda"] <= 1
    weights = load_file(tmp_path / "run" / "model.safetensors")
    assert not any(name.startswith("domain_classifier") for name in weights)
    assert metrics["test"]["num_examples"] == 75
    assert nlptl.Predictor(tmp_path / "run").predict(["a great film"])[0]["label"] in ("neg", "pos")
    shutil.rmtree(tmp_path / "run" / "checkpoints")


@pytest.mark.parametrize(("domain", "strategy", "message"), [
    ({"method": "dann"}, "full", "needs domain.target_split"),
    ({"method": "dann", "target_split": "unsup"}, "full", "domain.target_split 'unsup': .* has no such split"),
    ({"method": "mmd", "target_split": "train"}, "full", "domain.method 'mmd': choose one of dann"),
    ({"method": "dann", "target_split": "train"}, "distill", "does not combine with strategy distill"),
])
def test_recipe_mistakes_are_one_line(tiny_model_dir, tiny_data_dir, tmp_path, domain, strategy, message):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", epochs=1)
    recipe.domain, recipe.strategy.name = DomainConfig(**domain), strategy
    with pytest.raises(NlptlError, match=message):
        nlptl.train(recipe)
    assert not (tmp_path / "run").exists()
