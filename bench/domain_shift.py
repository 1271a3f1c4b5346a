"""Labelled SST-2 sentences, scored on IMDb reviews (issue 16): source-only vs DANN vs importance weighting, and the
upper bound of training on IMDb labels, side by side with the same model and settings.

Every arm is `recipes/sst2_to_imdb_dann.py` with the same model (MiniLM), labelled rows (N SST-2 train sentences,
seeded), learning rate (1e-4, MiniLM's) and steps (1 epoch); the arms differ only in `domain.method` (none, dann,
importance_weighting; target texts: M seeded IMDb train reviews, labels never read). The upper bound trains on N
labelled IMDb train reviews instead. Each arm is scored with `nlptl evaluate` on the same seeded IMDb test sample.
Reported per arm: IMDb test accuracy (mean ± std over seeds), the run's own validation accuracy, the domain classifier's
figures (DANN: its accuracy at the last evaluation, near 0.5 = domains no longer told apart; importance weighting:
its held-out accuracy and the weights' effective sample size) and training seconds relative to source-only.

    python bench/domain_shift.py --seeds 1 --source 2000 --target 2000 --test-samples 2000
    python bench/domain_shift.py --smoke

Runs go to --output-dir (default runs/domain_shift/); an arm whose evaluation exists is not run again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, mean_std_percent, minilm_path, print_machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("source_only", "dann", "importance_weighting", "imdb_labels")


def arm_recipe(arm: str, args: argparse.Namespace, seed: int, out: Path):
    from nlptl.recipe import DomainConfig, load_recipe_file

    recipe = load_recipe_file(ROOT / "recipes" / "sst2_to_imdb_dann.py")
    recipe.model.name, recipe.seed, recipe.output_dir = minilm_path(), seed, str(out)
    recipe.mirrors = {"stanfordnlp/sst2": str(SHARED_DATA / "sst2"), "stanfordnlp/imdb": str(SHARED_DATA / "imdb")}
    recipe.data.max_train_samples, recipe.data.max_eval_samples = args.source, args.eval_samples
    recipe.train = dataclasses.replace(recipe.train, lr=args.lr, log_with=[])
    recipe.domain.max_target = args.target
    if args.lambda_max is not None:
        recipe.domain.lambda_max = args.lambda_max
    if arm == "source_only":
        recipe.domain = DomainConfig()
    elif arm == "importance_weighting":
        recipe.domain.method = "importance_weighting"
    elif arm == "imdb_labels":
        recipe.domain = DomainConfig()
        recipe.data = dataclasses.replace(recipe.data, source="stanfordnlp/imdb", text_column="text",
                                          label_names=["neg", "pos"])
    if args.smoke:
        recipe.train.max_steps, recipe.data.max_length = 4, 64
    return recipe


def run_arm(arm: str, args: argparse.Namespace, seed: int) -> dict:
    import nlptl

    out = Path(args.output_dir) / f"{arm}{args.tag}_seed{seed}"
    scored = out / "imdb_test"
    if not (scored / "metrics.json").is_file():
        if not (out / "metrics.json").is_file():
            recipe = arm_recipe(arm, args, seed, out)
            recipe.resume = "latest" if out.exists() else None
            nlptl.train(recipe)
        nlptl.evaluate(out, str(SHARED_DATA / "imdb"), split="test", text_column="text", label_column="label",
                       max_samples=args.test_samples, seed=0, output_dir=scored, overwrite=True, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    row = {"arm": arm, "seed": seed, "imdb_test": json.loads((scored / "metrics.json").read_text())["test"]["accuracy"],
           "source_validation": metrics.get("validation", {}).get("accuracy"),
           "train_s": metrics["train"]["train_runtime_s"]}
    if arm == "dann":
        history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
        row["domain_accuracy"] = history[-1].get("domain_accuracy")
    if arm == "importance_weighting":
        report = metrics["importance_weighting"]
        row["domain_accuracy"] = report["domain_classifier_accuracy"]
        row["effective_sample_size"] = report.get("effective_sample_size")
        row["train_s"] += report.get("seconds", 0)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=42)
    parser.add_argument("--source", type=int, default=2000, help="labelled SST-2 sentences (and IMDb reviews)")
    parser.add_argument("--target", type=int, default=2000, help="unlabelled IMDb train reviews")
    parser.add_argument("--test-samples", type=int, default=2000, help="seeded IMDb test sample")
    parser.add_argument("--eval-samples", type=int, default=872, help="source validation/test rows")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--lambda-max", type=float, default=None, help="DANN's domain.lambda_max (default: recipe's)")
    parser.add_argument("--tag", default="", help="suffix of the runs' folder names (one per setting)")
    parser.add_argument("--output-dir", default="runs/domain_shift")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.seeds, args.source, args.target, args.test_samples, args.eval_samples = 1, 32, 32, 32, 32
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    print_machine()
    arms = [arm for arm in args.arms.split(",") if arm]
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for arm in arms:
            rows.append(run_arm(arm, args, seed))
            print(json.dumps(rows[-1]), flush=True)
    base = statistics.mean(r["train_s"] for r in rows if r["arm"] == arms[0])
    print(f"\nSST-2 ({args.source} labelled sentences) -> IMDb ({args.target} unlabelled reviews), MiniLM, "
          f"{args.seeds} seed(s), IMDb test sample {args.test_samples}:")
    print(f"{'arm':<22}{'IMDb test %':<14}{'own val %':<14}{'domain clf acc':<16}{'train s':<10}vs {arms[0]}")
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm]
        source = [r["source_validation"] for r in mine if r["source_validation"] is not None]
        domain = [r["domain_accuracy"] for r in mine if r.get("domain_accuracy") is not None]
        seconds = statistics.mean(r["train_s"] for r in mine)
        own = mean_std_percent(source) if source else "-"
        print(f"{arm:<22}{mean_std_percent([r['imdb_test'] for r in mine]):<14}{own:<14}"
              f"{f'{statistics.mean(domain):.3f}' if domain else '-':<16}{seconds:<10.0f}{seconds / base:.2f}x")


if __name__ == "__main__":
    main()
