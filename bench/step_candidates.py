"""Speed-up candidates for a training step, each timed alone against the same eager step (MiniLM, bf16 autocast).

A step = forward + backward + clipping + fused AdamW on 32 random rows of 12-18 tokens (SST-2's real lengths),
the last layer computing only the first token (as nlptl trains). The reference ("plain step") is that step with
nn.Dropout and a dense word-embedding update, as before nlptl's CPU speed-ups; the rows are nlptl's two
(`training/sparse_rows.py`: sparse word-embedding rows; `training/cpu_dropout.py`: PCG64 dropout masks), alone
and together (as nlptl trains on CPU), plus sizing candidates that are not nlptl code paths: frozen word
embeddings, pure bf16 weights (no autocast casts; without fp32 master weights, so for timing only) and
torch.compile (dynamic shapes; its compile time is printed). Steps of all rows interleave, one by one, so a
drifting machine slows them alike; medians over the repeats.

    python bench/step_candidates.py [--repeats 20] [--compile]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from accelerate import Accelerator
from common import minilm_path, print_machine
from transformers import AutoModelForSequenceClassification

from nlptl.first_token import last_layer_first_token_only
from nlptl.recipe import TrainConfig
from nlptl.training.clipping import clip_gradients
from nlptl.training.cpu_dropout import use_fast_dropout
from nlptl.training.optim import build_optimizer, param_groups

REFERENCE = "plain step (nn.Dropout, dense)"


def make_step(base, labels, *, sparse_rows=False, fast_dropout=False, freeze_embeddings=False, pure_bf16=False,
              compiled=False):
    model = copy.deepcopy(base)
    if fast_dropout:
        use_fast_dropout(model)
    if freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if pure_bf16:
        model = model.to(torch.bfloat16)
    cfg = TrainConfig(lr=1e-5, weight_decay=0.01)
    optimizer = build_optimizer(param_groups(model, cfg), cfg,
                                sparse_rows=model.get_input_embeddings() if sparse_rows else None)
    forward = torch.compile(model, dynamic=True) if compiled else model
    accelerator = Accelerator(cpu=True)

    def step(length: int) -> None:
        ids = torch.randint(1000, 20000, (32, length))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not pure_bf16):
            logits = forward(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        torch.nn.functional.cross_entropy(logits.float(), labels).backward()
        clip_gradients(accelerator, model, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="add torch.compile (slow to compile on 2 cores)")
    args = parser.parse_args()
    print_machine()
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=2).train()
    last_layer_first_token_only(base)
    labels = torch.randint(0, 2, (32,))
    steps = {REFERENCE: make_step(base, labels),
             "sparse embedding rows": make_step(base, labels, sparse_rows=True),
             "PCG64 dropout masks": make_step(base, labels, fast_dropout=True),
             "both (as nlptl trains on CPU)": make_step(base, labels, sparse_rows=True, fast_dropout=True),
             "frozen word embeddings": make_step(base, labels, freeze_embeddings=True),
             "pure bf16 weights": make_step(base, labels, pure_bf16=True)}
    if args.compile:
        steps["torch.compile"] = make_step(base, labels, compiled=True)
    for name, step in steps.items():
        started = time.perf_counter()
        step(14)
        step(16)
        print(f"{name}: first two steps {time.perf_counter() - started:.1f} s", flush=True)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for length in (12, 14, 18):
            for name, step in steps.items():
                started = time.perf_counter()
                step(length)
                times[name].append(time.perf_counter() - started)
    reference = statistics.median(times[REFERENCE])
    for name, found in times.items():
        median = statistics.median(found)
        print(f"{name:30s} {median * 1e3:7.1f} ms/step  {reference / median:.2f}x")


if __name__ == "__main__":
    main()
