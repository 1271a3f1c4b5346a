"""Synthetic multi-label and regression data for the tiny BERT: words decide the labels and the value."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
from conftest import FILLER, NEGATIVE, POSITIVE


def sentence(rng: random.Random, positive: int, negative: int) -> str:
    words = rng.choices(FILLER, k=rng.randint(3, 12))
    for word in rng.choices(POSITIVE, k=positive) + rng.choices(NEGATIVE, k=negative):
        words.insert(rng.randint(0, len(words)), word)
    return " ".join(words)


def multi_label_rows(n: int, seed: int) -> pd.DataFrame:
    """`labels`: the list of kinds of sentiment word the text has (pos, neg, both or none)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        positive, negative = rng.randint(0, 1), rng.randint(0, 1)
        rows.append({"text": sentence(rng, positive, negative),
                     "labels": [name for name, has in (("neg", negative), ("pos", positive)) if has]})
    return pd.DataFrame(rows)


def regression_rows(n: int, seed: int) -> pd.DataFrame:
    """`score`: 5 + 2 x (positive words - negative words), 0 to 3 of each."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        positive, negative = rng.randint(0, 3), rng.randint(0, 3)
        rows.append({"text": sentence(rng, positive, negative), "score": 5.0 + 2.0 * (positive - negative),
                     "positives": float(positive)})
    return pd.DataFrame(rows)


def write_splits(folder: Path, make) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", 320, 1), ("validation", 64, 2), ("test", 80, 3)):
        make(n, seed).to_parquet(folder / f"{split}.parquet")
    return folder
