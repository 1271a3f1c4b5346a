"""Few labels + unlabelled text: plain fine-tuning vs self-training vs UDA on IMDb (issue 16), and SetFit as the peer.

Each seed runs `recipes/imdb_fewshot_selftrain.py` (100 labels by default): its round-0 teacher *is* the plain
fine-tuning row (layer-wise LR, the best few-label recipe of docs/measured.md), so both rows see the same labels.
`--soft-labels` adds a student that learns the same teacher's probabilities instead of its classes.
`--uda` adds `recipes/imdb_fewshot_uda.py` on the same labels (consistency training on `unsup` reviews).
The SetFit row (`--setfit`, needs `pip install setfit`) trains SetFit on the same labelled reviews and the same
MiniLM checkpoint and scores the same test reviews. Mean ± std over seeds, wall time of each method, and the
ratio to plain fine-tuning.

    python bench/semi_supervised.py --seeds 3 --labels 100 --test-samples 2000 [--soft-labels] [--uda] [--setfit]
    python bench/semi_supervised.py --smoke        # tiny sizes: checks the script end to end

Runs go to --output-dir (default runs/semi_supervised/); a seed whose metrics.json exists is not run again, and
an interrupted one resumes (each round is a resumable run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED_DATA, mean_std_percent, minilm_path, print_machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def soft_row(args: argparse.Namespace, seed: int) -> dict:
    """The self-training student with soft labels (`semi.soft_labels`), taught by the hard run's teacher (its
    round 0), so the two students differ only in how they learn the same teacher's predictions."""
    import nlptl

    hard = Path(args.output_dir) / f"selftrain_n{args.labels}_seed{seed}"
    out = Path(args.output_dir) / f"selftrain_soft_n{args.labels}_seed{seed}"
    recipe = selftrain_recipe(args, seed, out)
    recipe.semi.soft_labels, recipe.semi.teacher = True, str(hard / "rounds" / "round-0")
    if not (out / "metrics.json").is_file():
        recipe.resume = "latest" if out.exists() else None
        nlptl.train(recipe)
    metrics = json.loads((out / "metrics.json").read_text())
    last = metrics["self_training"]["rounds"][-1]
    return {"self_training_soft": metrics["test"]["accuracy"], "soft_label_rows": last["soft_label_rows"],
            "self_training_soft_s": selftrain_seconds(out)}


def selftrain_recipe(args: argparse.Namespace, seed: int, out: Path):
    from nlptl.recipe import load_recipe_file

    recipe = load_recipe_file(ROOT / "recipes" / "imdb_fewshot_selftrain.py")
    recipe.model.name, recipe.seed, recipe.output_dir = minilm_path(), seed, str(out)
    recipe.mirrors = {"stanfordnlp/imdb": str(SHARED_DATA / "imdb")}
    recipe.data.max_train_samples, recipe.data.max_eval_samples = args.labels, args.test_samples
    recipe.semi.max_unlabelled, recipe.semi.top_k = args.unlabelled, args.top_k
    recipe.train.log_with = []
    if args.smoke:
        recipe.train.min_steps, recipe.data.max_length = 5, 64
    return recipe


def nlptl_row(args: argparse.Namespace, seed: int) -> dict:
    """Teacher (= plain fine-tuning) and student test accuracy of one seed, with their wall times."""
    import nlptl

    out = Path(args.output_dir) / f"selftrain_n{args.labels}_seed{seed}"
    recipe = selftrain_recipe(args, seed, out)
    started = time.perf_counter()
    if not (out / "metrics.json").is_file():
        recipe.resume = "latest" if out.exists() else None
        nlptl.train(recipe)
    metrics = json.loads((out / "metrics.json").read_text())
    report = metrics["self_training"]
    teacher_seconds = json.loads((out / "rounds" / "round-0" / "metrics.json").read_text())["train"]["train_runtime_s"]
    return {"seed": seed, "plain": report["teacher"]["test"]["accuracy"], "self_training": metrics["test"]["accuracy"],
            "pseudo_labelled": report["rounds"][-1]["pseudo_labelled"], "wall_s": time.perf_counter() - started,
            "plain_train_s": teacher_seconds, "self_training_s": selftrain_seconds(out)}


