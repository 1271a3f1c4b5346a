"""Multi-label classification: label formats, training, saved thresholds, prediction and `nlptl evaluate`."""

import json

import datasets
import pytest
from conftest import tiny_recipe
from kinds_data import multi_label_rows, write_splits

import nlptl
from nlptl import NlptlError
from nlptl.data.targets import multi_hot
from nlptl.evaluation.run import evaluate
from nlptl.tasks import checkpoint_task
from nlptl.tasks.multi_label import multi_label_metrics, tuned_thresholds

pytestmark = pytest.mark.slow  # trains tiny models end to end; the unit run keeps to its 5-minute budget


def recipe_for(model_dir, data_dir, out, **train):
    recipe = tiny_recipe(model_dir, data_dir, out, **{"epochs": 8, **train})
    recipe.task = "multi_label_classification"
    recipe.data.label_column, recipe.data.label_names = "labels", None
    return recipe


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    data = write_splits(tmp_path_factory.mktemp("ml-data"), multi_label_rows)
    out = tmp_path_factory.mktemp("ml-run") / "run"
    metrics = nlptl.train(recipe_for(tiny_model_dir, data, out, tune_thresholds=True))
    return data, out, metrics


def test_lists_delimited_text_and_binary_columns_give_the_same_vectors():
    names = ["neg", "pos"]
    lists = datasets.Dataset.from_dict({"y": [["pos"], [], ["neg", "pos"]]})
    text = datasets.Dataset.from_dict({"y": ["pos", "", "neg| pos"]})
    columns = datasets.Dataset.from_dict({"neg": [0, 0, 1], "pos": [1, 0, 1]})
    expected = [[0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]
    assert multi_hot(lists, "train", "y", None, ",", None) == (expected, names)
    assert multi_hot(text, "train", "y", None, "|", names) == (expected, names)
    assert multi_hot(columns, "train", "y", ["neg", "pos"], ",", None) == (expected, names)


@pytest.mark.parametrize("values, columns, message", [
    ({"y": [0, 1]}, None, "split 'train', row 1: label 0 in column 'y' is not a list of label names; "
                          "multi_label_classification expects a list of names"),
    ({"y": [["pos"], ["maybe"]]}, None, "split 'train', row 2: label 'maybe' is not one of ['neg', 'pos']"),
    ({"neg": [0, 2], "pos": [1, 0]}, ["neg", "pos"], "split 'train', row 2: column 'neg' holds 2"),
])
def test_a_wrong_label_shape_names_the_row_and_what_was_expected(values, columns, message):
    with pytest.raises(NlptlError) as err:
        multi_hot(datasets.Dataset.from_dict(values), "train", "y", columns, ",", None if columns else ["neg", "pos"])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_metrics_and_thresholds():
    probabilities = [[0.9, 0.2], [0.6, 0.7], [0.1, 0.4]]
    references = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    at_half = multi_label_metrics(probabilities, references, [0.5, 0.5], ["a", "b"])
    assert at_half["subset_accuracy"] == pytest.approx(2 / 3) and at_half["hamming_loss"] == pytest.approx(1 / 6)
    assert at_half["f1_micro"] == pytest.approx(2 * 3 / (2 * 3 + 0 + 1))  # tp 3, fp 0, fn 1
    assert at_half["per_class"]["b"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert tuned_thresholds(probabilities, references, 2)[1] <= 0.4  # label b's 0.4 positive needs a lower one


def test_trains_saves_thresholds_and_predicts_labels_with_scores(trained):
    data, out, metrics = trained
    test = metrics["test"]
    assert {"f1_micro", "f1_macro", "subset_accuracy", "hamming_loss", "per_class", "thresholds"} <= set(test)
    # each label is one kind of sentiment word; the 2-layer, 32-wide BERT learns one of the two within these
    # steps (which one depends on the seed), MiniLM both (bench/task_kinds.py)
    assert test["f1_micro"] > 0.7 and max(scores["f1"] for scores in test["per_class"].values()) > 0.9
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["nlptl_thresholds"] == test["thresholds"] == metrics["validation"]["thresholds"]
    assert checkpoint_task(nlptl.Predictor(out).model.config) == "multi_label_classification"
    predictor = nlptl.Predictor(out)
    texts = ["good film and awful plot", "the movie", "superb", "dull"]
    rows, every = predictor.predict(texts), predictor.predict(texts, all_scores=True)
    for row, scores in zip(rows, every, strict=True):
        assert set(scores["scores"]) == {"neg", "pos"} and set(row["scores"]) == set(row["labels"])
        chosen = [label for label, t in zip(predictor.labels, predictor.thresholds, strict=True)
                  if scores["scores"][label] >= t]
        assert row["labels"] == chosen and row["scores"] == {label: scores["scores"][label] for label in chosen}


def test_evaluate_scores_the_saved_model_as_training_did(trained, tmp_path):
    data, out, metrics = trained
    again = evaluate(out, str(data), split="test", output_dir=tmp_path / "eval", progress=False)["test"]
    for key in ("f1_micro", "f1_macro", "subset_accuracy", "hamming_loss"):
        assert again[key] == pytest.approx(metrics["test"][key], abs=1e-6), key
    assert (tmp_path / "eval" / "per_class.md").exists()


def test_predict_file_writes_labels_and_scores_columns(trained, tmp_path):
    from nlptl.inference.files import predict_file

    data, out, _ = trained
    predict_file(out, str(data / "test.parquet"), tmp_path / "out.jsonl", all_scores=True, progress=False,
                 prefix="pred_")  # the file's own `labels` column stays
    row = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert isinstance(json.loads(row["pred_labels"]), list) and isinstance(json.loads(row["pred_scores"]), dict)
    assert {"pred_score_neg", "pred_score_pos", "labels"} <= set(row)


def test_balanced_class_weights_are_positive_weights(tiny_model_dir, tmp_path):
    data = write_splits(tmp_path / "data", multi_label_rows)
    metrics = nlptl.train(recipe_for(tiny_model_dir, data, tmp_path / "run", epochs=1, class_weights="balanced"))
    weights = metrics["train"]["class_weights"]
    train = datasets.load_dataset("parquet", data_files=str(data / "train.parquet"))["train"]
    positives = sum("pos" in row for row in train["labels"])
    assert weights["pos"] == pytest.approx((len(train) - positives) / positives, rel=1e-3)
