"""Time to the first training step: a first run (empty datasets cache) vs a second identical run.

Runs the IMDb recipe twice as separate processes with the same fresh cache directory, one optimizer step each,
and reports the `time_to_first_step_s` each run wrote (seconds from the start of `nlptl.train`).

    python bench/first_step.py [--max-eval-samples 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA, minilm_path

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "imdb_sentiment.py"


def one_run(cache: str, out: str, max_eval: int) -> tuple[float, float]:
    command = [sys.executable, str(RECIPE), "--model", minilm_path(), "--data", str(SHARED_DATA / "imdb"),
               "--output-dir", out, "--data.cache_dir", cache, "--train.max_steps", "1",
               "--max-eval-samples", str(max_eval), "--train.log_with", ""]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    return json.loads((Path(out) / "metrics.json").read_text())["train"]["time_to_first_step_s"], wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-eval-samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first = one_run(f"{tmp}/cache", f"{tmp}/run1", args.max_eval_samples)
        second = one_run(f"{tmp}/cache", f"{tmp}/run2", args.max_eval_samples)
    print(f"first run : time to first step {first[0]:.1f} s (process wall {first[1]:.1f} s)")
    print(f"second run: time to first step {second[0]:.1f} s (process wall {second[1]:.1f} s)")
    print(f"ratio second/first: {second[0] / first[0]:.2f}")


if __name__ == "__main__":
    main()
