"""Does augmentation help with little labelled data, and what does on-the-fly augmentation cost? (issue 4)

(a) SST-2, 500 training sentences (a seeded sample per seed), MiniLM, test = GLUE dev (872 sentences):
    no augmentation vs EDA synonym replacement only vs EDA's four operations (offline, 4 copies per sentence,
    alpha 0.1, as Wei & Zou 2019 suggest for ~500 examples). Mean ± std test accuracy over the seeds.
(b) CoNLL-2003, 1,000 training sentences (seeded sample), MiniLM, test = CoNLL test (3,453 sentences): no
    augmentation vs NER-safe augmentation (EDA on O words + same-type mention replacement, Dai & Adel 2020;
    offline, 2 copies). Mean ± std entity micro F1.
(c) --throughput: SST-2 4,000 sentences, max length 64, batch 32, 1 epoch: training samples/s (the trainer's own
    measure, evaluation excluded, epoch-start augmentation included) with on-the-fly augmentation (EDA four
    operations, copies 4, so 80% of rows are augmented each epoch) vs none, alternating; ratios printed.

Hyper-parameters (MiniLM-L6, 22M parameters): lr 1e-4, batch 16 (32 for throughput), 5 epochs, linear schedule with
10% warmup, weight decay 0.01, max length 64 (SST-2) / 128 (CoNLL). Augmented and plain runs train the same number
of epochs (as in the EDA paper), so augmented runs take more steps. There is no validation split: with 500 labelled
examples there is no large dev set to select on, so the final model is scored on the test split.

    python bench/augment_effect.py                      # (a) and (b), 3 seeds each
    python bench/augment_effect.py --only sst2 --seeds 5
    python bench/augment_effect.py --throughput [--throughput-samples 4000] [--repeats 3]
    python bench/augment_effect.py --smoke              # tiny sizes: checks that the script runs end to end

Runs go to --output-dir (default runs/augment_effect/); a cell with a metrics.json is not run again.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from pathlib import Path

import datasets
from common import SHARED_DATA, median, minilm_path, print_table

import nlptl
from nlptl import AugmentSettings, DataConfig, ModelConfig, Recipe, TrainConfig

CONLL_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
EDA_ALL = ["synonym", "swap", "delete", "insert"]
SST2_CONFIGS = {
    "none": AugmentSettings(),
    "eda_synonym": AugmentSettings(ops=["synonym"], copies=4),
    "eda_all": AugmentSettings(ops=EDA_ALL, copies=4),
}
CONLL_CONFIGS = {
    "none": AugmentSettings(),
    "ner_safe": AugmentSettings(ops=[*EDA_ALL, "mention"], copies=2),
}


def train_config(args: argparse.Namespace, batch_size: int = 16, epochs: float | None = None) -> TrainConfig:
    return TrainConfig(epochs=epochs or args.epochs, batch_size=batch_size, eval_batch_size=128, lr=1e-4,
                       warmup_ratio=0.1, weight_decay=0.01, log_with=[], keep_checkpoints=1)


def sst2_recipe(args: argparse.Namespace, train_samples: int, **train) -> Recipe:
    return Recipe(
        name="sst2_augment", model=ModelConfig(name=minilm_path()),
        data=DataConfig(source=str(SHARED_DATA / "sst2"), text_column="sentence",
                        label_names=["negative", "positive"], max_length=64, validation_split="none",
                        validation_size=0, max_train_samples=train_samples, max_eval_samples=args.max_eval_samples),
        train=train_config(args, **train),
    )


def conll_recipe(args: argparse.Namespace, train_samples: int) -> Recipe:
    return Recipe(
        name="conll_augment", task="token_classification", model=ModelConfig(name=minilm_path()),
        data=DataConfig(source=str(SHARED_DATA / "conll2003"), label_names=CONLL_TAGS, max_length=128,
                        validation_split="none", validation_size=0, max_train_samples=train_samples,
                        max_eval_samples=args.max_eval_samples),
        train=train_config(args),
    )


def run_cell(recipe: Recipe, augment: AugmentSettings, seed: int, output_dir: Path) -> dict:
    """One training run (or its saved metrics when it already finished)."""
    metrics_file = output_dir / "metrics.json"
    if metrics_file.exists():
        return json.loads(metrics_file.read_text())
    recipe.augment, recipe.seed = AugmentSettings(**vars(augment)), seed
    recipe.output_dir, recipe.overwrite_output_dir = str(output_dir), True
    return nlptl.train(recipe)


def effect(args: argparse.Namespace, part: str, make_recipe, configs: dict, metric: str, train_samples: int) -> None:
    """Every config × seed; prints mean ± std of the test metric per config."""
    rows = []
    for name, augment in configs.items():
        scores, examples = [], []
        for seed in range(args.seeds):
            metrics = run_cell(make_recipe(args, train_samples), augment, 42 + seed,
                               args.output_dir / part / name / f"seed{seed}")
            scores.append(metrics["test"][metric])
            examples.append(metrics["train"]["train_examples"])
        rows.append({"config": name, "ops": ",".join(augment.ops) or "-", "copies": augment.copies if augment.ops
                     else 0, "train_examples": median(examples), f"mean_{metric}": statistics.mean(scores),
                     "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                     "per_seed": " ".join(f"{s:.4f}" for s in scores)})
    print(f"\n{part}: {train_samples} training examples, {args.seeds} seeds, test {metric}")
    print_table(rows, ["config", "ops", "copies", "train_examples", f"mean_{metric}", "std", "per_seed"])
    (args.output_dir / part).mkdir(parents=True, exist_ok=True)
    (args.output_dir / part / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")


def throughput(args: argparse.Namespace) -> None:
    """Training samples/s over one epoch (the loop's own measure, evaluation excluded), alternating the two."""
    configs = {"none": AugmentSettings(), "on_the_fly": AugmentSettings(ops=EDA_ALL, copies=4, mode="on_the_fly")}
    speeds: dict[str, list[float]] = {name: [] for name in configs}
    for repeat in range(args.repeats):
        for name, augment in configs.items():
            recipe = sst2_recipe(args, args.throughput_samples, batch_size=32, epochs=1)
            recipe.data.max_eval_samples = 64  # the test split is not what is measured here
            recipe.augment = augment
            recipe.output_dir, recipe.overwrite_output_dir = str(args.output_dir / "throughput" / name), True
            nlptl.train(recipe)
            history = Path(recipe.output_dir) / "history.jsonl"
            speeds[name].append(json.loads(history.read_text().splitlines()[-1])["samples_per_second"])
            print(f"repeat {repeat} {name}: {speeds[name][-1]:.1f} samples/s")
    rows = [{"config": name, "median_samples_per_s": median(values), "best_samples_per_s": max(values)}
            for name, values in speeds.items()]
    print(f"\nthroughput, SST-2 {args.throughput_samples} sentences, len 64, batch 32, 1 epoch, {args.repeats} "
          "repeats (on a shared machine the best run is the least disturbed one):")
    print_table(rows, ["config", "median_samples_per_s", "best_samples_per_s"])
    median_ratio = rows[1]["median_samples_per_s"] / rows[0]["median_samples_per_s"]
    best_ratio = rows[1]["best_samples_per_s"] / rows[0]["best_samples_per_s"]
    print(f"ratio on_the_fly / none: median {median_ratio:.3f}, best {best_ratio:.3f} (target >= 0.90)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["sst2", "conll"], help="run one of (a)/(b)")
    parser.add_argument("--throughput", action="store_true", help="run (c) only")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=5.0)
    parser.add_argument("--sst2-train", type=int, default=500)
    parser.add_argument("--conll-train", type=int, default=1000)
    parser.add_argument("--max-eval-samples", type=int, default=None, help="cap the test split (default: all)")
    parser.add_argument("--throughput-samples", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/augment_effect"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script end to end")
    args = parser.parse_args()
    if args.smoke:
        args.seeds, args.epochs, args.sst2_train, args.conll_train = 2, 1.0, 48, 48
        args.max_eval_samples, args.throughput_samples = 64, 192
        args.output_dir = args.output_dir / "smoke"
    logging.basicConfig(level=logging.WARNING)
    datasets.disable_progress_bars()
    if args.throughput:
        throughput(args)
        return
    if args.only in (None, "sst2"):
        effect(args, "sst2", sst2_recipe, SST2_CONFIGS, "accuracy", args.sst2_train)
    if args.only in (None, "conll"):
        effect(args, "conll2003", conll_recipe, CONLL_CONFIGS, "f1", args.conll_train)


if __name__ == "__main__":
    main()
