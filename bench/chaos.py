"""Chaos test: SIGKILL real runs at random moments, resume them, and check that they end as if never stopped.

    PYTHONPATH=$PWD python3 bench/chaos.py [--trials 10] [--compare-trials 3] [--seed 0] [--parts train,predict,compare]

* train: the real MiniLM on a slice of SST-2 (fp32, a checkpoint every 2 steps). Each trial kills one run at a
  moment of a kind taken in turn: mid-step (after a random number of steps plus a random delay), mid-evaluation
  (a random delay after the evaluation bar appears) or mid-checkpoint-write (a random delay after the checkpoint's
  staging folder appears, before it is renamed into place), then reruns `nlptl train ... --resume` until it
  exits 0 (`--overwrite_output_dir true` when the kill came before the first checkpoint, as the error says).
  Counted: runs whose final model.safetensors is byte-identical to the uninterrupted run's, and kills after which
  every file in the output dir was readable (recipe.yaml, history lines, metrics, each complete checkpoint).
* predict: `nlptl predict` of that model over SST-2 test rows in small chunks, killed after a random number of
  finished chunks (or while it assembles the output); resumed with `--resume`; output bytes compared.
* compare: a 2-cell `nlptl compare` grid killed at a random moment of its run (mid-cell); rerun as is; each cell's
  model bytes and compare.csv's scores compared.

Every process gets OMP_NUM_THREADS=2 (the same kernels, so the same float sums). Timings are not measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from common import SHARED_DATA, minilm_path

REPO = Path(__file__).resolve().parents[1]
PHASES = ("step", "eval", "checkpoint")
EVAL_EVERY = 2  # steps between evaluations (and checkpoints) of the chaos runs
TRAINING_BAR = re.compile(r"training:[^|\r\n]*\|[^|\r\n]*\|\s*(\d+)/\d+")


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def nlptl(*args: str) -> list[str]:
    return [sys.executable, "-m", "nlptl.cli", *args]


def write_recipe(work: Path, train_samples: int) -> Path:
    recipe = {
        "name": "chaos", "model": {"name": minilm_path()},
        "data": {"source": str(SHARED_DATA / "sst2"), "text_column": "sentence", "label_column": "label",
                 "label_names": ["negative", "positive"], "max_length": 32, "max_train_samples": train_samples,
                 "max_eval_samples": 32, "cache_dir": str(work / "cache")},
        "train": {"epochs": 1, "batch_size": 16, "eval_batch_size": 32, "lr": 1e-4, "mixed_precision": "no",
                  "eval_every": EVAL_EVERY, "keep_checkpoints": 2, "log_with": [], "log_every": 1},
    }
    path = work / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@dataclass
class Watch:
    """A process whose stderr is collected as it runs (tqdm bars included)."""

    proc: subprocess.Popen
    text: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, command: list[str]) -> Watch:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment(),
                                cwd=REPO)
        watch = cls(proc)
        threading.Thread(target=watch.read, daemon=True).start()
        return watch

    def read(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):  # type: ignore[union-attr]
            self.text.append(chunk.decode(errors="replace"))

    def stderr(self) -> str:
        return "".join(self.text)

    def steps_done(self) -> int:
        """The training bar's last count (the bar's lines are interleaved with the evaluation bar's escapes)."""
        counts = TRAINING_BAR.findall(self.stderr())
        return int(counts[-1]) if counts else 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def run(command: list[str], timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=environment(), cwd=REPO, timeout=timeout)


def kill_when(watch: Watch, ready, delay: float) -> str | None:
    """Poll until `ready()` names what is happening, wait `delay`, SIGKILL; None if the process ended first."""
    while watch.proc.poll() is None:
        moment = ready()
        if moment:
            time.sleep(delay)
            if watch.proc.poll() is not None:
                return None
            moment = ready() or moment  # what is happening now, after the delay
            watch.kill()
            return moment
        time.sleep(0.005)
    return None


