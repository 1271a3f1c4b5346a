"""Class weights (`train.class_weights`) and example weights (`data.weight_column`): values, exactness under
gradient accumulation, token classification, the records in metrics.json and the model card, and the errors."""

import json
import random
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import tiny_recipe
from safetensors.torch import load_file

import nlptl
from nlptl import NlptlError
from nlptl.data.weights import resolve_class_weights, weighted_sum
from nlptl.hub.card import build_card
from nlptl.overrides import apply_overrides
from nlptl.recipe import recipe_to_yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bad_inputs"))
from bad_input import expect_clean_failure  # noqa: E402
from test_token_classification import NAMES, ner_recipe, write_ner_splits  # noqa: E402

pytestmark = pytest.mark.slow  # trains tiny models end to end; the unit run keeps to its 5-minute budget


def weighted_data(source: Path, folder: Path, weight=lambda rng, row: rng.uniform(0, 3)) -> Path:
    """The tiny sentiment splits with a `w` column; train made 3:1 negative so balanced weights differ from 1."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for split in ("train", "validation", "test"):
        frame = pd.read_parquet(source / f"{split}.parquet")
        if split == "train":
            frame = pd.concat([frame[frame.label == 0], frame[frame.label == 1].iloc[:40]]).reset_index(drop=True)
        frame["w"] = [weight(rng, row) for row in frame.itertuples()]
        frame.to_parquet(folder / f"{split}.parquet")
    return folder


def final_weights(path: Path) -> dict:
    return load_file(str(path / "model.safetensors"))


def test_balanced_is_inverse_frequency_and_a_mapping_names_labels():
    assert resolve_class_weights("balanced", ["a", "b"], [75, 25]) == [100 / 150, 100 / 50]
    assert resolve_class_weights({"b": 3.0}, ["a", "b"], [75, 25]) == [1.0, 3.0]
    assert resolve_class_weights("none", ["a", "b"], [75, 25]) is None
    with pytest.raises(NlptlError, match="names 'c', which is not a label of this data"):
        resolve_class_weights({"c": 2.0}, ["a", "b"], [1, 1])


def test_weighted_sum_scales_each_example_and_its_targets():
    losses = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # two rows, two targets (tokens) each
    assert weighted_sum(losses, torch.tensor([0.5, 2.0])).item() == 0.5 * 3 + 2 * 7
    assert weighted_sum(losses, None).item() == 10


def test_class_weights_from_the_command_line():
    recipe = apply_overrides(nlptl.Recipe(), ["--train.class_weights", "pos=3,neg=1"])
    assert recipe.train.class_weights == {"pos": 3.0, "neg": 1.0}
    assert apply_overrides(nlptl.Recipe(), ["--train.class_weights", "Balanced"]).train.class_weights == "balanced"
    with pytest.raises(NlptlError, match="train.class_weights: weight '-1' of label 'pos' is not a number >= 0"):
        apply_overrides(nlptl.Recipe(), ["--train.class_weights", "pos=-1"])


def test_weights_are_exact_under_gradient_accumulation(tiny_model_dir, tiny_data_dir, tmp_path):
    """Class and example weights scale summed losses; the target count over the whole window normalises them,
    so accumulating 2 micro-batches of 8 gives the weights of one batch of 16."""
    data = weighted_data(tiny_data_dir, tmp_path / "data")
    common = {"max_steps": 3, "group_by_length": False, "class_weights": "balanced"}
    runs = {"big": {"batch_size": 16}, "small": {"batch_size": 8, "grad_accum": 2}}
    for name, settings in runs.items():
        recipe = tiny_recipe(tiny_model_dir, data, tmp_path / name, **common, **settings)
        recipe.model.dropout, recipe.data.weight_column = 0.0, "w"
        nlptl.train(recipe)
    big, small = final_weights(tmp_path / "big"), final_weights(tmp_path / "small")
    assert all(torch.allclose(big[key], small[key], atol=1e-5, rtol=0) for key in big)
    plain = tiny_recipe(tiny_model_dir, data, tmp_path / "plain", **common, batch_size=16)
    plain.model.dropout = 0.0
    nlptl.train(plain)
    assert not all(torch.allclose(big[k], v, atol=1e-5) for k, v in final_weights(tmp_path / "plain").items())


def test_uniform_example_weights_change_nothing_and_both_weights_are_recorded(tiny_model_dir, tiny_data_dir,
                                                                             tmp_path):
    """Example weights are rescaled to mean 1: all 2.5 trains exactly as no weights."""
    data = weighted_data(tiny_data_dir, tmp_path / "data", weight=lambda rng, row: 2.5)
    for name, column in (("weighted", "w"), ("plain", None)):
        recipe = tiny_recipe(tiny_model_dir, data, tmp_path / name, max_steps=3, class_weights="balanced")
        recipe.data.weight_column = column
        metrics = nlptl.train(recipe)
    weighted, plain = final_weights(tmp_path / "weighted"), final_weights(tmp_path / "plain")
    assert all(torch.allclose(weighted[k], plain[k], atol=1e-6) for k in weighted)
    train = json.loads((tmp_path / "weighted" / "metrics.json").read_text())["train"]
    labels = pd.read_parquet(data / "train.parquet").label
    expected = {name: round(len(labels) / (2 * (labels == i).sum()), 4) for i, name in enumerate(["neg", "pos"])}
    assert train["class_weights"] == expected and expected["pos"] > 1 > expected["neg"]
    assert train["example_weights"] == {"column": "w", "raw_mean": 2.5, "min": 1.0, "max": 1.0, "zero": 0}
    assert "example_weights" not in metrics["train"]  # the plain run
    card = build_card(tmp_path / "weighted", "me/model").text
    assert f"| class weights | balanced: neg {expected['neg']:g}, pos {expected['pos']:g} |" in card
    assert "| example weights | column `w`, rescaled to mean 1, min 1, max 1 after rescaling |" in card


def test_token_classification_accepts_class_weights(tiny_model_dir, tmp_path):
    (tmp_path / "ner").mkdir()
    data = write_ner_splits(tmp_path / "ner", {"train": 64, "validation": 16, "test": 16})
    recipe = ner_recipe(tiny_model_dir, data, tmp_path / "run", label_names=NAMES, epochs=1, class_weights="balanced")
    recipe.data.weight_column = None
    weights = nlptl.train(recipe)["train"]["class_weights"]
    assert set(weights) == set(NAMES) and weights["O"] < min(w for tag, w in weights.items() if tag != "O")


@pytest.fixture
def data_with_weights(tiny_data_dir, tmp_path) -> Path:
    return weighted_data(tiny_data_dir, tmp_path / "data")


def recipe_file(tmp_path: Path, recipe: nlptl.Recipe) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe_to_yaml(recipe))
    return path


@pytest.mark.parametrize("change, names", [
    (lambda r, d: setattr(r.data, "weight_column", "importance"),
     ["train.parquet", "weight column 'importance'", "not in the train split"]),
    (lambda r, d: (setattr(r.data, "weight_column", "w"), write_negative_weight(d)),
     ["train.parquet: row 3", "weight -1.0 in column 'w' is not a number >= 0"]),
    (lambda r, d: setattr(r.train, "class_weights", {"positive": 2.0}),
     ["train.class_weights names 'positive'", "neg, pos"]),
    (lambda r, d: (setattr(r, "task", "regression"), setattr(r.data, "label_column", "text")),
     ["row 1: target", "in column 'text' is not a number"]),
    (lambda r, d: (setattr(r, "task", "multi_label_classification"), setattr(r.data, "label_names", None)),
     ["row 1: label 0 in column 'label' is not a list of label names"]),
    (lambda r, d: (setattr(r, "task", "regression"), setattr(r.train, "class_weights", "balanced")),
     ["train.class_weights applies to classification"]),
    (lambda r, d: (setattr(r, "task", "masked_lm"), setattr(r.data, "weight_column", "w")),
     ["data.weight_column does not apply to task masked_lm"]),
])
def test_user_errors_are_one_line_with_exit_code_2(change, names, tiny_model_dir, data_with_weights, tmp_path,
                                                   capsys):
    recipe = tiny_recipe(tiny_model_dir, data_with_weights, tmp_path / "out", max_steps=2)
    change(recipe, data_with_weights)
    path = recipe_file(tmp_path, recipe)
    expect_clean_failure(["train", str(path)], capsys, watch=tmp_path / "out", names=names)


def write_negative_weight(folder: Path) -> None:
    frame = pd.read_parquet(folder / "train.parquet")
    frame.loc[2, "w"] = -1.0
    frame.to_parquet(folder / "train.parquet")
