"""Does a pushed model load back in plain transformers and predict what nlptl predicted before the push? (issue 5)

`nlptl push RUN_DIR REPO --to-dir DIR` writes exactly what an upload sends; this loads DIR with
`AutoModelForSequenceClassification.from_pretrained` / `AutoTokenizer.from_pretrained` (no nlptl code), labels N
IMDb test reviews with a plain fp32 loop (the recipe's max length, head truncation), and compares with
`nlptl.Predictor(RUN_DIR, precision="fp32", truncation="head")` on the same reviews.

    python bench/push_reload.py RUN_DIR [--samples 500]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
from common import SHARED_DATA
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from nlptl.inference.predictor import Predictor


def plain_transformers_labels(folder: Path, texts: list[str], max_length: int) -> list[str]:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    labels = []
    with torch.inference_mode():
        for start in range(0, len(texts), 16):
            batch = tokenizer(texts[start:start + 16], truncation=True, max_length=max_length, padding=True,
                              return_tensors="pt")
            labels += [model.config.id2label[i] for i in model(**batch).logits.argmax(-1).tolist()]
    return labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    texts = pd.read_parquet(SHARED_DATA / "imdb" / "test.parquet").sample(n=args.samples, random_state=0)
    texts = texts["text"].tolist()
    predictor = Predictor(args.run_dir, precision="fp32", truncation="head")
    before = predictor.columns(texts)["label"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pushed"
        subprocess.run([sys.executable, "-m", "nlptl.cli", "push", args.run_dir, "someone/imdb-minilm",
                        "--to-dir", str(folder)], check=True)
        print("pushed files:", ", ".join(sorted(p.name for p in folder.iterdir())))
        after = plain_transformers_labels(folder, texts, predictor.settings.max_length)
    same = sum(a == b for a, b in zip(before, after, strict=True))
    print(f"{args.samples} IMDb test reviews, max length {predictor.settings.max_length}, head truncation, fp32: "
          f"{same}/{len(texts)} identical labels ({100 * same / len(texts):.2f}%) between nlptl predict on the run "
          "folder and plain transformers on the pushed folder")


if __name__ == "__main__":
    main()