def uda_row(args: argparse.Namespace, seed: int) -> dict:
    """UDA's test accuracy and training seconds for one seed (same labelled rows and test sample)."""
    import nlptl
    from nlptl.overrides import apply_overrides
    from nlptl.recipe import load_recipe_file

    out = Path(args.output_dir) / f"uda{args.uda_tag}_n{args.labels}_seed{seed}"
    recipe = apply_overrides(load_recipe_file(ROOT / "recipes" / "imdb_fewshot_uda.py"), args.uda_overrides.split())
    recipe.model.name, recipe.seed, recipe.output_dir = minilm_path(), seed, str(out)
    recipe.mirrors = {"stanfordnlp/imdb": str(SHARED_DATA / "imdb")}
    recipe.data.max_train_samples, recipe.data.max_eval_samples = args.labels, args.test_samples
    recipe.semi.max_unlabelled, recipe.train.log_with = args.unlabelled, []
    if args.uda_steps:
        recipe.train.min_steps = args.uda_steps
    if args.uda_ratio:
        recipe.semi.uda_ratio = args.uda_ratio
    if args.smoke:
        recipe.train.min_steps, recipe.data.max_length = 5, 64
    if not (out / "metrics.json").is_file():
        recipe.resume = "latest" if out.exists() else None
        nlptl.train(recipe)
    metrics = json.loads((out / "metrics.json").read_text())
    preparation = metrics["train"].get("uda", {}).get("preparation_seconds", 0.0)  # augmenting and tokenizing
    return {"uda": metrics["test"]["accuracy"], "uda_s": metrics["train"]["train_runtime_s"] + preparation}


def selftrain_seconds(out: Path) -> float:
    """Training seconds of every round plus the seconds spent labelling the pool (as the run recorded them; a
    resumed round counts only its last part)."""
    final = json.loads((out / "metrics.json").read_text())
    rounds = final["self_training"]["rounds"]
    total = final["train"]["train_runtime_s"] + sum(r.get("labelling_seconds", 0) for r in rounds)
    for metrics in sorted((out / "rounds").glob("round-*/metrics.json")):
        total += json.loads(metrics.read_text())["train"]["train_runtime_s"]
    return total