# ---- readability of what a killed run left ---------------------------------------------------------------
def readable_run_dir(out: Path) -> list[str]:
    """Problems a reader would meet in a run's output dir (empty: every file it offers reads back)."""
    from safetensors import safe_open

    from nlptl.recipe import load_recipe_yaml
    from nlptl.training.checkpoints import LOOP_STATE, list_checkpoints

    problems = []

    def check(what: str, read) -> None:
        try:
            read()
        except Exception as err:  # any failure to read is what this counts
            problems.append(f"{what}: {type(err).__name__}: {err}"[:200])

    if (out / "recipe.yaml").exists():
        check("recipe.yaml", lambda: load_recipe_yaml(out / "recipe.yaml"))
    if (out / "history.jsonl").exists():
        check("history.jsonl", lambda: [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()])
    if (out / "metrics.json").exists():
        check("metrics.json", lambda: json.loads((out / "metrics.json").read_text()))
    if (out / "model.safetensors").exists():
        check("model.safetensors", lambda: safe_open(out / "model.safetensors", "pt").keys())
    for checkpoint in list_checkpoints(out):
        check(f"{checkpoint.name}/{LOOP_STATE}", lambda c=checkpoint: json.loads((c / LOOP_STATE).read_text()))
        check(f"{checkpoint.name}/model.safetensors",
              lambda c=checkpoint: safe_open(c / "model.safetensors", "pt").keys())
        for name in ("optimizer.bin", "scheduler.bin", "random_states_0.pkl"):
            check(f"{checkpoint.name}/{name}", lambda c=checkpoint, n=name: torch_load(c / n))
    return problems


def torch_load(path: Path):
    from accelerate.utils import load

    return load(path, map_location="cpu")


# ---- train -------------------------------------------------------------------------------------------------
def train_moment(watch: Watch, out: Path, phase: str, rng: random.Random, total_steps: int):
    """A `ready` function for kill_when, and the delay after it, for the phase wanted."""
    checkpoints = out / "checkpoints"
    evaluations = total_steps // EVAL_EVERY - 1  # the last one ends the run; a kill there tests the final save
    if phase == "checkpoint":  # the write of the k-th checkpoint: from the 2nd on, a previous good one exists
        step = EVAL_EVERY * rng.randint(1, evaluations)

        def ready():
            staging = [p for p in checkpoints.glob(".partial-*") if int(p.name.split("-")[-1]) >= step] \
                if checkpoints.is_dir() else []
            return f"checkpoint write ({staging[0].name})" if staging else None
        return ready, rng.uniform(0.0, 0.25)
    if phase == "eval":  # the k-th evaluation
        nth = rng.randint(1, evaluations)
        mark: list[int] = []  # where stderr stood when step nth * EVAL_EVERY was done

        def ready():
            if not mark and watch.steps_done() >= nth * EVAL_EVERY:
                mark.append(len(watch.stderr()))
            return f"evaluation {nth}" if mark and "evaluating validation" in watch.stderr()[mark[0]:] else None
        return ready, rng.uniform(0.0, 0.4)
    target = rng.randint(1, total_steps - 1)

    def ready_step():
        done = watch.steps_done()
        return f"step {done + 1}" if done >= target else None
    return ready_step, rng.uniform(0.0, 0.3)


def resume_until_done(command: list[str], out: Path, attempts: int = 4) -> tuple[bool, list[str]]:
    """Rerun until it exits 0: --resume when a complete checkpoint exists, else start over (as the error says)."""
    from nlptl.training.checkpoints import list_checkpoints

    notes = []
    for _ in range(attempts):
        extra = ["--resume"] if list_checkpoints(out) else ["--overwrite_output_dir", "true"]
        done = run(command + extra)
        resumed = [line for line in done.stderr.splitlines() if "resumed from" in line]
        notes.append(f"{extra[0]}: exit {done.returncode}" + (f" ({resumed[-1].split('resumed from ')[-1]})"
                                                               if resumed else ""))
        if done.returncode == 0:
            return True, notes
        notes.append(done.stderr.strip().splitlines()[-1][:300] if done.stderr.strip() else "")
    return False, notes


def reference_run(work: Path, train_samples: int) -> Path:
    """The uninterrupted training run (kept in --work and reused by a later call)."""
    reference = work / "train-reference"
    if not (reference / "metrics.json").exists():
        done = run(nlptl("train", str(write_recipe(work, train_samples)), "--output-dir", str(reference)))
        if done.returncode != 0:
            raise SystemExit(f"the uninterrupted run failed:\n{done.stderr[-3000:]}")
    return reference


