"""`nlptl tune` vs the recipe defaults vs `transformers.Trainer.hyperparameter_search` (Optuna backend), issue 17.

SST-2 with N labelled sentences (seeded sample of the train split), validation rows for scoring trials (the same
rows for both searches), the GLUE dev set (872) as test; MiniLM-L6, max length 64, 3 epochs, one evaluation per
epoch, the same space, the same number of trials, TPE seeded, median pruner. Reported per arm: best validation
accuracy, the test accuracy of the best trial's model (its best epoch, as both trainers load it), wall time.

    python bench/tune_sst2.py                                   # 2,000 labels, 12 trials (the issue's setting)
    python bench/tune_sst2.py --labels 500 --trials 4 --validation 500 --arms tuned,defaults,trainer
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, minilm_path, print_table  # noqa: E402

LR, BATCH, WARMUP, DECAY = (1e-5, 3e-4), (16, 32), (0.0, 0.2), (0.0, 0.01, 0.1)
SPACE = (f"train.lr=loguniform({LR[0]},{LR[1]});train.batch_size=choice({BATCH[0]},{BATCH[1]});"
         f"train.warmup_ratio=uniform({WARMUP[0]},{WARMUP[1]});train.weight_decay=choice({','.join(map(str, DECAY))})")


def bench_data(out: Path, labels: int, validation: int, seed: int) -> Path:
    """train/validation/test parquet files that both searches read."""
    folder = out / "data"
    folder.mkdir(parents=True, exist_ok=True)
    source = SHARED_DATA / "sst2"
    for split, rows in (("train", labels), ("validation", validation), ("test", None)):
        frame = pd.read_parquet(source / f"{split}.parquet")
        frame = frame.sample(rows, random_state=seed) if rows else frame
        frame.to_parquet(folder / f"{split}.parquet", index=False)  # the same columns in every split
    return folder


PRECISION = {"fp32": "no", "bf16": "bf16"}  # --precision -> recipe's train.mixed_precision (Trainer: bf16=True)


def base_recipe(data: Path, out: Path, epochs: float, seed: int, precision: str = "fp32"):
    from nlptl.recipe import load_recipe_file

    recipe = load_recipe_file(Path(__file__).resolve().parents[1] / "recipes" / "sst2_sentiment.py")
    recipe.model.name, recipe.data.source, recipe.seed = minilm_path(), str(data), seed
    recipe.train.epochs, recipe.train.mixed_precision, recipe.train.log_with = epochs, PRECISION[precision], []
    recipe.output_dir, recipe.overwrite_output_dir = str(out), True
    return recipe


def run_defaults(data: Path, out: Path, epochs: float, seed: int, precision: str) -> dict:
    import nlptl

    started = time.perf_counter()
    metrics = nlptl.train(base_recipe(data, out / "defaults", epochs, seed, precision))
    return {"arm": "nlptl recipe defaults", "trials": 1, "best_validation": metrics["validation"]["accuracy"],
            "test": metrics["test"]["accuracy"], "wall_s": time.perf_counter() - started}


def run_tuned(data: Path, out: Path, epochs: float, seed: int, trials: int, precision: str) -> dict:
    from nlptl.tune import tune

    started = time.perf_counter()
    recipe = base_recipe(data, out / "unused", epochs, seed, precision)
    summary = tune(recipe, trials, [SPACE], output_dir=out / "tuned", seed=seed, ensemble_top=3 if trials >= 3 else 0)
    wall = time.perf_counter() - started
    best = json.loads((out / "tuned" / "best_model" / "metrics.json").read_text())
    row = {"arm": "nlptl tune", "trials": trials, "best_validation": summary["best_value"],
           "test": best["test"]["accuracy"], "wall_s": wall, "best_params": summary["best_params"]}
    if (out / "tuned" / "ensemble").is_dir():
        row["ensemble_top3_test"] = ensemble_test_accuracy(out / "tuned" / "ensemble", data)
    return row


def ensemble_test_accuracy(folder: Path, data: Path) -> float:
    import nlptl

    test = pd.read_parquet(data / "test.parquet")
    predicted = nlptl.Predictor(folder, precision="fp32").predict(test["sentence"].tolist())
    names = ["negative", "positive"]
    return sum(p["label"] == names[y] for p, y in zip(predicted, test["label"], strict=True)) / len(test)


def run_trainer_search(data: Path, out: Path, epochs: float, seed: int, trials: int, model: str,
                       precision: str) -> dict:
    """The same space, trials, sampler and pruner through `Trainer.hyperparameter_search(backend="optuna")`."""
    import numpy as np
    import optuna
    from datasets import load_dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(model)
    splits = load_dataset("parquet", data_files={s: str(data / f"{s}.parquet") for s in ("train", "validation",
                                                                                        "test")})
    splits = splits.map(lambda rows: tokenizer(rows["sentence"], truncation=True, max_length=64), batched=True)
    splits = splits.rename_column("label", "labels").remove_columns(["sentence"])
    labels = {0: "negative", 1: "positive"}
    results: dict[int, dict] = {}

    def model_init(trial=None):
        return AutoModelForSequenceClassification.from_pretrained(model, num_labels=2, id2label=labels,
                                                                  label2id={v: k for k, v in labels.items()})

    def accuracy(prediction) -> dict:
        return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}

    class TestAtEnd(TrainerCallback):
        """After each trial (the best epoch's weights loaded back): test accuracy, kept by trial number."""

        def on_train_end(self, args, state, control, **kwargs):
            trial = trainer._trial
            if trial is not None and state.best_metric is not None and state.global_step >= state.max_steps:
                test = trainer.predict(splits["test"]).metrics["test_accuracy"]
                results[trial.number] = {"best_validation": state.best_metric, "test": test}

    def hp_space(trial):
        return {"learning_rate": trial.suggest_float("learning_rate", *LR, log=True),
                "per_device_train_batch_size": trial.suggest_categorical("per_device_train_batch_size", BATCH),
                # transformers 5 has no warmup_ratio: a float warmup_steps below 1 is the ratio of all steps
                "warmup_steps": trial.suggest_float("warmup_ratio", *WARMUP),
                "weight_decay": trial.suggest_categorical("weight_decay", DECAY)}

    args = TrainingArguments(output_dir=str(out / "trainer"), num_train_epochs=epochs, eval_strategy="epoch",
                             save_strategy="epoch", save_total_limit=1, load_best_model_at_end=True,
                             metric_for_best_model="accuracy", per_device_eval_batch_size=128, seed=seed,
                             report_to=[], disable_tqdm=True, use_cpu=True, lr_scheduler_type="linear",
                             bf16=precision == "bf16")
    trainer = Trainer(args=args, model_init=model_init, train_dataset=splits["train"],
                      eval_dataset=splits["validation"], data_collator=DataCollatorWithPadding(tokenizer),
                      compute_metrics=accuracy, callbacks=[TestAtEnd()])
    started = time.perf_counter()
    best = trainer.hyperparameter_search(hp_space=hp_space, compute_objective=lambda m: m["eval_accuracy"],
                                         n_trials=trials, direction="maximize", backend="optuna",
                                         sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
                                         pruner=optuna.pruners.MedianPruner(n_startup_trials=2))
    wall = time.perf_counter() - started
    # Ranked by the best epoch's validation accuracy (the search itself ranks by the last epoch's: `best`).
    top = max(results.values(), key=lambda r: r["best_validation"]) if results else {}
    return {"arm": "Trainer.hyperparameter_search", "trials": trials, "best_validation": top.get("best_validation"),
            "test": top.get("test"), "wall_s": wall, "best_params": best.hyperparameters}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, default=2000)
    parser.add_argument("--validation", type=int, default=1000, help="validation rows that score the trials")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--precision", choices=sorted(PRECISION), default="fp32",
                        help="every arm runs at this precision (bf16 where the CPU has a fast kernel)")
    parser.add_argument("--arms", default="defaults,tuned,trainer")
    parser.add_argument("--out", default="runs/bench_tune_sst2")
    args = parser.parse_args()
    out = Path(args.out)
    data = bench_data(out, args.labels, args.validation, args.seed)
    saved = out / "results.json"  # rows of arms run earlier are kept: an arm can be rerun alone
    earlier = json.loads(saved.read_text()) if saved.is_file() else []
    rows = []
    for arm in args.arms.split(","):
        if arm == "defaults":
            rows.append(run_defaults(data, out, args.epochs, args.seed, args.precision))
        elif arm == "tuned":
            rows.append(run_tuned(data, out, args.epochs, args.seed, args.trials, args.precision))
        elif arm == "trainer":
            rows.append(run_trainer_search(data, out, args.epochs, args.seed, args.trials, minilm_path(),
                                              args.precision))
        print(json.dumps(rows[-1], default=str), flush=True)
    rows = [row for row in earlier if row["arm"] not in {r["arm"] for r in rows}] + rows
    print(f"\nSST-2, {args.labels} labels, {args.validation} validation rows, test = GLUE dev (872), "
          f"{args.epochs:g} epochs, {args.trials} trials, {args.precision}")
    print_table(rows, ["arm", "trials", "best_validation", "test", "ensemble_top3_test", "wall_s"])
    saved.write_text(json.dumps(rows, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
