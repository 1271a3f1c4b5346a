"""One real run of each new task kind on data built from the shared sets, with MiniLM; prints the metrics.

- regression: IMDb star ratings (the shared parquet's `rating` column: 1-4 and 7-10 stars) from the review text.
  Train: N reviews drawn (seeded) from IMDb train; test: M reviews drawn from IMDb test. Targets standardised for
  training (data.standardize_targets), scores in stars. Baseline: always predicting the train mean.
- multi-label: CoNLL-2003 sentences labelled with the entity types they contain (PER, ORG, LOC, MISC; a sentence
  may have none, one or several), text = the words joined by spaces. Train: N sentences drawn from CoNLL train;
  validation: CoNLL validation (thresholds tuned there with train.tune_thresholds); test: CoNLL test.
  Baseline: predicting each label's train majority value.

Each trained model is then scored again through `nlptl evaluate` (the Predictor path), which must agree with
training's test metrics.

    python bench/task_kinds.py [--kinds regression,multi_label] [--train 2000] [--test 1000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import SHARED_DATA, minilm_path, print_machine

import nlptl
from nlptl.evaluation.run import evaluate

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
TYPES = ["LOC", "MISC", "ORG", "PER"]


def entity_types(tags: list[int]) -> list[str]:
    return sorted({TAGS[t][2:] for t in tags if t})


def conll_multi_label(split: str) -> pd.DataFrame:
    frame = pd.read_parquet(SHARED_DATA / "conll2003" / f"{split}.parquet")
    return pd.DataFrame({"text": [" ".join(tokens) for tokens in frame.tokens],
                         "types": [entity_types(list(tags)) for tags in frame.ner_tags]})


def regression_run(folder: Path, args: argparse.Namespace) -> dict:
    data = folder / "imdb_rating"
    data.mkdir()
    train = pd.read_parquet(SHARED_DATA / "imdb" / "train.parquet").sample(args.train, random_state=42)
    test = pd.read_parquet(SHARED_DATA / "imdb" / "test.parquet").sample(args.test, random_state=42)
    train[["text", "rating"]].to_parquet(data / "train.parquet")
    test[["text", "rating"]].to_parquet(data / "test.parquet")
    out = folder / "regression_run"
    recipe = nlptl.Recipe(
        name="imdb_rating", task="regression", output_dir=str(out), model=nlptl.ModelConfig(name=minilm_path()),
        data=nlptl.DataConfig(source=str(data), label_column="rating", max_length=args.max_length,
                              truncation="head_tail", head_tokens=args.max_length // 4, validation_size=0.1),
        train=nlptl.TrainConfig(epochs=args.epochs, batch_size=16, eval_batch_size=64, lr=args.lr, log_with=[],
                                mixed_precision="no"),
    )
    started = time.perf_counter()
    metrics = nlptl.train(recipe)
    seconds = time.perf_counter() - started
    mean = float(train.rating.mean())
    baseline_mse = float(((test.rating - mean) ** 2).mean())
    again = evaluate(out, str(data), split="test", progress=False)["test"]
    return {"kind": "regression (IMDb stars)", "train_rows": len(train) - metrics["validation"]["num_examples"],
            "test_rows": metrics["test"]["num_examples"], "seconds": seconds,
            "test": {k: metrics["test"][k] for k in ("mse", "rmse", "mae", "pearson", "spearman")},
            "evaluate_again": {k: again[k] for k in ("mse", "mae", "pearson", "spearman")},
            "baseline_train_mean_mse": baseline_mse, "target_scale": metrics["train"].get("target_scale")}


def multi_label_run(folder: Path, args: argparse.Namespace) -> dict:
    data = folder / "conll_types"
    data.mkdir()
    train = conll_multi_label("train").sample(args.train, random_state=42).reset_index(drop=True)
    train.to_parquet(data / "train.parquet")
    conll_multi_label("validation").to_parquet(data / "validation.parquet")
    test = conll_multi_label("test")
    test.to_parquet(data / "test.parquet")
    out = folder / "multi_label_run"
    recipe = nlptl.Recipe(
        name="conll_types", task="multi_label_classification", output_dir=str(out),
        model=nlptl.ModelConfig(name=minilm_path()),
        data=nlptl.DataConfig(source=str(data), label_column="types", max_length=64,
                              max_eval_samples=args.test),
        train=nlptl.TrainConfig(epochs=args.epochs, batch_size=32, eval_batch_size=128, lr=args.lr, log_with=[],
                                mixed_precision="no", tune_thresholds=True),
    )
    started = time.perf_counter()
    metrics = nlptl.train(recipe)
    seconds = time.perf_counter() - started
    again = evaluate(out, str(data), split="test", max_samples=args.test, progress=False)["test"]
    shares = {t: statistics.mean(t in row for row in train.types) for t in TYPES}
    return {"kind": "multi-label (CoNLL entity types per sentence)", "train_rows": len(train),
            "test_rows": metrics["test"]["num_examples"], "seconds": seconds, "label_share_in_train": shares,
            "test": {k: metrics["test"][k] for k in ("f1_micro", "f1_macro", "subset_accuracy", "hamming_loss")},
            "per_label_f1": {k: round(v["f1"], 4) for k, v in metrics["test"]["per_class"].items()},
            "thresholds": metrics["test"]["thresholds"],
            "evaluate_again": {k: again[k] for k in ("f1_micro", "f1_macro", "subset_accuracy", "hamming_loss")}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", default="regression,multi_label")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=128, help="regression (IMDb reviews) tokens")
    args = parser.parse_args()
    print_machine()
    runs = {"regression": regression_run, "multi_label": multi_label_run}
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.kinds.split(","):
            result = runs[kind](Path(folder), args)
            print(result, flush=True)


if __name__ == "__main__":
    main()
