"""Multi-task learning vs one model per task at the same number of optimizer steps per task (issue 15).

SST-2 (2,000 training sentences, a seeded sample per seed) and CoNLL-2003 (2,000 training sentences) on MiniLM-L6:
- single: one model per task, S optimizer steps each;
- multi: one shared encoder with an SST-2 head and a CoNLL head, 2·S steps with uniform task sampling; both
  tasks have 2,000 rows, so each gets exactly S steps (recipes/sst2_conll_multitask.py's setup).
Scored on each task's test split (SST-2: the GLUE dev set, 872 sentences; CoNLL: the first --max-eval-samples of a
seeded shuffle of its test split), the best checkpoint chosen on validation (SST-2 accuracy, CoNLL entity F1; for the
multi-task model their mean). Also reported: the training time (the loop's own, evaluation included) and the serving
cost of labelling the same sentences with both tasks: two models (two encoder passes) vs the multi-task model (one
encoder pass, two heads), and the parameters and disk size of each way to serve both.

Hyper-parameters: lr 1e-4, batch 16, S = 250 (2 epochs of 2,000 rows), linear schedule, 10% warmup, weight decay
0.01, max length 64 (SST-2) / 128 (CoNLL), evaluation every 50 steps per task.

    python bench/multitask_effect.py                 # 3 seeds; cells with a metrics.json are not run again
    python bench/multitask_effect.py --seeds 1 --steps 40 --max-eval-samples 100   # a quick look

Writes --output-dir (default runs/multitask_effect/): the runs, summary.json and task_curves.png (validation
curves of each task against its own optimizer steps, mean over the seeds).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import torch
from common import SHARED_DATA, minilm_path, print_table

import nlptl
from nlptl import DataConfig, ModelConfig, MultitaskConfig, Recipe, TaskSpec, TrainConfig

CONLL_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
METRIC = {"sst2": "accuracy", "conll": "f1"}


def data(args: argparse.Namespace, task: str) -> DataConfig:
    common = {"max_train_samples": args.train_samples, "max_eval_samples": args.max_eval_samples}
    if task == "sst2":
        return DataConfig(source=str(SHARED_DATA / "sst2"), text_column="sentence",
                          label_names=["negative", "positive"], max_length=64, **common)
    return DataConfig(source=str(SHARED_DATA / "conll2003"), label_names=CONLL_TAGS, max_length=128, **common)


def recipe(args: argparse.Namespace, cell: str, seed: int) -> Recipe:
    """`cell`: sst2 or conll (single task) or multi (both on one encoder)."""
    steps = args.steps * (2 if cell == "multi" else 1)
    train = TrainConfig(max_steps=steps, batch_size=16, eval_batch_size=128, lr=1e-4, warmup_ratio=0.1,
                        weight_decay=0.01, eval_every=args.eval_every * (2 if cell == "multi" else 1),
                        log_with=[], keep_checkpoints=1, mixed_precision="no")
    out = str(args.output_dir / cell / f"seed{seed}")
    common = {"name": f"multitask_effect_{cell}", "model": ModelConfig(name=minilm_path()), "train": train,
              "seed": 42 + seed, "output_dir": out, "overwrite_output_dir": True}
    if cell == "multi":
        tasks = [TaskSpec(name="sst2", data=data(args, "sst2")),
                 TaskSpec(name="conll", task="token_classification", data=data(args, "conll"))]
        return Recipe(task="multitask", multitask=MultitaskConfig(tasks=tasks, sampling="uniform"), **common)
    kind = "token_classification" if cell == "conll" else "sequence_classification"
    return Recipe(task=kind, data=data(args, cell), **common)


def run_cell(args: argparse.Namespace, cell: str, seed: int) -> dict:
    folder = args.output_dir / cell / f"seed{seed}"
    if (folder / "metrics.json").exists():
        return json.loads((folder / "metrics.json").read_text())
    return nlptl.train(recipe(args, cell, seed))


def score(metrics: dict, cell: str, task: str, split: str = "test") -> float:
    key = METRIC[task] if cell != "multi" else f"{task}/{METRIC[task]}"
    return 100 * metrics[split][key]


def curves(args: argparse.Namespace, cell: str, seed: int, task: str) -> dict[int, float]:
    """Validation metric of `task` by the task's own optimizer steps (multi: uniform sampling, half the steps)."""
    history = [json.loads(line) for line in (args.output_dir / cell / f"seed{seed}" / "history.jsonl").open()]
    key = METRIC[task] if cell != "multi" else f"{task}/{METRIC[task]}"
    per_task = 2 if cell == "multi" else 1
    return {record["step"] // per_task: 100 * record["validation"][key] for record in history}


def plot(args: argparse.Namespace, seeds: list[int]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, task in zip(axes, ("sst2", "conll"), strict=True):
        for cell, style in ((task, "o--"), ("multi", "s-")):
            runs = [curves(args, cell, seed, task) for seed in seeds]
            steps = sorted(set.intersection(*(set(run) for run in runs)))
            axis.plot(steps, [statistics.mean(run[s] for run in runs) for s in steps], style,
                      label="multi-task (shared encoder)" if cell == "multi" else "single task")
        axis.set(title=f"{'SST-2 accuracy' if task == 'sst2' else 'CoNLL-2003 entity F1'} (validation)",
                 xlabel="optimizer steps on this task", ylabel="%")
        axis.legend()
    fig.suptitle(f"MiniLM-L6, {args.train_samples} training rows per task, mean of {len(seeds)} seed(s)")
    fig.tight_layout()
    path = args.output_dir / "task_curves.png"
    fig.savefig(path, dpi=120)
    return path


def serving_cost(args: argparse.Namespace, seed: int, sentences: int = 256, repeats: int = 3) -> dict:
    """Both tasks on the same SST-2 sentences: two single-task models vs one encoder pass and two heads."""
    import pandas as pd
    from transformers import AutoTokenizer

    from nlptl.multitask.model import find_head, load_head
    from nlptl.tasks import TASKS

    multi = args.output_dir / "multi" / f"seed{seed}"
    texts = list(pd.read_parquet(SHARED_DATA / "sst2" / "test.parquet")["sentence"][:sentences])
    tokenizer = AutoTokenizer.from_pretrained(multi)
    batches = [tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=64, return_tensors="pt")
               for i in range(0, len(texts), 64)]
    singles = [TASKS[kind].model_class.from_pretrained(args.output_dir / cell / f"seed{seed}").eval()
               for cell, kind in (("sst2", "sequence_classification"), ("conll", "token_classification"))]
    heads = {name: load_head(find_head(multi, name), TASKS[kind].model_class)
             for name, kind in (("sst2", "sequence_classification"), ("conll", "token_classification"))}
    encoder = heads["sst2"].bert

    def two_models() -> list:
        return [[model(**batch).logits for model in singles] for batch in batches]

    def one_encoder() -> list:
        outputs = []
        for batch in batches:
            hidden = encoder(**batch)  # the heads of BERT-family models read these two outputs
            outputs.append([heads["sst2"].classifier(hidden.pooler_output),
                            heads["conll"].classifier(hidden.last_hidden_state)])
        return outputs

    with torch.inference_mode():
        check = one_encoder()[0]  # the shortcut gives the heads' own logits
        assert torch.allclose(check[0], heads["sst2"](**batches[0]).logits, atol=1e-5)
        assert torch.allclose(check[1], heads["conll"](**batches[0]).logits, atol=1e-5)
        timings = {}
        for name, run in (("two_models", two_models), ("one_encoder_two_heads", one_encoder)) * repeats:
            started = time.perf_counter()
            run()
            timings.setdefault(name, []).append(time.perf_counter() - started)

    def disk(paths: list[Path]) -> float:
        return sum(p.stat().st_size for path in paths for p in path.rglob("*.safetensors") if "checkpoints" not in
                   p.parts) / 2 ** 20

    single_dirs = [args.output_dir / cell / f"seed{seed}" for cell in ("sst2", "conll")]
    return {"sentences": sentences,
            "two_models_s": statistics.median(timings["two_models"]),
            "one_encoder_s": statistics.median(timings["one_encoder_two_heads"]),
            "two_models_parameters": sum(p.numel() for model in singles for p in model.parameters()),
            "multi_parameters": sum(p.numel() for p in encoder.parameters())
            + sum(p.numel() for head in heads.values() for n, p in head.named_parameters()
                  if not n.startswith("bert.")),
            "two_models_mb": disk(single_dirs), "multi_mb": disk([multi])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=250, help="optimizer steps per task")
    parser.add_argument("--eval-every", type=int, default=50, help="evaluation every N steps per task")
    parser.add_argument("--train-samples", type=int, default=2000)
    parser.add_argument("--max-eval-samples", type=int, default=872)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/multitask_effect"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    seeds, results = [], []
    for seed in range(args.seeds):
        cells = {cell: run_cell(args, cell, seed) for cell in ("multi", "sst2", "conll")}
        seeds.append(seed)
        results.append({"seed": seed, **{f"{cell}_{task}": score(cells[cell], cell, task)
                                         for cell in ("multi", "sst2", "conll") for task in ("sst2", "conll")
                                         if cell in ("multi", task)},
                        **{f"{cell}_train_s": cells[cell]["train"]["train_runtime_s"] for cell in cells}})
        (args.output_dir / "summary.json").write_text(json.dumps({"seeds": results}, indent=2) + "\n")
    rows = []
    for task in ("sst2", "conll"):
        single = [r[f"{task}_{task}"] for r in results]
        multi = [r[f"multi_{task}"] for r in results]
        rows.append({"task": f"{task} test {METRIC[task]}", "single": statistics.mean(single),
                     "single_std": statistics.stdev(single) if len(single) > 1 else 0.0,
                     "multi": statistics.mean(multi), "multi_std": statistics.stdev(multi) if len(multi) > 1 else 0.0,
                     "multi_minus_single": statistics.mean(m - s for m, s in zip(multi, single, strict=True)),
                     "per_seed_single": " ".join(f"{v:.2f}" for v in single),
                     "per_seed_multi": " ".join(f"{v:.2f}" for v in multi)})
    print(f"\n{len(seeds)} seed(s), {args.train_samples} training rows per task, {args.steps} steps per task")
    print_table(rows, ["task", "single", "single_std", "multi", "multi_std", "multi_minus_single", "per_seed_single",
                       "per_seed_multi"])
    times = {cell: statistics.mean(r[f"{cell}_train_s"] for r in results) for cell in ("multi", "sst2", "conll")}
    print(f"training time (s, mean): multi {times['multi']:.0f}; single sst2 {times['sst2']:.0f} + conll "
          f"{times['conll']:.0f} = {times['sst2'] + times['conll']:.0f}")
    cost = serving_cost(args, seeds[0])
    print(f"serving both tasks on {cost['sentences']} sentences: two models {cost['two_models_s']:.2f} s, one encoder "
          f"+ two heads {cost['one_encoder_s']:.2f} s ({cost['two_models_s'] / cost['one_encoder_s']:.2f}x); "
          f"parameters {cost['two_models_parameters']:,} vs {cost['multi_parameters']:,}; "
          f"weights on disk {cost['two_models_mb']:.1f} MB vs {cost['multi_mb']:.1f} MB")
    summary = {"seeds": results, "table": rows, "train_time_s": times, "serving": cost,
               "plot": str(plot(args, seeds)), "settings": {k: str(v) for k, v in vars(args).items()}}
    (args.output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