def chaos_train(work: Path, trials: int, rng: random.Random, train_samples: int) -> dict:
    reference = reference_run(work, train_samples)
    base = nlptl("train", str(write_recipe(work, train_samples)), "--output-dir")
    reference_bytes = (reference / "model.safetensors").read_bytes()
    total_steps = json.loads((reference / "metrics.json").read_text())["train"]["steps"]
    print(f"train: reference run {reference} ({total_steps} steps)", flush=True)
    rows = []
    for trial in range(trials):
        phase = PHASES[trial % len(PHASES)]
        out = work / f"train-trial{trial}"
        shutil.rmtree(out, ignore_errors=True)
        watch = Watch.start(base + [str(out)])
        ready, delay = train_moment(watch, out, phase, rng, total_steps)
        moment = kill_when(watch, ready, delay)
        problems = readable_run_dir(out) if moment else []
        partial_left = [p.name for p in (out / "checkpoints").glob(".partial-*")] if moment else []
        finished, notes = resume_until_done(base + [str(out)], out) if moment else (True, ["not killed"])
        identical = finished and (out / "model.safetensors").read_bytes() == reference_bytes
        rows.append({"trial": trial, "target": phase, "killed at": moment or "(ended first)",
                     "partial checkpoint left": ",".join(partial_left), "readable": not problems,
                     "resumed to the end": finished, "bit-identical": identical, "notes": "; ".join(notes + problems)})
        print(json.dumps(rows[-1]), flush=True)
    return summarize("train", rows)