def setfit_row(args: argparse.Namespace, seed: int) -> dict:
    """SetFit (Tunstall et al. 2022) on the same labelled reviews and test sample, same MiniLM checkpoint (kept in
    OUTPUT/setfit_n{labels}_seed{seed}.json, so a rerun of the bench reuses it)."""
    done = Path(args.output_dir) / f"setfit_n{args.labels}_seed{seed}.json"
    if done.is_file():
        return json.loads(done.read_text())
    import datasets
    from setfit import SetFitModel, Trainer, TrainingArguments

    from nlptl.data.splits import limit_samples
    from nlptl.recipe import DataConfig

    raw = datasets.load_dataset("parquet", data_files={s: str(SHARED_DATA / "imdb" / f"{s}.parquet")
                                                       for s in ("train", "test")})
    cfg = DataConfig(max_train_samples=args.labels, max_eval_samples=args.test_samples)
    splits = limit_samples(raw, cfg, seed)  # the same rows the nlptl runs draw (same seeded shuffle)
    started = time.perf_counter()
    model = SetFitModel.from_pretrained(minilm_path())
    training = TrainingArguments(batch_size=16, num_epochs=1, num_iterations=args.setfit_iterations, seed=seed,
                                 max_length=256, report_to="none", save_strategy="no",
                                 output_dir=str(Path(args.output_dir) / f"setfit_n{args.labels}_seed{seed}"))
    Trainer(model=model, args=training, train_dataset=splits["train"]).train()
    seconds = time.perf_counter() - started
    predicted = model.predict(splits["test"]["text"], batch_size=64)
    accuracy = sum(int(p) == g for p, g in zip(predicted, splits["test"]["label"], strict=True)) / len(predicted)
    row = {"seed": seed, "setfit": accuracy, "setfit_s": seconds, "setfit_iterations": args.setfit_iterations}
    done.write_text(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=42)
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--test-samples", type=int, default=2000, help="seeded test sample (0: all 25,000)")
    parser.add_argument("--unlabelled", type=int, default=4000, help="unsup reviews labelled per round")
    parser.add_argument("--top-k", type=int, default=1000, help="pseudo-labels per class at most")
    parser.add_argument("--soft-labels", action="store_true",
                        help="add self-training with soft labels (semi.soft_labels), taught by the same teacher")
    parser.add_argument("--uda", action="store_true", help="add the UDA row (recipes/imdb_fewshot_uda.py)")
    parser.add_argument("--uda-steps", type=int, default=None, help="UDA's optimizer steps (default: the recipe's)")
    parser.add_argument("--uda-ratio", type=int, default=None, help="UDA's unlabelled texts per labelled row")
    parser.add_argument("--uda-overrides", default="", help="recipe overrides for UDA, e.g. "
                        "'--semi.uda_confidence 0.8 --semi.uda_temperature 0.4'")
    parser.add_argument("--uda-tag", default="", help="suffix of the UDA runs' folder name (one per setting)")
    parser.add_argument("--setfit", action="store_true", help="add the SetFit row (pip install setfit)")
    parser.add_argument("--setfit-iterations", type=int, default=20, help="SetFit's pairs per example")
    parser.add_argument("--output-dir", default="runs/semi_supervised")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.seeds, args.labels, args.test_samples, args.unlabelled, args.top_k = 1, 16, 32, 64, 16
        args.setfit_iterations = 2
    args.test_samples = args.test_samples or None
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    print_machine()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        row = nlptl_row(args, seed)
        if args.soft_labels:
            row.update(soft_row(args, seed))
        if args.uda:
            row.update(uda_row(args, seed))
        if args.setfit:
            row.update(setfit_row(args, seed))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\nIMDb, {args.labels} labels, {len(rows)} seed(s), test sample {args.test_samples or 25000}:")
    print(f"  plain fine-tuning (layer-wise LR): {mean_std_percent([r['plain'] for r in rows])}%")
    print(f"  self-training ({args.unlabelled} unsup reviews, <= {args.top_k}/class): "
          f"{mean_std_percent([r['self_training'] for r in rows])}%  "
          f"({statistics.mean(r['pseudo_labelled'] for r in rows):.0f} pseudo-labels)")
    if args.soft_labels:
        print(f"  self-training, soft labels (the same teacher): "
              f"{mean_std_percent([r['self_training_soft'] for r in rows])}%  "
              f"({statistics.mean(r['soft_label_rows'] for r in rows):.0f} weighted rows)")
    if args.uda:
        print(f"  UDA ({args.unlabelled} unsup reviews{'; ' + args.uda_overrides if args.uda_overrides else ''}): "
              f"{mean_std_percent([r['uda'] for r in rows])}%")
    if args.setfit:
        print(f"  SetFit (same labels, same MiniLM): {mean_std_percent([r['setfit'] for r in rows])}%")
    plain_s = statistics.mean(r["plain_train_s"] for r in rows)
    self_s = statistics.mean(r["self_training_s"] for r in rows)
    setfit = f"; SetFit {statistics.mean(r['setfit_s'] for r in rows):.0f} s" if args.setfit else ""
    if args.uda:
        uda_s = statistics.mean(r["uda_s"] for r in rows)
        setfit = f"; UDA {uda_s:.0f} s ({uda_s / plain_s:.1f}x){setfit}"
    print(f"  training time: plain {plain_s:.0f} s; self-training {self_s:.0f} s ({self_s / plain_s:.1f}x: teacher, "
          f"pool labelling and student){setfit}")


if __name__ == "__main__":
    main()
