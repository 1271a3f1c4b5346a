"""Prediction throughput: `nlptl predict` vs `transformers.pipeline`, same reviews, model and length, one run.

N IMDb test reviews (seeded random sample of ../shared/data/imdb/test.parquet), max length 512, batch 32, a
classifier fine-tuned on IMDb (MODEL_DIR, e.g. the output dir of recipes/imdb_sentiment.py).
Peer: `pipeline("text-classification", model=dir, batch_size=32, truncation=True)` over the list of texts.
nlptl: `predict_file` (what `nlptl predict` runs) from a parquet file to a parquet file, in auto precision (bf16
where the hardware has it) and in exact fp32. The pipeline runs first, before nlptl's Predictor keeps freed heap
memory for the process (nlptl.allocator); --peer-kept-memory gives the pipeline that setting too. Model loading
is excluded from both timings; reading and writing the files is included for nlptl. Reported: reviews/s, ratio
to the pipeline, % identical labels, accuracy against the gold labels, and the share of computed tokens that are
padding (from the token lengths).

--kill-test: run `nlptl predict` as a subprocess to the end; run it again, SIGKILL it once ~50% of the rows are
done, resume it with --resume, and compare the two outputs (row count, order, content).

    python bench/predict_throughput.py MODEL_DIR [--samples 5000] [--seed 0] [--peer-kept-memory] [--kill-test]
"""

from __future__ import annotations

import argparse
import math
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import torch
from common import SHARED_DATA, print_table
from transformers import AutoConfig, AutoTokenizer, pipeline

from nlptl.allocator import keep_freed_memory
from nlptl.inference.files import predict_file
from nlptl.inference.predictor import Predictor
from nlptl.inference.workdir import WorkDir

BATCH = 32


def sample_reviews(samples: int, seed: int) -> pd.DataFrame:
    reviews = pd.read_parquet(SHARED_DATA / "imdb" / "test.parquet", columns=["text", "label"])
    picked = reviews.sample(n=min(samples, len(reviews)), random_state=seed).rename(columns={"label": "gold"})
    picked.insert(0, "id", picked.index)
    return picked.reset_index(drop=True)


def padding_share(lengths: list[int], batches: list[list[int]]) -> float:
    """Share of the computed token positions that are padding, for batches padded to their longest row."""
    computed = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    return 1 - sum(lengths) / computed


def padding_shares(model_dir: str, texts: list[str], max_length: int, chunk: int) -> tuple[float, float]:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    in_order = [list(range(i, min(i + BATCH, len(texts)))) for i in range(0, len(texts), BATCH)]
    sorted_batches = []
    for start in range(0, len(texts), chunk):
        window = sorted(range(start, min(start + chunk, len(texts))), key=lambda i: -lengths[i])
        sorted_batches += [window[i:i + BATCH] for i in range(0, len(window), BATCH)]
    return padding_share(lengths, in_order), padding_share(lengths, sorted_batches)


def run_pipeline(model_dir: str, texts: list[str], max_length: int) -> tuple[list[str], float]:
    classify = pipeline("text-classification", model=model_dir, batch_size=BATCH, truncation=True,
                        device=0 if torch.cuda.is_available() else -1)
    classify(texts[:BATCH], max_length=max_length)  # warm-up, not timed
    start = time.perf_counter()
    results = classify(texts, max_length=max_length)
    return [r["label"] for r in results], time.perf_counter() - start


def run_nlptl(model_dir: str, source: Path, out: Path, precision: str, max_length: int) -> tuple[list[str], float]:
    predictor = Predictor(model_dir, batch_size=BATCH, max_length=max_length, truncation="head", precision=precision)
    predictor.columns(pq.read_table(source).column("text").to_pylist()[:BATCH])  # warm-up, not timed
    start = time.perf_counter()
    predict_file(predictor, str(source), out, prefix="pred_", overwrite=True, progress=False)
    seconds = time.perf_counter() - start
    return pq.read_table(out).column("pred_label").to_pylist(), seconds


def same(a: list[str], b: list[str]) -> float:
    return 100 * sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def accuracy(labels: list[str], gold: list[int], names: dict[int, str]) -> float:
    return sum(label == names[g] for label, g in zip(labels, gold, strict=True)) / len(gold)


