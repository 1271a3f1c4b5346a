"""Training throughput and accuracy: nlptl vs transformers.Trainer, same data, model and settings, one run.

SST-2, first N train rows after a seeded shuffle (seed 42 unless --seed), max length 64, batch 32, lr 1e-4, 1 epoch,
warmup 6%, weight decay 0.01; test = GLUE dev (872). Throughput = training samples / training-loop seconds.
nlptl keeps freed heap memory on CPU (nlptl.allocator, process-wide); the bench sets it before the first run, so
the Trainer runs with it too (the same conditions for every run and round).

Rows: the Trainer with group_by_length in fp32 and in bf16 (the peer's two settings; ratios are to the faster,
"best peer"), nlptl in fp32, bf16 and auto; with --ablations also nlptl bf16 without one CPU speed-up each (dense
word-embedding update instead of sparse rows; torch's nn.Dropout instead of nlptl's masks), each measured alone.
`--seed` sets the data subset, model init, batch order and dropout of every run. Each row names its precision,
its achieved GFLOP/s (model FLOPs: 6 x non-embedding parameters x real tokens, plus attention) and that as a
share of the machine's 2048² matmul peak in the same precision, printed first with the CPU model and flags.

    python bench/train_throughput.py [--samples 8000] [--repeats 3] [--with-random] [--ablations] [--seed 42]
                                     [--only nlptl]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import datasets
import numpy as np
import torch
from common import SHARED_DATA, encoder_flops_per_token, median, minilm_path, print_machine, print_table
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

import nlptl
import nlptl.training.trainer as trainer_module
from nlptl.allocator import keep_freed_memory


def hf_trainer(samples: int, group_by_length: bool, bf16: bool, seed: int = 42) -> dict:
    files = {s: str(SHARED_DATA / "sst2" / f"{s}.parquet") for s in ("train", "test")}
    raw = datasets.load_dataset("parquet", data_files=files)
    train = raw["train"].shuffle(seed=seed).select(range(samples))
    tok = AutoTokenizer.from_pretrained(minilm_path())

    def encode(batch):
        return tok(list(batch["sentence"]), truncation=True, max_length=64)

    train = train.map(encode, batched=True, remove_columns=["sentence"])
    test = raw["test"].map(encode, batched=True, remove_columns=["sentence"])
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=2)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=32, per_device_eval_batch_size=128, learning_rate=1e-4,
            num_train_epochs=1, warmup_steps=0.06, weight_decay=0.01, seed=seed, report_to=[], save_strategy="no",
            eval_strategy="no", logging_strategy="no", bf16=bf16, use_cpu=not torch.cuda.is_available(),
            train_sampling_strategy="group_by_length" if group_by_length else "random",
        )
        trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tok))
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        output = trainer.predict(test)
    accuracy = float((np.argmax(output.predictions, -1) == output.label_ids).mean())
    return {"samples_per_s": samples / seconds, "test_accuracy": accuracy}


def nlptl_run(samples: int, precision: str, seed: int = 42, embedding_update: str = "auto",
              torch_dropout: bool = False) -> dict:
    """`torch_dropout`: keep nn.Dropout (an ablation of nlptl.training.cpu_dropout)."""
    with tempfile.TemporaryDirectory() as out, mock.patch.object(
            trainer_module, "use_fast_dropout", lambda model: 0) if torch_dropout else nullcontext():
        recipe = nlptl.Recipe(
            name="bench_sst2", output_dir=out, seed=seed,
            model=nlptl.ModelConfig(name=minilm_path()),
            data=nlptl.DataConfig(source=str(SHARED_DATA / "sst2"), text_column="sentence",
                                  max_length=64, max_train_samples=samples, max_eval_samples=1000),
            train=nlptl.TrainConfig(epochs=1, batch_size=32, eval_batch_size=128, lr=1e-4, warmup_ratio=0.06,
                                    weight_decay=0.01, mixed_precision=precision, log_with=[],
                                    embedding_update=embedding_update),
        )
        metrics = nlptl.train(recipe)
        history = [json.loads(line) for line in (Path(out) / "history.jsonl").read_text().splitlines()]
    return {"samples_per_s": history[-1]["samples_per_second"], "test_accuracy": metrics["test"]["accuracy"],
            "time_to_first_step_s": metrics["train"]["time_to_first_step_s"],
            "precision": {"no": "fp32"}.get(used := metrics["train"]["precision"]["used"], used),
            "embedding_update": metrics["train"]["embedding_update"],
            "precision_reason": metrics["train"]["precision"]["reason"]}


def token_stats(samples: int, seed: int) -> tuple[float, float]:
    """Mean and mean-square token length of the training rows (the Trainer's subset; nlptl's is as long)."""
    train = datasets.load_dataset("parquet", data_files=str(SHARED_DATA / "sst2" / "train.parquet"))["train"]
    texts = list(train.shuffle(seed=seed).select(range(samples))["sentence"])
    lengths = np.array([len(ids) for ids in AutoTokenizer.from_pretrained(minilm_path())(
        texts, truncation=True, max_length=64)["input_ids"]], dtype=float)
    return float(lengths.mean()), float((lengths**2).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds; the table shows medians")
    parser.add_argument("--with-random", action="store_true", help="add the Trainer with random sampling")
    parser.add_argument("--only", default="", help="comma-separated row-name substrings to run (e.g. nlptl)")
    parser.add_argument("--ablations", action="store_true",
                        help="add nlptl bf16 rows without one speed-up each (dense embedding update; torch dropout)")
    parser.add_argument("--seed", type=int, default=42,
                        help="data subset, model init, batch order and dropout of every run")
    args = parser.parse_args()
    n, seed = args.samples, args.seed
    peaks = print_machine()
    runs = {
        "hf Trainer, group_by_length, fp32": (lambda: hf_trainer(n, True, False, seed), "fp32", True),
        "hf Trainer, group_by_length, bf16": (lambda: hf_trainer(n, True, True, seed), "bf16", True),
        "nlptl fp32": (lambda: nlptl_run(n, "no", seed), "fp32", False),
        "nlptl bf16": (lambda: nlptl_run(n, "bf16", seed), "bf16", False),
        "nlptl auto": (lambda: nlptl_run(n, "auto", seed), None, False),
    }
    if args.ablations:
        runs["nlptl bf16, dense embedding update"] = (lambda: nlptl_run(n, "bf16", seed, "dense"), "bf16", False)
        runs["nlptl bf16, torch dropout"] = (lambda: nlptl_run(n, "bf16", seed, torch_dropout=True), "bf16", False)
    if args.with_random:
        runs["hf Trainer, random sampling, fp32"] = (lambda: hf_trainer(n, False, False, seed), "fp32", True)
    if args.only:
        runs = {k: v for k, v in runs.items() if any(part in k for part in args.only.split(","))}
    print(f"freed heap memory kept for every run (nlptl.allocator): {keep_freed_memory()}", flush=True)
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for round_ in range(args.repeats):  # rounds interleave the runs, so drifting machine load hits all alike
        for name, (fn, _, _) in runs.items():
            results[name].append(fn())
            print(round_, name, results[name][-1], flush=True)
    mean_len, mean_sq = token_stats(n, seed)
    flops = encoder_flops_per_token(AutoConfig.from_pretrained(minilm_path()), mean_len, mean_sq, training=True)
    rows = []
    for name, found in results.items():
        used = runs[name][1] or found[-1].get("precision", "?")
        speed = median([r["samples_per_s"] for r in found])
        achieved = speed * mean_len * flops / 1e9
        rows.append({"run": name, "precision": used, "samples_per_s": speed,
                     "test_accuracy": median([r["test_accuracy"] for r in found]), "GFLOP/s": achieved,
                     "of_matmul_peak": achieved / peaks.get(used, peaks["fp32"])})
    peers = [row for row, (_, _, is_peer) in zip(rows, runs.values(), strict=True) if is_peer]
    best = max(peers, key=lambda row: row["samples_per_s"]) if peers else None
    for row in rows:
        row["ratio_vs_best_peer"] = row["samples_per_s"] / best["samples_per_s"] if best else None
    print(f"SST-2 {n} rows (seed {seed}), len 64 (mean {mean_len:.1f} real tokens), batch 32, 1 epoch; medians of "
          f"{args.repeats} round(s); best peer: {best['run'] if best else 'none run'}")
    print_table(rows, ["run", "precision", "samples_per_s", "ratio_vs_best_peer", "test_accuracy", "GFLOP/s",
                       "of_matmul_peak"])


if __name__ == "__main__":
    main()
