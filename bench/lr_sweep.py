"""Learning rate grid vs `train.lr auto` (issue 19): fixed rates x seeds, plus the range test's choice.

Each cell is one `python recipes/<recipe>.py` run in `RUNS/<grid>/lr<lr>/seed<seed>/`; a cell with metrics.json is
skipped, so the script is resumable (rerun it after an interruption or to print the table).

    python bench/lr_sweep.py --grid sst2                 # SST-2 2,000 sentences, 1 epoch, fp32, seeds 1-3
    python bench/lr_sweep.py --grid conll --seeds 1      # CoNLL-2003 4,000 sentences, 1 epoch
    python bench/lr_sweep.py --grid sst2 --table-only    # print what is there
    python bench/lr_sweep.py --grid sst2 --lrs auto-steepest,auto-valley   # auto with another suggestion rule
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, fmt, minilm_path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LRS = ["2e-5", "5e-5", "1e-4", "2e-4", "5e-4", "auto"]
GRIDS = {
    "sst2": {"recipe": "recipes/sst2_sentiment.py", "data": "sst2", "samples": 2000, "metric": "accuracy"},
    "conll": {"recipe": "recipes/conll2003_ner.py", "data": "conll2003", "samples": 4000, "metric": "f1"},
}


def cell_dir(runs: Path, grid: str, lr: str, seed: int) -> Path:
    return runs / grid / f"lr{lr}" / f"seed{seed}"


def lr_arguments(lr: str) -> list[str]:
    """A fixed rate, `auto` (the default rule) or `auto-RULE` (auto with train.lr_find_rule RULE)."""
    if lr.startswith("auto-"):
        return ["--train.lr", "auto", "--train.lr_find_rule", lr.removeprefix("auto-")]
    return ["--train.lr", lr]


def run_cell(grid: str, lr: str, seed: int, out: Path, data_root: Path, extra: list[str]) -> None:
    spec = GRIDS[grid]
    command = [sys.executable, str(REPO / spec["recipe"]), "--model", minilm_path(),
               "--data", str(data_root / spec["data"]), "--max-train-samples", str(spec["samples"]),
               "--epochs", "1", "--seed", str(seed), *lr_arguments(lr), "--train.mixed_precision", "no",
               "--train.log_with", "", "--output-dir", str(out), "--overwrite_output_dir", "true", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        print(f"  FAILED ({done.returncode}) {grid} lr={lr} seed={seed}: {done.stderr[-1500:]}", flush=True)
        return
    (out / "bench_wall_s.txt").write_text(f"{wall:.1f}\n")
    print(f"  done {grid} lr={lr} seed={seed} in {wall:.0f} s", flush=True)


def table(runs: Path, grid: str, seeds: list[int], lrs: list[str]) -> None:
    metric = GRIDS[grid]["metric"]
    print(f"\n{grid}: test {metric} (x100) per seed; mean; train s; auto: chosen lr, range-test s")
    best_fixed = None
    for lr in lrs:
        scores, chosen, find_s, train_s, stuck = [], [], [], [], 0
        for seed in seeds:
            path = cell_dir(runs, grid, lr, seed) / "metrics.json"
            if not path.exists():
                scores.append(None)
                continue
            metrics = json.loads(path.read_text())
            scores.append(100 * metrics["test"][metric])
            train_s.append(metrics["train"]["train_runtime_s"])
            stuck += bool(metrics["train"].get("did_not_learn"))
            found = metrics["train"].get("lr_find")
            if found:
                chosen.append(f"{found['suggested_lr']:.2g}")
                find_s.append(found["seconds"])
        have = [s for s in scores if s is not None]
        mean = statistics.mean(have) if have else None
        if not lr.startswith("auto") and mean is not None and len(have) == len(seeds):
            best_fixed = max(best_fixed or (mean, lr), (mean, lr))
        cells = " / ".join(fmt(s) for s in scores)
        extra = f"  chosen {', '.join(chosen)}; range test {fmt(statistics.mean(find_s))} s" if find_s else ""
        print(f"  lr {lr:>5}: {cells:<24} mean {fmt(mean):>6}  train {fmt(statistics.mean(train_s)) if train_s else ''}"
              f" s  did_not_learn {stuck}/{len(have)}{extra}")
    if best_fixed:
        print(f"  best fixed lr: {best_fixed[1]} (mean {best_fixed[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", choices=GRIDS, default="sst2")
    parser.add_argument("--lrs", default=",".join(LRS), help="comma-separated; 'auto' = train.lr auto")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--runs-dir", default=str(REPO / "runs" / "lr_sweep"))
    parser.add_argument("--data-root", default=str(SHARED_DATA))
    parser.add_argument("--table-only", action="store_true")
    args, extra = parser.parse_known_args()
    runs, lrs = Path(args.runs_dir), args.lrs.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    if not args.table_only:
        for seed in seeds:
            for lr in lrs:
                out = cell_dir(runs, args.grid, lr, seed)
                if not (out / "metrics.json").exists():
                    run_cell(args.grid, lr, seed, out, Path(args.data_root), extra)
    table(runs, args.grid, seeds, lrs)


if __name__ == "__main__":
    main()
