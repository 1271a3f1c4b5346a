"""Two processes under `accelerate launch` each take every other chunk; the main process writes one output in
input order, identical to a single-process run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import synthetic_reviews
from predict_helpers import trained_tiny_run

from nlptl.inference.files import predict_file

pytestmark = pytest.mark.slow  # two processes under accelerate launch


def test_two_processes_write_the_same_output_as_one(tmp_path_factory, tiny_model_dir, tiny_data_dir, tmp_path):
    run_dir = trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)
    src = tmp_path / "reviews.csv"
    synthetic_reviews(50, seed=11).rename(columns={"label": "gold"}).to_csv(src, index=False)
    single = tmp_path / "single.csv"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process (OMP_NUM_THREADS=1): kernels split sums by thread count
    try:
        predict_file(run_dir, str(src), single, chunk_size=7, precision="fp32", progress=False)
    finally:
        torch.set_num_threads(threads)
    multi = tmp_path / "multi.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "nlptl.cli",
               "predict", str(run_dir), str(src), "--output", str(multi), "--chunk-size", "7", "--precision", "fp32"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert multi.read_bytes() == single.read_bytes()
    assert not any(p.name.endswith(".nlptl-predict") for p in tmp_path.iterdir())