def throughput(args: argparse.Namespace, frame: pd.DataFrame, source: Path, work: Path) -> None:
    texts, gold = frame["text"].tolist(), frame["gold"].tolist()
    names = {int(k): v for k, v in AutoConfig.from_pretrained(args.model_dir).id2label.items()}
    peer = "transformers pipeline, batch 32"
    if args.peer_kept_memory:  # otherwise the peer runs first, with glibc's allocator as it comes
        peer += f" (heap kept: {keep_freed_memory()})"
    peer_labels, peer_s = run_pipeline(args.model_dir, texts, args.max_length)
    rows = [{"run": peer, "reviews_per_s": len(texts) / peer_s,
             "accuracy": accuracy(peer_labels, gold, names)}]
    labels = {}
    for precision in ("auto", "fp32"):
        predicted, seconds = run_nlptl(args.model_dir, source, work / f"{precision}.parquet", precision,
                                       args.max_length)
        labels[precision] = predicted
        dtype = Predictor(args.model_dir, precision=precision).dtype if precision == "auto" else torch.float32
        rows.append({"run": f"nlptl predict, {precision} ({str(dtype).replace('torch.', '')})",
                     "reviews_per_s": len(texts) / seconds, "accuracy": accuracy(predicted, gold, names),
                     "same_labels_as_pipeline_%": same(predicted, peer_labels)})
    for row in rows:
        row["ratio_vs_pipeline"] = row["reviews_per_s"] / rows[0]["reviews_per_s"]
    print_table(rows, ["run", "reviews_per_s", "ratio_vs_pipeline", "same_labels_as_pipeline_%", "accuracy"])
    print(f"auto vs fp32: {same(labels['auto'], labels['fp32']):.2f}% identical labels")
    peer_pad, sorted_pad = padding_shares(args.model_dir, texts, args.max_length, args.chunk_size)
    print(f"padding share of computed tokens: pipeline {100 * peer_pad:.1f}%, nlptl {100 * sorted_pad:.1f}%")


def predict_command(args: argparse.Namespace, source: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nlptl.cli", "predict", args.model_dir, str(source), "--output", str(out),
            "--prefix", "pred_", "--chunk-size", str(args.kill_chunk_size), "--max-length", str(args.max_length),
            "--precision", args.kill_precision, "--no-progress", *extra]


def kill_test(args: argparse.Namespace, rows: int, source: Path, work: Path) -> None:
    full, resumed = work / "uninterrupted.parquet", work / "resumed.parquet"
    done = subprocess.run(predict_command(args, source, full), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"uninterrupted run failed:\n{done.stderr[-2000:]}")
    chunks = math.ceil(rows / args.kill_chunk_size)
    target = math.ceil(chunks / 2)
    parts = WorkDir(resumed)
    process = subprocess.Popen(predict_command(args, source, resumed), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if parts.path.exists() and len(parts.finished()) >= target:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    finished = len(parts.finished()) if parts.path.exists() else 0
    print(f"killed with {finished} of {chunks} chunks ({100 * min(finished * args.kill_chunk_size, rows) / rows:.0f}% "
          f"of {rows} rows) finished; output exists after kill: {resumed.exists()}")
    again = subprocess.run(predict_command(args, source, resumed, "--resume"), capture_output=True, text=True)
    if again.returncode:
        raise SystemExit(f"resume failed:\n{again.stderr[-2000:]}")
    a, b = pq.read_table(full), pq.read_table(resumed)
    print(f"rows: uninterrupted {a.num_rows}, resumed {b.num_rows}; "
          f"order (ids) identical: {a.column('id').to_pylist() == b.column('id').to_pylist()}; "
          f"content identical: {a.equals(b)}; work dir left behind: {parts.path.exists()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", help="a sequence classifier fine-tuned on IMDb (save_pretrained dir)")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--chunk-size", type=int, default=4096, help="nlptl's sort window / chunk")
    parser.add_argument("--peer-kept-memory", action="store_true",
                        help="give the pipeline the heap setting nlptl's Predictor applies on CPU (nlptl.allocator)")
    parser.add_argument("--kill-test", action="store_true", help="run the kill-and-resume test instead")
    parser.add_argument("--kill-chunk-size", type=int, default=None, help="default: samples / 10")
    parser.add_argument("--kill-precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()
    frame = sample_reviews(args.samples, args.seed)
    args.kill_chunk_size = args.kill_chunk_size or max(1, len(frame) // 10)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "reviews.parquet"
        frame.to_parquet(source)
        print(f"{len(frame)} IMDb test reviews (seed {args.seed}), max length {args.max_length}, batch {BATCH}, "
              f"model {args.model_dir}, torch threads {torch.get_num_threads()}", flush=True)
        if args.kill_test:
            kill_test(args, len(frame), source, work)
        else:
            throughput(args, frame, source, work)


if __name__ == "__main__":
    main()
