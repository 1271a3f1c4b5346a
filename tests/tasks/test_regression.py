"""Regression: targets read from the data, standardised training, the scale folded into the saved head."""

import json

import datasets
import pytest
import torch
from conftest import tiny_recipe
from kinds_data import regression_rows, write_splits

import nlptl
from nlptl import NlptlError
from nlptl.data.targets import regression_targets
from nlptl.evaluation.run import evaluate
from nlptl.tasks.regression import RegressionTask, regression_metrics

pytestmark = pytest.mark.slow  # trains tiny models end to end; the unit run keeps to its 5-minute budget


def recipe_for(model_dir, data_dir, out, **train):
    recipe = tiny_recipe(model_dir, data_dir, out, **{"epochs": 6, **train})
    recipe.task = "regression"
    recipe.data.label_column, recipe.data.label_names = "score", None
    return recipe


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    data = write_splits(tmp_path_factory.mktemp("rg-data"), regression_rows)
    out = tmp_path_factory.mktemp("rg-run") / "run"
    return data, out, nlptl.train(recipe_for(tiny_model_dir, data, out))


def test_trains_and_the_saved_model_predicts_in_the_data_units(trained, tmp_path):
    data, out, metrics = trained
    test = metrics["test"]
    assert {"mse", "rmse", "mae", "pearson", "spearman"} <= set(test) and test["pearson"] > 0.7
    scale = metrics["train"]["target_scale"]
    assert scale["mean"][0] == pytest.approx(5.0, abs=1.0) and scale["std"][0] > 1
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "regression" and config["nlptl_target_scale"]["folded_into_head"] is True
    good, bad = nlptl.Predictor(out).predict(["good great superb film", "bad awful dull film"])
    assert good["value"] > 6 > 4 > bad["value"]  # stars, not z-scores
    again = evaluate(out, str(data), split="test", output_dir=tmp_path / "eval", progress=False)["test"]
    for key in ("mse", "mae", "pearson", "spearman"):
        assert again[key] == pytest.approx(test[key], rel=1e-4, abs=1e-5), key


def test_several_targets(tiny_model_dir, tmp_path):
    data = write_splits(tmp_path / "data", regression_rows)
    recipe = recipe_for(tiny_model_dir, data, tmp_path / "run", epochs=2)
    recipe.data.label_columns = ["score", "positives"]
    metrics = nlptl.train(recipe)
    assert set(metrics["test"]["per_target"]) == {"score", "positives"}
    (row,) = nlptl.Predictor(tmp_path / "run").predict(["good film"])
    assert set(row["values"]) == {"score", "positives"}


def test_huber_loss_and_unstandardised_targets():
    task = RegressionTask()
    task.loss = "huber"
    logits, labels = torch.tensor([[0.0], [3.0]]), torch.tensor([0.5, 0.0])
    assert task.loss_sum(logits, labels).item() == pytest.approx(0.125 + 2.5)
    assert task.predict(logits).tolist() == [[0.0], [3.0]]  # no scale: the head's output is the value


def test_metrics():
    result = regression_metrics([[1.0], [2.0], [4.0]], [[1.0], [3.0], [5.0]], ["y"])
    assert result["mse"] == pytest.approx(2 / 3) and result["mae"] == pytest.approx(2 / 3)
    assert result["spearman"] == pytest.approx(1.0) and 0.9 < result["pearson"] < 1


@pytest.mark.parametrize("values, message", [
    (["1.5", "great"], "split 'train', row 2: target 'great' in column 'y' is not a number"),
    ([[1.5], [1.0, 2.0]], "row 1: target [1.5] in column 'y' is not a number; regression expects one finite number "
                          "per target column; several targets per row go in several columns (data.label_columns)"),
    ([1.5, None], "split 'train', row 2: target None"),
])
def test_a_target_that_is_no_number_names_the_row(values, message):
    with pytest.raises(NlptlError) as err:
        regression_targets(datasets.Dataset.from_dict({"y": values}), "train", "y", None)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("problem, kind", [
    (None, "sequence_classification"), ("single_label_classification", "sequence_classification"),
    ("multi_label_classification", "multi_label_classification"), ("regression", "regression"),
])
def test_a_checkpoint_kind_comes_from_its_problem_type(problem, kind):
    from transformers import BertConfig

    from nlptl.tasks import checkpoint_task

    config = BertConfig(architectures=["BertForSequenceClassification"], problem_type=problem)
    assert checkpoint_task(config) == kind
    assert checkpoint_task(BertConfig(architectures=["BertForTokenClassification"], problem_type=problem)) == (
        "token_classification")
