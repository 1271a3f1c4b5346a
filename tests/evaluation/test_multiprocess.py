"""Two processes under `accelerate launch` score their shares of the rows (75: uneven) and count each once: the
metrics equal a single-process evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from predict_helpers import trained_tiny_run

from nlptl.evaluation.run import evaluate

pytestmark = pytest.mark.slow  # two processes under accelerate launch


def test_two_processes_score_every_example_once(tmp_path_factory, tiny_model_dir, tiny_data_dir, tmp_path):
    run_dir = trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process (OMP_NUM_THREADS=1): kernels split sums by thread count
    try:
        single = evaluate(run_dir, str(tiny_data_dir), output_dir=tmp_path / "single", progress=False)["test"]
    finally:
        torch.set_num_threads(threads)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "nlptl.cli",
               "evaluate", str(run_dir), str(tiny_data_dir), "--output-dir", str(tmp_path / "multi"),
               "--batch-size", "8", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads((tmp_path / "multi" / "metrics.json").read_text())
    multi = written["test"]
    assert written["evaluation"]["processes"] == 2 and multi["num_examples"] == 75
    assert multi["confusion_matrix"] == single["confusion_matrix"]
    assert multi["roc_auc"] == single["roc_auc"] and abs(multi["ece"] - single["ece"]) < 1e-5
