"""NER training throughput and entity F1: nlptl vs transformers.Trainer with the run_ner example's settings.

Same data (CoNLL-2003, first N train sentences after a seeded shuffle), model (MiniLM), epochs, lr,
max length 128, batch 32, warmup 6%, weight decay 0.01, fp32. The Trainer side is the `run_ner.py` recipe:
labels on each word's first sub-token, truncation at max length, DataCollatorForTokenClassification, random
batches unless --hf-group-by-length. nlptl windows long sentences instead of truncating (at 128 tokens almost
no CoNLL sentence needs a second window) and groups batches by length (its default).
Throughput = training rows / training-loop seconds (nlptl: windows, from history.jsonl; the Trainer: sentences).
Test F1 = seqeval entity micro F1 over words (the Trainer: arg-max first-sub-token predictions of the words that
fit; nlptl: its default constrained IOB2 decoding, with its word-by-word arg-max F1 printed as test_f1_argmax).

With --seeds K, both sides run seeds 42..42+K-1 (the seed picks the sentences, the head's init and the batch
order, on both sides alike); mean ± std over the seeds is printed.

    python bench/ner_vs_trainer.py [--samples 14041] [--epochs 1] [--lr 5e-5] [--seeds 1] [--hf-group-by-length]
        [--hf-precisions fp32,bf16] [--nlptl-precision auto]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from pathlib import Path

import datasets
import numpy as np
import torch
from common import SHARED_DATA, median, minilm_path, print_machine, print_table
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
)

import nlptl
from nlptl.evaluation.metrics import load_metric

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
MAX_LENGTH, BATCH, EVAL_BATCH, WARMUP, DECAY = 128, 32, 128, 0.06, 0.01


def first_subtoken_labels(batch: dict, tokenizer) -> dict:
    """run_ner.py's tokenize_and_align_labels with label_all_tokens=False."""
    encoded = tokenizer(batch["tokens"], truncation=True, max_length=MAX_LENGTH, is_split_into_words=True)
    labels = []
    for row, tags in enumerate(batch["ner_tags"]):
        previous, row_labels = None, []
        for word in encoded.word_ids(row):
            row_labels.append(-100 if word is None or word == previous else tags[word])
            previous = word
        labels.append(row_labels)
    encoded["labels"] = labels
    return encoded


def word_level_f1(logits: np.ndarray, label_ids: np.ndarray) -> float:
    """Entity F1 from the positions that carry a word's label (rows in whatever order predict returned)."""
    predicted, gold = [], []
    for row_logits, row_labels in zip(logits, label_ids, strict=True):
        keep = row_labels != -100
        predicted.append([TAGS[i] for i in row_logits.argmax(-1)[keep]])
        gold.append([TAGS[i] for i in row_labels[keep]])
    return load_metric("seqeval_ner").compute(predictions=predicted, references=gold)["f1"]


def hf_trainer(args: argparse.Namespace, seed: int, bf16: bool = False) -> dict:
    files = {s: str(SHARED_DATA / "conll2003" / f"{s}.parquet") for s in ("train", "test")}
    raw = datasets.load_dataset("parquet", data_files=files)
    train = raw["train"].shuffle(seed=seed).select(range(min(args.samples, len(raw["train"]))))
    test = raw["test"]
    if args.eval_samples and args.eval_samples < len(test):
        test = test.shuffle(seed=42).select(range(args.eval_samples))
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    columns = raw["train"].column_names
    train = train.map(first_subtoken_labels, batched=True, remove_columns=columns, fn_kwargs={"tokenizer": tokenizer})
    test = test.map(first_subtoken_labels, batched=True, remove_columns=columns, fn_kwargs={"tokenizer": tokenizer})
    torch.manual_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        minilm_path(), num_labels=len(TAGS), id2label=dict(enumerate(TAGS)),
        label2id={tag: i for i, tag in enumerate(TAGS)})
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=BATCH, per_device_eval_batch_size=EVAL_BATCH,
            learning_rate=args.lr, num_train_epochs=args.epochs, warmup_steps=WARMUP, weight_decay=DECAY, seed=seed,
            report_to=[], save_strategy="no", eval_strategy="no", logging_strategy="no",
            use_cpu=not torch.cuda.is_available(), bf16=bf16,
            train_sampling_strategy="group_by_length" if args.hf_group_by_length else "random",
        )
        trainer = Trainer(model=model, args=training_args, train_dataset=train,
                          data_collator=DataCollatorForTokenClassification(tokenizer))
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        output = trainer.predict(test)
    return {"samples_per_s": args.samples * args.epochs / seconds,
            "test_f1": word_level_f1(output.predictions, output.label_ids)}


