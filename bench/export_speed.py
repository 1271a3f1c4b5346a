"""Deployment formats side by side: PyTorch fp32 / auto, ONNX fp32, ONNX int8 (ORT dynamic), torch int8
(`--precision int8`: torch.ao dynamic, per channel); same reviews, same model, same batches (nlptl's Predictor:
length-sorted, padded per batch).

MODEL_DIR is a classifier fine-tuned on IMDb (e.g. the output dir of recipes/imdb_sentiment.py). The ONNX folders
are written with `nlptl.export.export_onnx` into --work (reused when already there). N IMDb test reviews (seeded
random sample of ../shared/data/imdb/test.parquet), cut as the model was trained (its recipe.yaml). Model loading
and export are excluded from the timings; each variant first predicts 64 reviews to warm up. Reported: reviews/s,
ratio to PyTorch fp32, % labels identical to PyTorch fp32, accuracy against the gold labels.

    python bench/export_speed.py MODEL_DIR [--samples 2000] [--seed 0] [--batch-size 32] [--work DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import SHARED_DATA, print_machine, print_table

from nlptl.export.onnx import export_onnx
from nlptl.inference.predictor import Predictor


def reviews(samples: int, seed: int) -> tuple[list[str], list[int]]:
    frame = pd.read_parquet(SHARED_DATA / "imdb" / "test.parquet").sample(n=samples, random_state=seed)
    return frame["text"].tolist(), frame["label"].tolist()


def timed(predictor: Predictor, texts: list[str]) -> tuple[list[str], float]:
    predictor.predict(texts[:64])
    started = time.perf_counter()
    labels = [row["label"] for row in predictor.predict(texts)]
    return labels, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--work", help="folder for the ONNX exports (default: a temporary one)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds over all variants; medians")
    args = parser.parse_args()
    print_machine()
    work = Path(args.work or tempfile.mkdtemp(prefix="nlptl-export-bench-"))
    exports = {}
    for name, quantize in (("onnx_fp32", None), ("onnx_int8", "int8")):
        exports[name] = work / name
        if not (exports[name] / "model.onnx").is_file():
            summary = export_onnx(args.model_dir, exports[name], quantize=quantize, parity_samples=0, overwrite=True)
            print(f"{name}: exported in {summary.seconds:.0f} s, {summary.megabytes:.1f} MB")
    texts, gold = reviews(args.samples, args.seed)
    variants = {
        "torch fp32": lambda: Predictor(args.model_dir, precision="fp32", batch_size=args.batch_size, device="cpu"),
        "torch auto": lambda: Predictor(args.model_dir, precision="auto", batch_size=args.batch_size, device="cpu"),
        "onnx fp32": lambda: Predictor(exports["onnx_fp32"], backend="onnx", batch_size=args.batch_size),
        "onnx int8": lambda: Predictor(exports["onnx_int8"], backend="onnx", batch_size=args.batch_size),
        "torch int8": lambda: Predictor(args.model_dir, precision="int8", batch_size=args.batch_size, device="cpu"),
    }
    predictors = {name: make() for name, make in variants.items()}
    labels, seconds = {}, {name: [] for name in variants}
    for round_ in range(args.repeats):
        for name, predictor in predictors.items():
            labels[name], took = timed(predictor, texts)
            seconds[name].append(took)
            print(f"round {round_ + 1}, {name}: {len(texts) / took:.1f} reviews/s", flush=True)
    reference, names = labels["torch fp32"], predictors["torch fp32"].labels
    rows = [{"variant": name, "precision": predictor.precision_choice.used if predictor.backend == "torch"
             else name.removeprefix("onnx "),
             "reviews/s": len(texts) / statistics.median(seconds[name]),
             "x fp32": statistics.median(seconds["torch fp32"]) / statistics.median(seconds[name]),
             "identical %": 100 * sum(a == b for a, b in zip(labels[name], reference, strict=True)) / len(texts),
             "accuracy %": 100 * sum(label == names[g] for label, g in zip(labels[name], gold, strict=True))
             / len(texts)} for name, predictor in predictors.items()]
    fp32 = next(row for row in rows if row["variant"] == "torch fp32")
    for row in rows:  # accuracy change in points (3 decimals: the goal is a loss of at most 1.0)
        row["points vs fp32"] = row["accuracy %"] - fp32["accuracy %"]
    print(f"\n{len(texts)} IMDb test reviews, batch {args.batch_size}, model {args.model_dir}, "
          f"medians of {args.repeats} interleaved round(s)")
    print_table(rows, ["variant", "precision", "reviews/s", "x fp32", "identical %", "accuracy %", "points vs fp32"])


if __name__ == "__main__":
    main()
