"""Importance weighting: density ratios from a source-vs-target classifier, and a tiny weighted run."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import synthetic_reviews, tiny_recipe

import nlptl
from nlptl import DomainConfig, NlptlError
from nlptl.domain.importance import WEIGHT_COLUMN, density_ratios


def test_source_rows_like_the_target_weigh_more_and_weights_average_one():
    rng = np.random.default_rng(0)
    source = rng.normal(0, 1, size=(400, 4))
    target = rng.normal(1.5, 1, size=(400, 4))
    weights, report = density_ratios(source, target, max_weight=10, seed=0)
    assert weights.mean() == pytest.approx(1) and weights.min() >= 0
    near_target = source[:, 0] > 1.5
    assert weights[near_target].mean() > 3 * weights[source[:, 0] < -0.5].mean()
    assert report["domain_classifier_accuracy"] > 0.75 and report["effective_sample_size"] < 400


def test_indistinguishable_domains_keep_weights_near_one():
    rng = np.random.default_rng(1)
    weights, report = density_ratios(rng.normal(size=(400, 4)), rng.normal(size=(400, 4)), max_weight=10, seed=0)
    assert 0.4 <= report["domain_classifier_accuracy"] <= 0.6
    assert report["effective_sample_size"] > 0.9 * 400


@pytest.mark.slow  # trains the tiny model end to end
def test_a_weighted_run_trains_on_the_weighted_rows(tiny_model_dir, tiny_data_dir, tmp_path):
    target = synthetic_reviews(80, seed=41)
    target["text"] = [text + " film film" for text in target["text"]]
    target[["text"]].to_parquet(tmp_path / "target.parquet")
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", epochs=2)
    recipe.domain = DomainConfig(method="importance_weighting", target_source=str(tmp_path / "target.parquet"),
                                 target_split="train")
    metrics = nlptl.train(recipe)
    report = metrics["importance_weighting"]
    assert report["source_rows"] == 256 and report["target_rows"] == 80
    weights = pq.read_table(tmp_path / "run" / "importance" / "data" / "train.parquet").column(WEIGHT_COLUMN)
    assert np.mean(weights.to_numpy()) == pytest.approx(1)
    assert metrics["test"]["num_examples"] == 75 and (tmp_path / "run" / "model.safetensors").is_file()


def test_mistakes_are_one_line(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", epochs=1)
    recipe.domain = DomainConfig(method="importance_weighting")
    with pytest.raises(NlptlError, match="needs domain.target_split"):
        nlptl.train(recipe)
    recipe.domain = DomainConfig(method="importance_weighting", target_split="train", max_weight=1)
    with pytest.raises(NlptlError, match="domain.max_weight 1"):
        nlptl.train(recipe)
