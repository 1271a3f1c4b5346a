"""Instance-based transfer by importance weighting (Shimodaira 2000; Sugiyama et al. 2007; Bickel et al. 2009):
weight each labelled source example by how target-like it is, so the loss on the source estimates the loss on
the target domain.

The density ratio p_target(x) / p_source(x) comes from a probabilistic source-vs-target classifier (logistic
regression on the frozen pretrained encoder's mean-pooled features): ratio = P(target | x) / P(source | x) x
n_source / n_target. Ratios are clipped to [1 / max_weight, max_weight] and normalised to mean 1, and the run
trains on the weighted source rows through `data.weight_column` (the loss's per-example weights).

    OUTPUT/importance/data/        train (with an `importance_weight` column), validation, test as files
    OUTPUT/importance/report.json  the domain classifier's held-out accuracy, weight quantiles, effective size
    OUTPUT/                        the weighted run (a plain run folder; metrics.json gains `importance_weighting`)

A domain classifier near 50% held-out accuracy means the domains are hard to tell apart and the weights stay
close to 1 (little to correct); near 100%, the weights concentrate on few source rows (effective sample size
falls).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from transformers import AutoModel

from nlptl.data.batching import SortedBatches
from nlptl.data.collate import PadCollator
from nlptl.data.materialize import recipe_on_files, write_labelled_splits
from nlptl.data.pipeline import labelled_splits
from nlptl.data.truncation import encode_single
from nlptl.domain.targets import target_texts
from nlptl.errors import NlptlError
from nlptl.io import write_json
from nlptl.models import load_model, load_tokenizer
from nlptl.recipe import DomainConfig, Recipe
from nlptl.tasks import get_task
from nlptl.training.distributed import partial_state

logger = logging.getLogger("nlptl")
FOLDER = "importance"
WEIGHT_COLUMN = "importance_weight"


def encoder_features(recipe: Recipe, texts: list[str], batch_size: int) -> np.ndarray:
    """Mean-pooled last hidden states of the pretrained encoder (frozen), texts cut as the recipe cuts them."""
    tokenizer = load_tokenizer(recipe.model, recipe.mirrors)
    model = load_model(AutoModel, recipe.model, recipe.mirrors).eval()
    data = recipe.data
    encoded = encode_single(tokenizer, texts, data.max_length, data.truncation, data.head_tokens)
    collate = PadCollator(tokenizer)
    features = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for rows in SortedBatches([len(ids) for ids in encoded["input_ids"]], batch_size):
            batch = collate([{key: values[i] for key, values in encoded.items()} for i in rows])
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            features[rows] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return features


def density_ratios(source: np.ndarray, target: np.ndarray, max_weight: float, seed: int) -> tuple[np.ndarray, dict]:
    """Importance weights of the source rows (mean 1) and the report of the source-vs-target classifier."""
    features = np.concatenate([source, target])
    domains = np.concatenate([np.zeros(len(source)), np.ones(len(target))])
    classifier = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    held_out = cross_val_predict(classifier, features, domains, cv=5, method="predict_proba")[:, 1]
    accuracy = float(((held_out > 0.5) == domains).mean())
    p_target = np.clip(held_out[: len(source)], 1e-6, 1 - 1e-6)  # out-of-fold: no row scores itself
    ratios = p_target / (1 - p_target) * len(source) / len(target)
    weights = np.clip(ratios, 1 / max_weight, max_weight)
    weights = weights / weights.mean()
    report = {"domain_classifier_accuracy": round(accuracy, 4), "source_rows": len(source),
              "target_rows": len(target), "max_weight": max_weight,
              "clipped": int(((ratios < 1 / max_weight) | (ratios > max_weight)).sum()),
              "weight_quantiles": {q: round(float(np.quantile(weights, q / 100)), 4) for q in (1, 10, 50, 90, 99)},
              "effective_sample_size": round(float(weights.sum() ** 2 / (weights ** 2).sum()), 1)}
    return weights, report


def importance_weighting(recipe: Recipe, on_evaluate=None) -> dict:
    """Weigh the source rows, then train the recipe on them (see the module doc)."""
    from nlptl.run import check_output_dir, train

    if recipe.task != "sequence_classification" or recipe.data.text_pair_column:
        raise NlptlError("domain.method importance_weighting applies to sequence classification of single texts")
    if recipe.data.weight_column:
        raise NlptlError("domain.method importance_weighting sets the example weights itself; remove "
                         "data.weight_column")
    if recipe.domain.max_weight <= 1:
        raise NlptlError(f"domain.max_weight {recipe.domain.max_weight}: above 1 (e.g. 10)")
    output_dir = recipe.resolved_output_dir()
    check_output_dir(output_dir, recipe)
    state, folder = partial_state(), output_dir / FOLDER
    task = get_task(recipe.task)
    with state.main_process_first():
        splits = labelled_splits(recipe, task)
    label_names = list(task.label_names)
    if not (folder / "report.json").is_file():
        texts = target_texts(recipe)
        if state.is_main_process:
            started = time.perf_counter()
            source_texts = list(splits["train"][recipe.data.text_column])
            batch_size = recipe.train.eval_batch_size
            features = encoder_features(recipe, source_texts + texts, batch_size)  # one model load, one sort
            weights, report = density_ratios(features[:len(source_texts)], features[len(source_texts):],
                                             recipe.domain.max_weight, recipe.seed)
            report["seconds"] = round(time.perf_counter() - started, 2)  # embedding + classifier: the method's cost
            write_labelled_splits(folder / "data", splits, recipe.data.text_column, label_names,
                                  train_columns={WEIGHT_COLUMN: weights.tolist()})
            write_json(folder / "report.json", report)
            logger.info("importance weighting: %s", report)
        state.wait_for_everyone()
    report = json.loads((folder / "report.json").read_text())
    weighted = recipe_on_files(recipe, folder / "data", label_names, output_dir, weight_column=WEIGHT_COLUMN)
    metrics = train(dataclasses.replace(weighted, domain=DomainConfig()), on_evaluate)
    metrics["importance_weighting"] = report
    if state.is_main_process:
        write_json(output_dir / "metrics.json", metrics)
    return metrics
