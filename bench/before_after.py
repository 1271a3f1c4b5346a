"""Training and prediction throughput of two checkouts of nlptl side by side in one run (a refactor's "before = after").

Each measurement runs in a fresh child process whose PYTHONPATH points at one checkout, so each imports its own
`nlptl`; rounds alternate A B B A so that drift of the machine falls on both alike. Both checkouts run the same
work through the API they share, in exact fp32 (no precision probe):
- training: SST-2, first N train rows after a seeded shuffle, max length 64, batch 32, lr 1e-4, 1 epoch
  (as bench/train_throughput.py), samples/s of the training loop from history.jsonl;
- prediction: `predict_file` over M seeded IMDb test reviews, max length 512, batch 32 (as
  bench/predict_throughput.py), reviews/s with the file read and write, the model load excluded.
The peers of those two benches (Trainer fp32 with group_by_length; the transformers pipeline) run once per round in
this checkout, so each figure is also a ratio to a peer measured in the same run.

    python bench/before_after.py --before ../wt-before --after . MODEL_DIR [--train-samples 4000]
        [--predict-samples 1000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA, median, minilm_path, print_machine, print_table

BENCH = Path(__file__).resolve().parent


def child_train(samples: int) -> dict:
    import nlptl

    with tempfile.TemporaryDirectory() as out:
        recipe = nlptl.Recipe(
            name="bench_sst2", output_dir=out,
            model=nlptl.ModelConfig(name=minilm_path()),
            data=nlptl.DataConfig(source=str(SHARED_DATA / "sst2"), text_column="sentence",
                                  max_length=64, max_train_samples=samples, max_eval_samples=1000),
            train=nlptl.TrainConfig(epochs=1, batch_size=32, eval_batch_size=128, lr=1e-4, warmup_ratio=0.06,
                                    weight_decay=0.01, mixed_precision="no", log_with=[]),
        )
        metrics = nlptl.train(recipe)
        history = [json.loads(line) for line in (Path(out) / "history.jsonl").read_text().splitlines()]
    return {"per_s": history[-1]["samples_per_second"], "accuracy": metrics["test"]["accuracy"]}


def child_predict(model_dir: str, samples: int) -> dict:
    import pyarrow.parquet as pq
    from predict_throughput import sample_reviews

    from nlptl.inference.files import predict_file
    from nlptl.inference.predictor import Predictor

    reviews = sample_reviews(samples, 0)
    with tempfile.TemporaryDirectory() as work:
        source, out = Path(work) / "reviews.parquet", Path(work) / "out.parquet"
        reviews[["text"]].to_parquet(source)
        predictor = Predictor(model_dir, batch_size=32, max_length=512, truncation="head", precision="fp32")
        predictor.columns(list(reviews["text"][:32]))  # warm-up, not timed
        start = time.perf_counter()
        predict_file(predictor, str(source), out, prefix="pred_", overwrite=True, progress=False)
        seconds = time.perf_counter() - start
        labels = pq.read_table(out).column("pred_label").to_pylist()
    names = predictor.model.config.id2label
    gold = [names[int(label)] for label in reviews["gold"]]
    return {"per_s": samples / seconds, "accuracy": sum(a == b for a, b in zip(labels, gold, strict=True)) / samples}


def child_peers(model_dir: str, train_samples: int, predict_samples: int) -> dict:
    from predict_throughput import run_pipeline, sample_reviews
    from train_throughput import hf_trainer

    trainer = hf_trainer(train_samples, group_by_length=True, bf16=False)
    reviews = sample_reviews(predict_samples, 0)
    _, seconds = run_pipeline(model_dir, list(reviews["text"]), 512)
    return {"train": trainer["samples_per_s"], "predict": predict_samples / seconds}


def run_child(tree: Path, args: list[str]) -> dict:
    """One measurement in a fresh process that imports the checkout at `tree` (its last stdout line is JSON)."""
    env = {**os.environ, "PYTHONPATH": f"{tree.resolve()}{os.pathsep}{BENCH}"}
    done = subprocess.run([sys.executable, str(BENCH / "before_after.py"), "--child", *args], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", help="a sequence classifier fine-tuned on IMDb (e.g. runs/imdb_minilm_4k)")
    parser.add_argument("--before", type=Path, required=True, help="checkout of the earlier commit")
    parser.add_argument("--after", type=Path, required=True, help="checkout of the later commit")
    parser.add_argument("--train-samples", type=int, default=4000)
    parser.add_argument("--predict-samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="each round runs before, after, after, before")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind = args.child[0]
        result = (child_train(args.train_samples) if kind == "train"
                  else child_predict(args.model_dir, args.predict_samples) if kind == "predict"
                  else child_peers(args.model_dir, args.train_samples, args.predict_samples))
        import nlptl

        print(json.dumps({**result, "nlptl": str(Path(nlptl.__file__).parent.parent)}))
        return
    print_machine()
    trees = {"before": args.before, "after": args.after}
    figures: dict[tuple[str, str], list[float]] = {}
    accuracy: dict[tuple[str, str], float] = {}
    peers: dict[str, list[float]] = {"train": [], "predict": []}
    for round_ in range(args.rounds):
        for name in ("before", "after", "after", "before"):
            for work in ("train", "predict"):
                result = run_child(trees[name], [work, "--before", ".", "--after", ".", args.model_dir,
                                                 "--train-samples", str(args.train_samples),
                                                 "--predict-samples", str(args.predict_samples)])
                if Path(result["nlptl"]).resolve() != trees[name].resolve():
                    raise SystemExit(f"the child imported nlptl from {result['nlptl']}, not {trees[name]}")
                figures.setdefault((name, work), []).append(result["per_s"])
                accuracy[(name, work)] = result["accuracy"]
                print(round_, name, work, f"{result['per_s']:.1f}/s", f"acc {result['accuracy']:.4f}", flush=True)
        peer = run_child(args.after, ["peers", "--before", ".", "--after", ".", args.model_dir,
                                      "--train-samples", str(args.train_samples),
                                      "--predict-samples", str(args.predict_samples)])
        for work in ("train", "predict"):
            peers[work].append(peer[work])
        print(round_, "peers", json.dumps(peer), flush=True)
    rows = []
    for work, unit, peer_name in (("train", "samples/s", "Trainer fp32"), ("predict", "reviews/s", "pipeline")):
        for name in ("before", "after"):
            values = figures[(name, work)]
            rows.append({"work": work, "checkout": f"{name} ({trees[name]})", "unit": unit,
                         "median": median(values), "min": min(values), "max": max(values),
                         "ratio_vs_peer": median(values) / median(peers[work]), "peer": peer_name,
                         "after/before": median(figures[("after", work)]) / median(figures[("before", work)]),
                         "accuracy": accuracy[(name, work)]})
    print_table(rows, ["work", "checkout", "unit", "median", "min", "max", "ratio_vs_peer", "peer", "after/before",
                       "accuracy"])


if __name__ == "__main__":
    main()
