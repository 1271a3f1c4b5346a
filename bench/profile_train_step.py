"""Where a training step's time goes: torch.profiler over nlptl's own optimizer steps (MiniLM, SST-2).

Builds the run exactly as `nlptl.train` does (recipe → data → Trainer), then profiles `Trainer.optimizer_step`
on real length-grouped batches after a warm-up, in the precision asked for. Prints self-CPU time by kind of
work (matmuls, attention, LayerNorm, GELU, dropout, optimizer, embeddings, dtype casts, the rest) and the top
operators, so each speed-up candidate can be sized before it is built.

    python bench/profile_train_step.py [--precision no|bf16] [--steps 20] [--samples 2000] [--top 25]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict

import torch
from common import SHARED_DATA, minilm_path
from torch.profiler import ProfilerActivity, profile

import nlptl
from nlptl.data.pipeline import build_datasets
from nlptl.models import load_tokenizer
from nlptl.precision import PrecisionChoice
from nlptl.run import make_accelerator
from nlptl.tasks import get_task
from nlptl.training.strategies import build_strategy
from nlptl.training.trainer import Trainer

KINDS = (  # first match wins
    ("optimizer", ("adam", "_foreach", "lerp", "addcdiv", "sqrt")),
    ("embeddings", ("embedding",)),
    ("matmul", ("addmm", "aten::mm", "bmm", "matmul", "linear")),
    ("attention", ("scaled_dot_product", "softmax", "_flash_attention", "attention")),
    ("layernorm", ("layer_norm",)),
    ("gelu", ("gelu",)),
    ("dropout", ("dropout", "bernoulli")),
    ("casts/copies", ("aten::to", "_to_copy", "copy_", "clone", "contiguous")),
)


def kind_of(name: str) -> str:
    lowered = name.lower()
    return next((kind for kind, keys in KINDS if any(key in lowered for key in keys)), "other")


def build_trainer(precision: str, samples: int, out: str) -> Trainer:
    recipe = nlptl.Recipe(
        name="profile_sst2", output_dir=out, model=nlptl.ModelConfig(name=minilm_path()),
        data=nlptl.DataConfig(source=str(SHARED_DATA / "sst2"), text_column="sentence", max_length=64,
                              max_train_samples=samples, max_eval_samples=64),
        train=nlptl.TrainConfig(epochs=1, batch_size=32, lr=1e-4, warmup_ratio=0.06, weight_decay=0.01,
                                mixed_precision=precision, log_with=[]))
    strategy = build_strategy(recipe)
    accelerator = make_accelerator(recipe, PrecisionChoice(precision, precision, "set by the bench"), strategy)
    task = get_task(recipe.task)
    tokenizer = load_tokenizer(recipe.model, recipe.mirrors)
    splits = build_datasets(recipe, task, tokenizer, accelerator.main_process_first)
    return Trainer(recipe, task, tokenizer, splits, accelerator, strategy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--precision", default="no", choices=["no", "bf16"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        trainer = build_trainer(args.precision, args.samples, out)
        trainer.train_batches.set_epoch(0)
        batches = iter(trainer.train_loader)
        trainer.model.train()
        for _ in range(args.warmup):
            trainer.optimizer_step([next(batches)])
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                trainer.optimizer_step([next(batches)])
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    by_kind: dict[str, float] = defaultdict(float)
    for event in events:
        by_kind[kind_of(event.key)] += event.self_cpu_time_total
    print(f"{args.steps} steps of 32 SST-2 rows, {args.precision}: {total / 1e3 / args.steps:.1f} ms/step (self CPU)")
    for kind, micros in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:14s} {micros / total:6.1%}  {micros / 1e3 / args.steps:7.1f} ms/step")
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.top))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
