"""Distillation payoff: a student's prediction speed and accuracy against its teacher's, same settings, one run.

Both models label the same N IMDb test reviews (seeded sample of ../shared/data/imdb/test.parquet) with what
`nlptl predict` runs (`Predictor.columns`): the truncation each was trained with (read from its recipe.yaml),
batch 32, auto precision (bf16 where the CPU has it). Model loading is excluded from the timing; each model is
timed --repeats times, alternating, and the median is kept. Reported: reviews/s, student/teacher speed ratio,
accuracy on the sample, the student's accuracy as a share of the teacher's, and label agreement.

    python bench/distill_speed.py TEACHER_DIR STUDENT_DIR [--samples 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from common import SHARED_DATA, median, print_table

from nlptl.inference.predictor import Predictor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("teacher", help="fine-tuned teacher run folder")
    parser.add_argument("student", help="distilled student run folder")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reviews = pd.read_parquet(SHARED_DATA / "imdb" / "test.parquet", columns=["text", "label"])
    reviews = reviews.sample(n=min(args.samples, len(reviews)), random_state=args.seed)
    texts, gold = reviews["text"].tolist(), reviews["label"].tolist()
    models = {"teacher": Predictor(args.teacher), "student": Predictor(args.student)}
    print(f"{len(texts)} IMDb test reviews (seed {args.seed}); settings: "
          + "; ".join(f"{name}: {p.settings.max_length} tokens, {p.settings.truncation}, {p.dtype}, "
                      f"{p.model.config.num_hidden_layers} layers" for name, p in models.items()), flush=True)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    labels: dict[str, list[str]] = {}
    for predictor in models.values():
        predictor.columns(texts[:32])  # warm-up, not timed
    for _ in range(args.repeats):
        for name, predictor in models.items():
            start = time.perf_counter()
            labels[name] = predictor.columns(texts)["label"]
            seconds[name].append(time.perf_counter() - start)
    rows = []
    for name, predictor in models.items():
        names = [str(predictor.model.config.id2label[g]) for g in gold]
        hits = sum(a == b for a, b in zip(labels[name], names, strict=True))
        rows.append({"model": name, "layers": predictor.model.config.num_hidden_layers,
                     "reviews_per_s": len(texts) / median(seconds[name]), "accuracy": hits / len(texts)})
    rows[1]["speed_vs_teacher"] = rows[1]["reviews_per_s"] / rows[0]["reviews_per_s"]
    rows[1]["accuracy_share_of_teacher"] = rows[1]["accuracy"] / rows[0]["accuracy"]
    print_table(rows, ["model", "layers", "reviews_per_s", "accuracy", "speed_vs_teacher", "accuracy_share_of_teacher"])
    agree = sum(a == b for a, b in zip(labels["teacher"], labels["student"], strict=True)) / len(texts)
    print(f"student agrees with the teacher on {100 * agree:.1f}% of reviews")


if __name__ == "__main__":
    main()
