"""The real pretrained MiniLM on slices of the shared SST-2 data."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO
from safetensors.torch import load_file

import nlptl

pytestmark = pytest.mark.integration


def sst2_recipe(minilm_dir, shared_data, output_dir, train_samples, eval_samples, **train):
    settings = {"epochs": 1, "batch_size": 32, "eval_batch_size": 128, "lr": 1e-4, "log_with": []}
    settings.update(train)
    return nlptl.Recipe(
        name="sst2", output_dir=str(output_dir),
        model=nlptl.ModelConfig(name=minilm_dir),
        data=nlptl.DataConfig(source=str(shared_data / "sst2"), text_column="sentence", max_length=64,
                              max_train_samples=train_samples, max_eval_samples=eval_samples),
        train=nlptl.TrainConfig(**settings),
    )


def test_short_run_learns_sentiment(minilm_dir, shared_data, tmp_path):
    metrics = nlptl.train(sst2_recipe(minilm_dir, shared_data, tmp_path / "run", 1500, 400))
    assert metrics["test"]["num_examples"] == 400
    assert metrics["test"]["accuracy"] > 0.75  # chance is ~0.5


def test_resume_gives_the_same_weights(minilm_dir, shared_data, tmp_path):
    common = {"max_steps": 6, "eval_every": 3, "batch_size": 8, "keep_checkpoints": 5}
    nlptl.train(sst2_recipe(minilm_dir, shared_data, tmp_path / "full", 64, 16, **common))
    resumed = sst2_recipe(minilm_dir, shared_data, tmp_path / "resumed", 64, 16, **common)
    resumed.resume = str(tmp_path / "full" / "checkpoints" / "step-0000003")
    nlptl.train(resumed)
    full = load_file(str(tmp_path / "full" / "checkpoints" / "step-0000006" / "model.safetensors"))
    again = load_file(str(tmp_path / "resumed" / "checkpoints" / "step-0000006" / "model.safetensors"))
    assert all((full[k] == again[k]).all() for k in full)


def test_two_process_ddp_counts_every_test_example_once(minilm_dir, shared_data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    # accelerate's own --cpu flag starts a single process (accelerate issue #2741); --multi_gpu starts
    # torchrun, and nlptl runs those processes as DDP over gloo when there is no GPU.
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               str(REPO / "recipes" / "sst2_sentiment.py"), "--model", minilm_dir,
               "--data", str(shared_data / "sst2"), "--output-dir", str(out), "--max-train-samples", "64",
               "--max-eval-samples", "101", "--train.max_steps", "2", "--train.batch_size", "8",
               "--train.log_with", "", "--train.mixed_precision", "no"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["num_examples"] == 101 and metrics["validation"]["num_examples"] == 101
    assert sum(map(sum, metrics["test"]["confusion_matrix"])) == 101
    assert metrics["train"]["samples_seen"] == 2 * 2 * 8  # two processes, two steps, batch 8 each
