"""Prediction throughput: `nlptl predict` vs `transformers.pipeline`, same reviews, model and length, one run.

N IMDb test reviews (seeded random sample of ../shared/data/imdb/test.parquet), max length 512, batch 32, a
classifier fine-tuned on IMDb (MODEL_DIR, e.g. the output dir of recipes/imdb_sentiment.py).
Peers: `pipeline("text-classification", model=dir, batch_size=32, truncation=True)` over the list of texts, and
ONNX Runtime (the model exported to ONNX, all graph optimisations) fed the same length-sorted batches nlptl uses:
the strongest CPU setting of that peer. (optimum-onnx, the usual way to run ORT, pins transformers < 4.58 and
so cannot be installed beside transformers 5; the bench exports with torch.onnx and runs onnxruntime itself.)
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

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from common import SHARED_DATA, print_machine, print_table
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


def export_onnx(model_dir: str, path: Path) -> None:
    """The classifier as an ONNX graph with dynamic batch and length (TorchScript exporter, fp32), with ONNX
    Runtime's BERT fusions applied."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    example = AutoTokenizer.from_pretrained(model_dir)(["an example", "another example here"], padding=True,
                                                       return_tensors="pt")
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in example]
    axes = {name: {0: "batch", 1: "length"} for name in names} | {"logits": {0: "batch"}}
    raw = path.with_suffix(".raw.onnx")
    with torch.inference_mode():
        torch.onnx.export(model, tuple(example[k] for k in names), str(raw), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)
    # ONNX Runtime's transformer optimizer (what optimum's ORTOptimizer runs): fused attention, LayerNorm, GELU.
    from onnxruntime.transformers.optimizer import optimize_model

    config = model.config
    optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                   hidden_size=config.hidden_size).save_model_to_file(str(path))


def run_ort(model_dir: str, texts: list[str], max_length: int, chunk: int, onnx_path: Path) -> tuple[list[str], float]:
    """ONNX Runtime (all graph optimisations, this machine's threads) on the same length-sorted batches as nlptl:
    the strong CPU peer. Timed from tokenization to labels, like nlptl (file reading aside)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    id2label = AutoConfig.from_pretrained(model_dir).id2label

    def batch_inputs(rows: list[list[int]], types: list[list[int]] | None) -> dict:
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in wanted:
            feed["token_type_ids"] = np.zeros_like(ids)
        return {k: v for k, v in feed.items() if k in wanted}

    warm = tokenizer(texts[:BATCH], truncation=True, max_length=max_length)["input_ids"]
    session.run(None, batch_inputs(warm, None))  # warm-up, not timed
    start = time.perf_counter()
    labels: list[str] = [""] * len(texts)
    for first in range(0, len(texts), chunk):
        encoded = tokenizer(texts[first:first + chunk], truncation=True, max_length=max_length)["input_ids"]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        for b in range(0, len(order), BATCH):
            rows = order[b:b + BATCH]
            logits = session.run(["logits"], batch_inputs([encoded[i] for i in rows], None))[0]
            for i, best in zip(rows, logits.argmax(-1).tolist(), strict=True):
                labels[first + i] = id2label[best]
    return labels, time.perf_counter() - start


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
    rows = [{"run": peer, "precision": "fp32", "reviews_per_s": len(texts) / peer_s,
             "accuracy": accuracy(peer_labels, gold, names)}]
    labels = {}
    if not args.skip_ort:
        export_onnx(args.model_dir, work / "model.onnx")
        ort_labels, ort_s = run_ort(args.model_dir, texts, args.max_length, args.chunk_size, work / "model.onnx")
        labels["ort"] = ort_labels
        rows.append({"run": "ONNX Runtime (BERT fusions), sorted batches", "precision": "fp32",
                     "reviews_per_s": len(texts) / ort_s,
                     "accuracy": accuracy(ort_labels, gold, names),
                     "same_labels_as_pipeline_%": same(ort_labels, peer_labels)})
    for precision in ("auto", "fp32", "bf16"):
        predicted, seconds = run_nlptl(args.model_dir, source, work / f"{precision}.parquet", precision,
                                       args.max_length)
        labels[precision] = predicted
        choice = Predictor(args.model_dir, precision=precision).precision_choice
        rows.append({"run": f"nlptl predict, {precision}", "precision": choice.used,
                     "reviews_per_s": len(texts) / seconds, "accuracy": accuracy(predicted, gold, names),
                     "same_labels_as_pipeline_%": same(predicted, peer_labels)})
        if precision == "auto":
            print(f"auto: {choice.reason}", flush=True)
    for row in rows:
        row["ratio_vs_pipeline"] = row["reviews_per_s"] / rows[0]["reviews_per_s"]
        if "ort" in labels:
            row["ratio_vs_ort"] = row["reviews_per_s"] / rows[1]["reviews_per_s"]
    print_table(rows, ["run", "precision", "reviews_per_s", "ratio_vs_pipeline", "ratio_vs_ort",
                       "same_labels_as_pipeline_%", "accuracy"])
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
    parser.add_argument("--skip-ort", action="store_true", help="skip the ONNX Runtime peer (needs onnxruntime, onnx)")
    parser.add_argument("--kill-test", action="store_true", help="run the kill-and-resume test instead")
    parser.add_argument("--kill-chunk-size", type=int, default=None, help="default: samples / 10")
    parser.add_argument("--kill-precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()
    print_machine()
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
