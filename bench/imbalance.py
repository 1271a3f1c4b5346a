"""Class imbalance: `train.class_weights` none vs balanced, and transformers.Trainer without weights.

Data: SST-2 from the shared parquet. Its `test` split is GLUE's labelled validation set (872 sentences, 428
negative / 444 positive: balanced), so it is the evaluation set here (the shared `validation` split is carved
from GLUE train). Train: 2,000 sentences drawn (seeded) from the train split with 10% positives (1,800
negative, 200 positive); positive is the minority class. No validation split: every run trains a fixed number
of epochs and is scored once on the test set, the same on both sides.

Same model (MiniLM), max length 64, batch 32, lr, epochs, warmup 6%, weight decay 0.01, fp32 on both sides.
Reported: macro-F1 and minority-class (positive) recall on the test set, per seed and mean ± std over seeds
(each seed draws its own train sample, head init and batch order, on every side alike).

    python bench/imbalance.py [--seeds 3] [--epochs 2] [--lr 1e-4] [--train 2000] [--positive-share 0.1]
        [--rows rows.jsonl] [--trainer-seeds N]

With --rows, each finished (run, seed) row is appended to that file and reused by a rerun with the same file.
On a shared CPU run it with OMP_NUM_THREADS=1: OpenMP threads spinning against other processes' threads made
a step 5-10x slower here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch
from common import SHARED_DATA, minilm_path, print_machine, print_table
from sklearn.metrics import f1_score, recall_score
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

import nlptl

MAX_LENGTH, BATCH, WARMUP, DECAY = 64, 32, 0.06, 0.01
NAMES = ["negative", "positive"]


def imbalanced_sample(train: pd.DataFrame, size: int, positive_share: float, seed: int) -> pd.DataFrame:
    positives = round(size * positive_share)
    rng = np.random.default_rng(seed)
    pos = train[train.label == 1].sample(positives, random_state=int(rng.integers(1 << 31)))
    neg = train[train.label == 0].sample(size - positives, random_state=int(rng.integers(1 << 31)))
    return pd.concat([pos, neg]).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def write_data(folder: Path, args: argparse.Namespace, seed: int) -> Path:
    train = pd.read_parquet(SHARED_DATA / "sst2" / "train.parquet")
    imbalanced_sample(train, args.train, args.positive_share, seed).to_parquet(folder / "train.parquet")
    pd.read_parquet(SHARED_DATA / "sst2" / "test.parquet").to_parquet(folder / "test.parquet")
    return folder


def scores(predicted: list[int], gold: list[int]) -> dict:
    return {"macro_f1": f1_score(gold, predicted, average="macro"),
            "minority_recall": recall_score(gold, predicted, pos_label=1),
            "majority_recall": recall_score(gold, predicted, pos_label=0)}


def nlptl_run(data: Path, args: argparse.Namespace, seed: int, class_weights: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        recipe = nlptl.Recipe(
            name="bench_imbalance", output_dir=out, seed=seed, model=nlptl.ModelConfig(name=minilm_path()),
            data=nlptl.DataConfig(source=str(data), text_column="sentence", label_names=NAMES, max_length=MAX_LENGTH,
                                  validation_split="-", validation_size=0),
            train=nlptl.TrainConfig(epochs=args.epochs, batch_size=BATCH, eval_batch_size=128, lr=args.lr,
                                    warmup_ratio=WARMUP, weight_decay=DECAY, mixed_precision="no", log_with=[],
                                    class_weights=class_weights),
        )
        started = time.perf_counter()
        metrics = nlptl.train(recipe)
    test = metrics["test"]
    recall = {name: row["recall"] for name, row in test["per_class"].items()}
    return {"macro_f1": test["f1"], "minority_recall": recall["positive"], "majority_recall": recall["negative"],
            "seconds": time.perf_counter() - started, "weights": metrics["train"].get("class_weights")}


def hf_run(data: Path, args: argparse.Namespace, seed: int) -> dict:
    raw = datasets.load_dataset("parquet", data_files={s: str(data / f"{s}.parquet") for s in ("train", "test")})
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())

    def encode(batch: dict) -> dict:
        return tokenizer(batch["sentence"], truncation=True, max_length=MAX_LENGTH)

    encoded = raw.map(encode, batched=True, remove_columns=["sentence"])
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_path(), num_labels=2, id2label=dict(enumerate(NAMES)), label2id={n: i for i, n in enumerate(NAMES)})
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=BATCH, per_device_eval_batch_size=128, learning_rate=args.lr,
            num_train_epochs=args.epochs, warmup_steps=WARMUP,  # below 1: a share of the steps (transformers 5)
 weight_decay=DECAY, seed=seed, report_to=[],
            save_strategy="no", eval_strategy="no", logging_strategy="no", use_cpu=not torch.cuda.is_available())
        trainer = Trainer(model=model, args=training_args, train_dataset=encoded["train"],
                          data_collator=DataCollatorWithPadding(tokenizer))
        started = time.perf_counter()
        trainer.train()
        output = trainer.predict(encoded["test"])
    predicted = output.predictions.argmax(-1).tolist()
    return {**scores(predicted, list(output.label_ids)), "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--train", type=int, default=2000, help="train sentences drawn")
    parser.add_argument("--positive-share", type=float, default=0.1)
    parser.add_argument("--no-trainer", action="store_true", help="skip the transformers.Trainer rows")
    parser.add_argument("--trainer-seeds", type=int, default=None, help="run the Trainer on the first N seeds only")
    parser.add_argument("--rows", type=Path, default=None, help="jsonl of finished rows (appended, reused)")
    args = parser.parse_args()
    print_machine()
    runs = {"nlptl, class_weights none": lambda d, s: nlptl_run(d, args, s, "none"),
            "nlptl, class_weights balanced": lambda d, s: nlptl_run(d, args, s, "balanced"),
            **({} if args.no_trainer else {"hf Trainer, no weights": lambda d, s: hf_run(d, args, s)})}
    done = [json.loads(line) for line in args.rows.read_text().splitlines()] if args.rows and args.rows.exists() else []
    rows = []
    for seed in range(42, 42 + args.seeds):
        with tempfile.TemporaryDirectory() as folder:
            data = write_data(Path(folder), args, seed)
            for name, run in runs.items():
                if name.startswith("hf") and args.trainer_seeds is not None and seed >= 42 + args.trainer_seeds:
                    continue
                found = [row for row in done if row["run"] == name and row["seed"] == seed]
                rows.append(found[0] if found else {"run": name, "seed": seed, **run(data, seed)})
                print(rows[-1], flush=True)
                if args.rows and not found:
                    with args.rows.open("a") as handle:
                        handle.write(json.dumps(rows[-1]) + "\n")
    print_table(rows, ["run", "seed", "macro_f1", "minority_recall", "majority_recall", "seconds"])
    summary = []
    for name in runs:
        mine = [row for row in rows if row["run"] == name]
        entry: dict = {"run": name, "seeds": len(mine)}
        for key in ("macro_f1", "minority_recall", "majority_recall"):
            values = [row[key] for row in mine]
            entry[key] = f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0:.4f}"
        summary.append(entry)
    print(f"test set: SST-2 test (GLUE validation, 872 sentences, balanced); train: {args.train} sentences, "
          f"{args.positive_share:.0%} positive; mean ± std over {args.seeds} seed(s)")
    print_table(summary, ["run", "seeds", "macro_f1", "minority_recall", "majority_recall"])


if __name__ == "__main__":
    main()