def nlptl_run(args: argparse.Namespace, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        recipe = nlptl.Recipe(
            name="bench_ner", task="token_classification", output_dir=out, seed=seed,
            model=nlptl.ModelConfig(name=minilm_path()),
            # No validation split (the Trainer side evaluates nothing during training either).
            data=nlptl.DataConfig(source=str(SHARED_DATA / "conll2003"), label_names=TAGS, max_length=MAX_LENGTH,
                                  max_train_samples=args.samples, max_eval_samples=args.eval_samples,
                                  validation_split="-", validation_size=0),
            train=nlptl.TrainConfig(epochs=args.epochs, batch_size=BATCH, eval_batch_size=EVAL_BATCH, lr=args.lr,
                                    warmup_ratio=WARMUP, weight_decay=DECAY, mixed_precision=args.nlptl_precision,
                                    group_by_length=not args.nlptl_random_batches,
                                    group_window=args.nlptl_group_window, log_with=[]),
        )
        metrics = nlptl.train(recipe)
        history = [json.loads(line) for line in (Path(out) / "history.jsonl").read_text().splitlines()]
    return {"samples_per_s": float(np.median([h["samples_per_second"] for h in history])),
            "test_f1": metrics["test"]["f1"], "test_f1_argmax": metrics["test"].get("f1_argmax")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=14041, help="train sentences (14041 = all)")
    parser.add_argument("--eval-samples", type=int, default=None, help="test sentences (default: all 3453)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--hf-group-by-length", action="store_true",
                        help="Trainer with train_sampling_strategy=group_by_length (nlptl always groups)")
    parser.add_argument("--hf-precisions", default="fp32",
                        help="the Trainer's settings to run, e.g. fp32,bf16 (ratios are to the faster)")
    parser.add_argument("--nlptl-precision", default="no", help="nlptl train.mixed_precision (auto, no, bf16)")
    parser.add_argument("--nlptl-random-batches", action="store_true", help="nlptl without length grouping")
    parser.add_argument("--nlptl-group-window", type=int, default=50, help="nlptl train.group_window")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 42, 43, ... (each side runs every seed)")
    parser.add_argument("--only-nlptl", action="store_true", help="skip the Trainer (e.g. to try nlptl settings)")
    args = parser.parse_args()
    sampling = "group_by_length" if args.hf_group_by_length else "random sampling"
    batches = "random" if args.nlptl_random_batches else f"grouped (window {args.nlptl_group_window})"
    print_machine()
    peers = {f"hf Trainer (run_ner), {sampling}, {p}": functools.partial(hf_trainer, bf16=p == "bf16")
             for p in args.hf_precisions.split(",")}
    runs = {**({} if args.only_nlptl else peers), f"nlptl, {batches}, {args.nlptl_precision}": nlptl_run}
    rows = []
    for seed in range(42, 42 + args.seeds):  # sides alternate, so drift in machine speed hits both alike
        for name, run in runs.items():
            rows.append({"run": name, "seed": seed, **run(args, seed)})
            print(rows[-1], flush=True)
    print_table(rows, ["run", "seed", "samples_per_s", "test_f1", "test_f1_argmax"])
    summary = []
    for name in runs:
        mine = [row for row in rows if row["run"] == name]
        f1 = [row["test_f1"] for row in mine]
        argmax = [row["test_f1_argmax"] for row in mine if row.get("test_f1_argmax") is not None]
        spread = statistics.stdev(f1) if len(f1) > 1 else 0.0
        summary.append({"run": name, "samples_per_s": median([row["samples_per_s"] for row in mine]),
                        "test_f1_mean": statistics.mean(f1), "test_f1_std": spread,
                        "test_f1_argmax_mean": statistics.mean(argmax) if argmax else None})
    best = max((row for row in summary if row["run"] in peers), key=lambda row: row["samples_per_s"], default=None)
    for row in summary:
        row["ratio_vs_best_hf"] = row["samples_per_s"] / best["samples_per_s"] if best else None
    print(f"over {args.seeds} seed(s); samples/s = median; best peer: {best['run'] if best else 'none run'}")
    print_table(summary, ["run", "samples_per_s", "ratio_vs_best_hf", "test_f1_mean", "test_f1_std",
                          "test_f1_argmax_mean"])


if __name__ == "__main__":
    main()
