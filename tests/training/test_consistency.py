"""UDA (consistency training): the KL term, its confidence mask and sharpening, training signal annealing, one
forward pass for labelled and augmented rows, a tiny run resumed to the same weights, and recipe mistakes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import final_weights_whole_and_resumed, synthetic_reviews, tiny_recipe

import nlptl
from nlptl import DomainConfig, NlptlError, SemiConfig
from nlptl.tasks import get_task
from nlptl.training.side_rows import SideRows
from nlptl.training.strategies import FullFineTuning
from nlptl.training.strategies.consistency import (
    ConsistencyTraining,
    consistency_terms,
    stack_inputs,
    tsa_threshold,
)


def test_the_kl_term_is_zero_for_the_same_prediction_and_grows_with_the_gap():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.2]])
    kl, mask = consistency_terms(logits, logits.clone(), temperature=1.0, confidence=0.0)
    assert torch.allclose(kl, torch.zeros(2), atol=1e-6) and mask.all()
    near, _ = consistency_terms(logits, logits + torch.tensor([[0.0, 0.5]]), 1.0, 0.0)
    far, _ = consistency_terms(logits, logits + torch.tensor([[0.0, 2.0]]), 1.0, 0.0)
    assert (far > near).all() and (near > 0).all()


def test_sharpening_and_the_confidence_mask_follow_the_paper():
    original = torch.tensor([[2.0, 0.0], [0.1, 0.0]])  # confident (p 0.88) and unsure (p 0.52)
    augmented = torch.zeros(2, 2, requires_grad=True)
    kl, mask = consistency_terms(original, augmented, temperature=0.5, confidence=0.8)
    assert mask.tolist() == [True, False] and kl[1] == 0
    target = (original[0] / 0.5).softmax(-1)  # sharpened: p = 0.98
    expected = (target * (target.log() - torch.tensor([0.5, 0.5]).log())).sum()
    assert kl[0].item() == pytest.approx(expected.item(), rel=1e-5)
    kl.sum().backward()
    assert augmented.grad is not None and augmented.grad[1].abs().sum() == 0


def test_no_gradient_reaches_the_prediction_on_the_original():
    original = torch.tensor([[1.0, 0.0]], requires_grad=True)
    kl, _ = consistency_terms(original, torch.zeros(1, 2, requires_grad=True), 1.0, 0.0)
    assert not kl.requires_grad or torch.autograd.grad(kl.sum(), original, allow_unused=True)[0] is None


@pytest.mark.parametrize("schedule", ["linear", "exp", "log"])
def test_tsa_threshold_rises_from_chance_to_one(schedule):
    values = [tsa_threshold(schedule, p / 10, 2) for p in range(11)]
    assert values == sorted(values) and values[-1] == pytest.approx(1.0, abs=0.01)
    assert values[0] == pytest.approx(0.5, abs=0.01)
    assert tsa_threshold("linear", 0.5, 4) == pytest.approx(0.5 * 0.75 + 0.25)


def test_labelled_and_augmented_rows_share_one_padded_batch_without_changing_the_labelled_logits(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    first = {"input_ids": torch.tensor([[2, 5, 3]]), "attention_mask": torch.ones(1, 3, dtype=torch.long),
             "token_type_ids": torch.zeros(1, 3, dtype=torch.long)}
    second = {"input_ids": torch.tensor([[2, 6, 7, 8, 3], [2, 9, 3, 0, 0]]),
              "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
              "token_type_ids": torch.zeros(2, 5, dtype=torch.long)}
    both = stack_inputs(first, second, pad_id=0)
    assert both["input_ids"].tolist() == [[2, 5, 3, 0, 0], [2, 6, 7, 8, 3], [2, 9, 3, 0, 0]]
    assert both["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert both["token_type_ids"].shape == (3, 5)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).eval()
    with torch.no_grad():
        assert torch.allclose(model(**both).logits[:1], model(**first).logits, atol=1e-5)
        assert torch.allclose(model(**both).logits[1:], model(**second).logits, atol=1e-5)
    with pytest.raises(ValueError, match="different inputs"):
        stack_inputs(first, {k: v for k, v in second.items() if k != "token_type_ids"}, pad_id=0)


class MeanTokenModel(torch.nn.Module):
    """Logits from the mean token id: a stand-in whose outputs the test can recompute."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([0.02, -0.03]))

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        mask = attention_mask.float()
        mean = (input_ids.float() * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True)
        return type("Output", (), {"logits": mean * self.weight})()