# ---- predict -----------------------------------------------------------------------------------------------
def chaos_predict(work: Path, trials: int, rng: random.Random, rows_count: int, chunk: int) -> dict:
    import pandas as pd

    model = work / "train-reference"
    source = work / "predict-input.csv"
    pd.read_parquet(SHARED_DATA / "sst2" / "test.parquet").head(rows_count).to_csv(source, index=False)
    common = ["--text-column", "sentence", "--chunk-size", str(chunk), "--batch-size", "16", "--precision", "fp32",
              "--no-progress", "--prefix", "pred_"]
    reference = work / "predict-reference.csv"
    done = run(nlptl("predict", str(model), str(source), "--output", str(reference), "--overwrite", *common))
    if done.returncode != 0:
        raise SystemExit(f"the uninterrupted prediction failed:\n{done.stderr[-3000:]}")
    chunks = -(-rows_count // chunk)
    rows = []
    for trial in range(trials):
        output = work / f"predict-trial{trial}.csv"
        output.unlink(missing_ok=True)
        workdir = output.parent / f".{output.name}.nlptl-predict"
        shutil.rmtree(workdir, ignore_errors=True)
        command = nlptl("predict", str(model), str(source), "--output", str(output), *common)
        target = rng.randint(0, chunks)  # finished chunks before the kill; `chunks`: while assembling

        def ready(target=target, workdir=workdir):
            parts = len(list(workdir.glob("part-*.parquet"))) if workdir.is_dir() else 0
            return f"{parts} of {chunks} chunks done" if parts >= target and workdir.is_dir() else None

        moment = kill_when(Watch.start(command), ready, rng.uniform(0.0, 0.3))
        problems = []
        for part in sorted(workdir.glob("part-*.parquet")) if workdir.is_dir() else []:
            try:
                pd.read_parquet(part)
            except Exception as err:  # counted, not raised
                problems.append(f"{part.name}: {err}"[:200])
        notes = []
        for _ in range(4):
            done = run(command + ["--resume"])
            notes.append(f"--resume: exit {done.returncode}")
            if done.returncode == 0:
                break
        identical = output.exists() and output.read_bytes() == reference.read_bytes()
        rows.append({"trial": trial, "killed at": moment or "(ended first)", "readable": not problems,
                     "resumed to the end": done.returncode == 0, "bit-identical": identical,
                     "notes": "; ".join(notes + problems)})
        print(json.dumps(rows[-1]), flush=True)
    return summarize("predict", rows)


# ---- compare -----------------------------------------------------------------------------------------------
def cell_models(grid: Path) -> dict[str, bytes]:
    return {str(p.relative_to(grid)): p.read_bytes() for p in sorted(grid.glob("*/*/*/model.safetensors"))}


def scores(grid: Path) -> list[tuple]:
    with open(grid / "compare.csv", newline="") as handle:
        return [(r["strategy"], r["budget"], r["seed"], r["score"]) for r in csv.DictReader(handle)]


def chaos_compare(work: Path, trials: int, rng: random.Random, recipe: Path) -> dict:
    options = ["--strategies", "full", "--budgets", "32,64", "--seeds", "1"]
    reference = work / "compare-reference"
    shutil.rmtree(reference, ignore_errors=True)
    started = time.perf_counter()
    done = run(nlptl("compare", str(recipe), *options, "--output-dir", str(reference)))
    if done.returncode != 0:
        raise SystemExit(f"the uninterrupted compare failed:\n{done.stderr[-3000:]}")
    duration = time.perf_counter() - started
    expected_models, expected_scores = cell_models(reference), scores(reference)
    rows = []
    for trial in range(trials):
        grid = work / f"compare-trial{trial}"
        shutil.rmtree(grid, ignore_errors=True)
        command = nlptl("compare", str(recipe), *options, "--output-dir", str(grid))
        watch = Watch.start(command)
        start = time.perf_counter()
        moment = kill_when(watch, lambda: "run", rng.uniform(0.3, 0.95) * duration)
        if moment:
            cells_done = len(list(grid.glob("*/*/*/metrics.json")))
            moment = f"{time.perf_counter() - start:.0f} s in, {cells_done} of 2 cells finished"
        problems = [f"{cell.relative_to(grid)}: {p}" for cell in grid.glob("*/*/*") for p in readable_run_dir(cell)]
        notes = []
        for _ in range(4):
            done = run(command)
            notes.append(f"rerun: exit {done.returncode}")
            if done.returncode == 0:
                break
        identical = done.returncode == 0 and cell_models(grid) == expected_models and scores(grid) == expected_scores
        rows.append({"trial": trial, "killed at": moment or "(ended first)", "readable": not problems,
                     "resumed to the end": done.returncode == 0, "bit-identical": identical,
                     "notes": "; ".join(notes + problems)})
        print(json.dumps(rows[-1]), flush=True)
    return summarize("compare", rows)


def summarize(part: str, rows: list[dict]) -> dict:
    killed = [r for r in rows if r["killed at"] != "(ended first)"]
    summary = {"part": part, "trials": len(rows), "killed": len(killed),
               "bit_identical": sum(r["bit-identical"] for r in rows),
               "readable_after_kill": sum(r["readable"] for r in killed),
               "resumed_to_the_end": sum(r["resumed to the end"] for r in rows), "rows": rows}
    print(f"{part}: {summary['bit_identical']}/{len(rows)} bit-identical to the uninterrupted run, "
          f"{summary['readable_after_kill']}/{len(killed)} left a readable output after the kill, "
          f"{summary['resumed_to_the_end']}/{len(rows)} resumed to the end", flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="kills of training and of prediction")
    parser.add_argument("--compare-trials", type=int, default=3, help="kills of `nlptl compare` (2 cells each)")
    parser.add_argument("--seed", type=int, default=0, help="draws the kill moments")
    parser.add_argument("--parts", default="train,predict,compare")
    parser.add_argument("--train-samples", type=int, default=128, help="SST-2 sentences trained on (16 a step)")
    parser.add_argument("--predict-rows", type=int, default=320)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--work", help="folder for the runs (default: a temporary one, removed at the end)")
    parser.add_argument("--json", help="write the summaries here")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="nlptl-chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    rng, parts, results = random.Random(args.seed), args.parts.split(","), []
    started = time.perf_counter()
    try:
        if "train" in parts:
            results.append(chaos_train(work, args.trials, rng, args.train_samples))
        if "predict" in parts:
            reference_run(work, args.train_samples)
            results.append(chaos_predict(work, args.trials, rng, args.predict_rows, args.chunk_size))
        if "compare" in parts:
            results.append(chaos_compare(work, args.compare_trials, rng, write_recipe(work, args.train_samples)))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"chaos: {time.perf_counter() - started:.0f} s in all")
    for result in results:
        print(f"  {result['part']}: {result['bit_identical']}/{result['trials']} bit-identical, "
              f"{result['readable_after_kill']}/{result['killed']} readable after the kill")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
