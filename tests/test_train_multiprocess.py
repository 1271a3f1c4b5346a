"""Two processes under `accelerate launch` train and evaluate like one: each optimizer step sees the same examples
(2 processes x batch 8 = 1 process x batch 8 x 2 accumulated micro-batches; the loss is normalised over the whole
window on every process), every evaluation example is counted once (75 test rows do not split evenly), and only
the main process writes the run's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import synthetic_reviews, tiny_recipe
from safetensors.torch import load_file

import nlptl
from nlptl.recipe import recipe_to_yaml

pytestmark = pytest.mark.slow  # two processes under accelerate launch


def launch_two(recipe_file: Path) -> None:
    """`nlptl train RECIPE` as two CPU processes under accelerate launch."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "nlptl.cli",
               "train", str(recipe_file)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def one_process(train, *args, **kwargs):
    """`train(...)` with one thread, as each launched process has (OMP_NUM_THREADS=1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def files_of(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}


def one_and_two(recipe: Callable[..., nlptl.Recipe], tmp_path: Path) -> tuple[dict, dict]:
    """The recipe trained as 1 process with 2 accumulated micro-batches (tmp_path/one) and as 2 processes under
    accelerate launch (tmp_path/two): both runs' metrics."""
    one_recipe, two_recipe = recipe(tmp_path / "one", grad_accum=2), recipe(tmp_path / "two")
    for made in (one_recipe, two_recipe):  # one CPU process would update only used embedding rows (lazy Adam)
        made.train.embedding_update = "dense"
    one = one_process(nlptl.train, one_recipe)
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(recipe_to_yaml(two_recipe))
    launch_two(recipe_file)
    return one, json.loads((tmp_path / "two" / "metrics.json").read_text())


def same_weights(tmp_path: Path, weights: str = "model.safetensors") -> bool:
    a, b = (load_file(str(tmp_path / run / weights)) for run in ("one", "two"))
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5, rtol=0) for k in a)


def test_two_processes_train_and_evaluate_like_one(tiny_model_dir, tiny_data_dir, tmp_path):
    def recipe(out: Path, **train):
        made = tiny_recipe(tiny_model_dir, tiny_data_dir, out, epochs=1, batch_size=8, eval_every=8,
                           keep_checkpoints=1, **train)
        made.model.dropout = 0.0  # dropout draws differ per process; everything else is the same computation
        return made

    one, two = one_and_two(recipe, tmp_path)
    two_dir = tmp_path / "two"

    print({split: {k: one[split][k] for k in ("num_examples", "accuracy", "loss")} for split in ("validation", "test")})
    print({split: {k: two[split][k] for k in ("num_examples", "accuracy", "loss")} for split in ("validation", "test")})
    assert one["train"]["steps"] == two["train"]["steps"] == 16
    assert one["train"]["samples_seen"] == two["train"]["samples_seen"] == 256
    for split in ("validation", "test"):
        assert one[split]["num_examples"] == two[split]["num_examples"] == {"validation": 64, "test": 75}[split]
        for name in ("accuracy", "f1", "loss"):
            assert two[split][name] == pytest.approx(one[split][name], abs=1e-5), (split, name)
        assert two[split]["confusion_matrix"] == one[split]["confusion_matrix"]
    assert same_weights(tmp_path)

    # only the main process writes: the same files as one process, plus process 1's own RNG state per checkpoint
    extra = files_of(two_dir) - files_of(tmp_path / "one")
    assert extra == {p for p in extra if p.endswith("/random_states_1.pkl")} and extra
    assert files_of(tmp_path / "one") <= files_of(two_dir)
    steps = [json.loads(line)["step"] for line in (two_dir / "history.jsonl").read_text().splitlines()]
    assert steps == [8, 16]  # one record per evaluation, not one per process


def test_class_and_example_weights_are_exact_across_two_processes(tiny_model_dir, tiny_data_dir, tmp_path):
    """Balanced class weights and a weight column: 2 processes x batch 8 give the weights of 1 process x batch 8
    x 2 accumulated micro-batches (the weighted loss sums are normalised by the target count of the window)."""
    import random

    import pandas as pd

    data = tmp_path / "data"
    data.mkdir()
    rng = random.Random(0)
    for split in ("train", "validation", "test"):
        frame = pd.read_parquet(tiny_data_dir / f"{split}.parquet")
        if split == "train":
            frame = pd.concat([frame[frame.label == 0], frame[frame.label == 1].iloc[:40]]).reset_index(drop=True)
        frame["w"] = [rng.uniform(0, 3) for _ in range(len(frame))]
        frame.to_parquet(data / f"{split}.parquet")

    def recipe(out: Path, **train):
        made = tiny_recipe(tiny_model_dir, data, out, max_steps=4, batch_size=8, group_by_length=False,
                           class_weights="balanced", **train)
        made.model.dropout, made.data.weight_column = 0.0, "w"
        return made

    one, two = one_and_two(recipe, tmp_path)
    assert two["train"]["class_weights"] == one["train"]["class_weights"] and one["train"]["example_weights"]
    assert same_weights(tmp_path)


def test_uda_is_exact_across_two_processes(tiny_model_dir, tiny_data_dir, tmp_path):
    """Consistency training: 2 processes x batch 8 draw the unlabelled texts 1 process x batch 8 x 2 accumulated
    micro-batches draws, and the labelled and consistency terms are normalised alike: the same final weights."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    synthetic_reviews(60, seed=41)[["text"]].to_parquet(data / "unsup.parquet")

    def recipe(out: Path, **train):
        made = tiny_recipe(tiny_model_dir, data, out, max_steps=4, batch_size=8, group_by_length=False, **train)
        made.model.dropout, made.data.unlabelled_split = 0.0, "unsup"
        made.semi = nlptl.SemiConfig(method="uda", uda_ratio=2, uda_confidence=0.0, uda_ops=["swap", "delete"])
        return made

    one_and_two(recipe, tmp_path)
    assert same_weights(tmp_path)


def test_multitask_is_exact_across_two_processes(tiny_model_dir, tiny_data_dir, tmp_path):
    """Multi-task (sentiment + NER on one encoder): 2 processes x batch 8 train the encoder and both heads as
    1 process x batch 8 x 2 accumulated micro-batches (the task of each batch is a function of seed and position,
    so the two processes hold the two micro-batches one process would accumulate), and per-task evaluation counts
    every example once."""
    from test_multitask import multitask_recipe
    from test_token_classification import write_ner_splits

    (tmp_path / "ner").mkdir()
    ner = write_ner_splits(tmp_path / "ner", {"train": 64, "validation": 21, "test": 21})

    def recipe(out: Path, **train):
        made = multitask_recipe(tiny_model_dir, tiny_data_dir, ner, out, epochs=1, max_steps=6, batch_size=8,
                                **train)
        made.model.dropout = 0.0
        return made

    one, two = one_and_two(recipe, tmp_path)
    for split in ("validation", "test"):
        for name in ("sentiment/accuracy", "ner/f1"):
            assert two[split][name] == pytest.approx(one[split][name], abs=1e-5), (split, name)
    for weights in ("model.safetensors", "heads/sentiment/model.safetensors", "heads/ner/model.safetensors"):
        assert same_weights(tmp_path, weights), weights