@pytest.fixture
def data_with_pool(tiny_data_dir, tmp_path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    synthetic_reviews(120, seed=41)[["text"]].to_parquet(data / "unsup.parquet")  # no labels at all
    return data


def uda_recipe(tiny_model_dir: Path, data: Path, output: Path, **train):
    recipe = tiny_recipe(tiny_model_dir, data, output, **train)
    recipe.data.unlabelled_split = "unsup"
    recipe.semi = SemiConfig(method="uda", uda_ratio=2, uda_confidence=0.0, uda_ops=["swap", "delete"], tsa="linear")
    return recipe


@pytest.mark.parametrize("tsa", [None, "linear"])
def test_the_loss_is_the_labelled_sum_plus_the_weighted_mean_kl(tiny_model_dir, data_with_pool, tmp_path, tsa):
    recipe = uda_recipe(tiny_model_dir, data_with_pool, tmp_path / "run")
    recipe.semi.uda_weight, recipe.semi.uda_temperature, recipe.semi.tsa = 3.0, 0.5, tsa
    strategy = ConsistencyTraining(FullFineTuning(recipe), recipe)
    strategy.on_train_start(10, 10)
    strategy.on_step_start(torch.nn.Module(), 5)
    model, task = MeanTokenModel(), get_task("sequence_classification")
    labelled = strategy.collate(strategy.original[:4])  # any 4 rows of inputs will do as the labelled batch
    labels = torch.tensor([0, 1, 1, 0])
    loss = strategy.loss_sum(model, labelled, labels, task)

    picks = SideRows(len(strategy.original), recipe.seed, 1)
    picks.start_step(5)
    rows = picks.take(8)  # uda_ratio 2 x 4 labelled rows
    with torch.no_grad():
        original = model(**strategy.collate([strategy.original[i] for i in rows])).logits
        augmented = model(**strategy.collate([strategy.augmented[i] for i in rows])).logits
        logits = model(**labelled).logits
    losses = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    if tsa:  # half-way through a linear schedule: rows given more than 0.75 for their class drop out
        losses = losses * (logits.softmax(-1).gather(1, labels[:, None])[:, 0] <= 0.75)
    target = (original / 0.5).softmax(-1)
    kl = (target * (target.log() - augmented.log_softmax(-1))).sum(-1)
    assert loss.item() == pytest.approx((losses.sum() + 3.0 * kl.sum() / 2).item(), rel=1e-4)
    assert strategy.auxiliary_loss_sum() == pytest.approx(3.0 * kl.sum().item() / 2, rel=1e-4)
    assert strategy.auxiliary_loss_sum() == 0.0  # read once
    loss.backward()
    assert model.weight.grad is not None and model.weight.grad.abs().sum() > 0


@pytest.mark.slow  # trains the tiny model end to end
def test_a_uda_run_logs_the_consistency_term_and_saves_a_plain_classifier(tiny_model_dir, data_with_pool, tmp_path):
    metrics = nlptl.train(uda_recipe(tiny_model_dir, data_with_pool, tmp_path / "run", epochs=2, eval_every=8))
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert all(record["uda_consistency"] >= 0 and record["uda_mask_rate"] == 1.0 for record in history)
    assert metrics["train"]["uda"]["unlabelled_texts"] == 120
    assert history[0]["tsa_threshold"] < history[-1]["tsa_threshold"] <= 1
    assert metrics["test"]["num_examples"] == 75
    assert nlptl.Predictor(tmp_path / "run").predict(["a great film"])[0]["label"] in ("neg", "pos")


@pytest.mark.slow  # three tiny trainings
def test_a_resumed_uda_run_ends_with_the_same_weights(tiny_model_dir, data_with_pool, tmp_path):
    def recipe_for(output: Path):
        return uda_recipe(tiny_model_dir, data_with_pool, output, epochs=2, eval_every=3, keep_checkpoints=50)

    whole, resumed = final_weights_whole_and_resumed(recipe_for, tmp_path)
    assert all(torch.equal(whole[name], resumed[name]) for name in whole)


@pytest.mark.parametrize(("change", "message"), [
    ({"unlabelled_split": None}, "semi.method uda needs data.unlabelled_split"),
    ({"uda_ops": ["antonym"]}, r"semi.uda_ops \['antonym'\]: choose from synonym"),
    ({"uda_temperature": 0.0}, r"semi.uda_temperature 0.0: in \(0, 1\]"),
    ({"uda_confidence": 1.0}, r"semi.uda_confidence 1.0: in \[0, 1\)"),
    ({"uda_ratio": 0}, "semi.uda_ratio 0: a whole number"),
    ({"tsa": "cosine"}, "semi.tsa 'cosine': choose one of linear, exp, log"),
    ({"method": "mixmatch"}, "semi.method 'mixmatch': choose one of self_training, uda"),
])
def test_recipe_mistakes_are_one_line(tiny_model_dir, data_with_pool, tmp_path, change, message):
    recipe = uda_recipe(tiny_model_dir, data_with_pool, tmp_path / "run")
    for key, value in change.items():
        setattr(recipe.data if key == "unlabelled_split" else recipe.semi, key, value)
    with pytest.raises(NlptlError, match=message):
        nlptl.train(recipe)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("strategy", "distill", "does not combine with strategy distill"),
    ("domain", DomainConfig(method="dann", target_split="train"), "semi.method uda and domain.method dann"),
    ("domain", DomainConfig(method="importance_weighting", target_split="train"),
     "semi.method uda and domain.method importance_weighting"),
])
def test_uda_refuses_what_it_does_not_combine_with(tiny_model_dir, data_with_pool, tmp_path, field, value, message):
    recipe = uda_recipe(tiny_model_dir, data_with_pool, tmp_path / "run")
    if field == "strategy":
        recipe.strategy.name = value
    else:
        recipe.domain = value
    with pytest.raises(NlptlError, match=message):
        nlptl.train(recipe)
    assert not (tmp_path / "run").exists()


def test_an_empty_unlabelled_file_is_one_line(tiny_model_dir, data_with_pool, tmp_path):
    synthetic_reviews(3, seed=1)[["text"]].iloc[:0].to_parquet(tmp_path / "empty.parquet")
    recipe = uda_recipe(tiny_model_dir, data_with_pool, tmp_path / "run")
    recipe.data.unlabelled_split = str(tmp_path / "empty.parquet")
    with pytest.raises(NlptlError, match="empty.parquet"):  # the reader's line, or the pool's 'has no texts'
        nlptl.train(recipe)


def test_the_model_card_names_the_method_beside_the_strategy(tiny_model_dir, data_with_pool, tmp_path):
    from nlptl.training.strategies import describe_strategy

    recipe = uda_recipe(tiny_model_dir, data_with_pool, tmp_path / "run")
    recipe.strategy.name = "layerwise_lr"
    words = describe_strategy(recipe)
    assert words is not None and "layer" in words and "consistency training (UDA" in words and "unsup" in words
