"""LR range test (Smith 2017, "Cyclical learning rates"; fastai's `lr_find`): train a copy of the model for a
few steps while the learning rate grows exponentially, record the loss, and suggest a rate from the curve.

The copy is built the way the trainer builds its model (the task's model, a fresh strategy's `configure` and
`param_groups`, `build_optimizer`, the training batch order and collator, `strategy.loss_sum`), so the curve is
the run's own: its data, model, strategy and precision (but always with dense AdamW and nn.Dropout: the CPU
speed-ups of training/sparse_rows.py and training/cpu_dropout.py change a step's time, not where the loss
falls). Nothing is saved over a run, and the random number
generators are put back afterwards, so `train.lr auto` then trains exactly like a run given the chosen rate.

Cost: a 1-epoch SST-2 run of 2,000 sentences is 63 steps of 32, so a sweep of 20 full batches would cost a third
of the training. Steps of a quarter batch (8 rows) keep it near 5 batches' worth: Adam's first updates move each
weight by about lr whatever the batch size (m/sqrt(v) is about +-1), so where the loss starts to fall and where it
blows up hardly depend on the batch; only the noise grows, which the smoothing absorbs.

Parameter groups are built at lr 1, so each group's `lr` is its multiplier (layer-wise decay); every step sets
each group to multiplier x the sweep's rate.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from torch.utils.data import DataLoader

from nlptl.data.batching import LengthGroupedBatches
from nlptl.errors import NlptlError
from nlptl.recipe import LR_RULES, Recipe
from nlptl.tasks.base import Task
from nlptl.training.optim import build_optimizer

logger = logging.getLogger(__name__)
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DIVERGED = 2.0  # stop once the smoothed loss exceeds this multiple of the best one seen (fastai: 4; steps cost)
RISEN = 1.1  # ... or 10% above the starting loss: worse than untrained. A binary head that collapsed to one class
# stays near ln 2 instead of exploding, and lucky 8-row batches then fake a late minimum (MiniLM, SST-2, seed 3)
SMOOTHING = 0.7  # EMA factor for the loss; short sweeps (~20 points) need a short memory (fastai: 0.98 over 100)
RESULT_FILE = "lr_find.json"
PLOT_FILE = "lr_find.png"


@dataclass
class RangeTest:
    """One sweep: the rates tried, the loss at each, and what each rule suggests."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    rule: str
    suggested_lr: float
    suggestions: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    stopped_early: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def sweep_rates(start: float, end: float, steps: int) -> list[float]:
    """`steps` rates from `start` to `end`, evenly spaced on a log scale."""
    if not 0 < start < end or steps < 4:
        raise NlptlError(f"train.lr_find_range=({start}, {end}) and train.lr_find_steps={steps}: use "
                         "0 < first < last and at least 4 steps (e.g. 1e-6,1e-1 and 24)")
    ratio = (end / start) ** (1 / (steps - 1))
    return [start * ratio**i for i in range(steps)]


def smooth(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """Bias-corrected exponential moving average (as fastai's recorder), so the first points are not pulled to 0."""
    out, average = [], 0.0
    for i, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**i))
    return out


def suggest_lr(lrs: list[float], smoothed: list[float], rule: str) -> float:
    """A learning rate from the smoothed curve.

    minimum:  the rate at the lowest loss, divided by 10 (fastai's older rule: at the minimum the loss is about
              to blow up). The default: the minimum sits just below the blow-up, the sharpest feature of a short,
              noisy curve, so it moves least between seeds (MiniLM on SST-2, seeds 1-3: 7.8e-5, 3.4e-4, 7.8e-5,
              where fixed-rate runs learn; README, Measured);
    steepest: where the loss falls fastest per decade of rate, before its minimum (Smith 2017); a slope over
              ~15 noisy points is itself noisy (4.8e-4, 2.1e-3, 4.8e-4 there);
    valley:   fastai's current default: a third of the way down the longest stretch over which the loss keeps
              falling; where that stretch starts depends on the noise of the flat part (7.0e-5, 4.8e-4, 3.0e-4).
    """
    if rule not in LR_RULES:
        raise NlptlError(f"train.lr_find_rule={rule!r}: choose one of {', '.join(LR_RULES)}")
    if len(lrs) < 3:
        return lrs[0]
    lowest = int(np.argmin(smoothed))
    if rule == "minimum":
        return lrs[lowest] / 10
    if rule == "steepest":
        slopes = np.gradient(np.asarray(smoothed), np.log10(lrs))
        return lrs[int(np.argmin(slopes[:max(lowest, 1) + 1]))]
    return lrs[valley_index(smoothed)]


def valley_index(losses: list[float]) -> int:
    """fastai's `valley`: the longest decreasing subsequence, and a point at about half of its length."""
    n = len(losses)
    lds = [1] * n  # length of the longest decreasing run ending at i
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
        if lds[i] > lds[end]:
            end, start = i, i - lds[i] + 1
    third = (end - start) / 3
    return start + int(third) + int(third / 2)


class saved_rng:
    """Python, NumPy and torch generators as they were: the sweep draws dropout masks and a head, the run must not
    notice."""

    def __enter__(self) -> None:
        self.states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
                       torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)

    def __exit__(self, *exc: object) -> None:
        py, np_state, cpu, cuda = self.states
        random.setstate(py)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def range_test(recipe: Recipe, task: Task, train: datasets.Dataset, accelerator: Accelerator, collate) -> RangeTest:
    """Sweep on a copy of the model; every process computes the same curve (all of the first batches, no DDP),
    the main process's is used."""
    from nlptl.training.strategies import build_strategy  # strategies import optim, which imports the recipe

    cfg = recipe.train
    rates = sweep_rates(*cfg.lr_find_range, cfg.lr_find_steps)
    if cfg.lr_find_rule not in LR_RULES:  # fail before any work
        raise NlptlError(f"train.lr_find_rule={cfg.lr_find_rule!r}: choose one of {', '.join(LR_RULES)}")
    started = time.perf_counter()
    with saved_rng():
        strategy = build_strategy(recipe)  # its own instance: the run's strategy keeps its state
        model = strategy.configure(task.build_model(recipe)).to(accelerator.device)
        groups = strategy.param_groups(model, dataclasses.replace(cfg, lr=1.0))
        for group in groups:
            group["multiplier"] = group["lr"]
        optimizer = build_optimizer(groups, dataclasses.replace(cfg, lr=1.0))
        batches = LengthGroupedBatches(train["length"], cfg.lr_find_batch_size or max(1, cfg.batch_size // 4),
                                       recipe.seed,
                                       group_by_length=cfg.group_by_length, window_batches=cfg.group_window)
        if hasattr(collate, "set_epoch"):
            collate.set_epoch(0)
        loader = DataLoader(train, batch_sampler=batches, collate_fn=collate)
        lrs, losses = sweep(model, optimizer, strategy, task, loader, rates, accelerator, cfg.max_grad_norm)
        del model, optimizer
    smoothed = smooth(losses)
    stopped = len(lrs) < len(rates)
    result = RangeTest(lrs=lrs, losses=losses, smoothed=smoothed, rule=cfg.lr_find_rule,
                       suggested_lr=suggest_lr(lrs, smoothed, cfg.lr_find_rule),
                       suggestions={rule: suggest_lr(lrs, smoothed, rule) for rule in LR_RULES},
                       seconds=time.perf_counter() - started, stopped_early=stopped)
    shared = [result]
    broadcast_object_list(shared)  # processes agree on the rate even if their float sums differ in the last bit
    return shared[0]


def sweep(model: torch.nn.Module, optimizer: torch.optim.Optimizer, strategy, task: Task, loader: DataLoader,
          rates: list[float], accelerator: Accelerator, max_grad_norm: float | None) -> tuple[list, list]:
    """One batch per rate; stops when the smoothed loss diverges or the data runs out (then starts it again)."""
    lrs: list[float] = []
    losses: list[float] = []
    model.train()
    strategy.on_epoch_start(model, 0)
    batches = iter(loader)
    for step, lr in enumerate(rates):
        batch = next(batches, None)
        if batch is None:  # a training set smaller than the sweep: go round again
            batches = iter(loader)
            batch = next(batches)
        batch = {k: v.to(accelerator.device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        strategy.on_step_start(model, step)
        for group in optimizer.param_groups:
            group["lr"] = group["multiplier"] * lr
        inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
        with accelerator.autocast():
            loss_sum = strategy.loss_sum(model, inputs, batch["labels"], task)
        loss = loss_sum / max(task.count_targets(batch["labels"]), 1)
        loss.backward()
        if max_grad_norm:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        lrs.append(lr)
        losses.append(value)
        if not math.isfinite(value) or diverged(losses):
            break
    return lrs, losses


def diverged(losses: list[float]) -> bool:
    """The smoothed loss is twice its best, or (after the first three steps) 10% above where it started."""
    current = smooth(losses)
    start = sum(losses[:3]) / len(losses[:3])
    return current[-1] > DIVERGED * min(current) or (len(losses) > 3 and current[-1] > RISEN * start)


def find_lr(recipe: Recipe, task: Task, train: datasets.Dataset, accelerator: Accelerator, collate,
            output_dir: Path, reuse: bool = False) -> RangeTest:
    """The range test's result for this run: the recorded one when `reuse` (a resumed run must not re-draw its
    learning rate), else a new sweep, written to `lr_find.json` and `lr_find.png` in the output dir."""
    from nlptl.evaluation.plots import plot_lr_find
    from nlptl.io import write_json

    path = output_dir / RESULT_FILE
    if reuse and path.is_file():
        result = RangeTest(**json.loads(path.read_text()))
        logger.info("learning rate %.3g from this run's range test (%s)", result.suggested_lr, path)
        return result
    result = range_test(recipe, task, train, accelerator, collate)
    logger.info("LR range test: %d steps in %.1f s; suggested learning rate %.3g (%s rule; steepest %.3g, valley "
                "%.3g, minimum/10 %.3g)", len(result.lrs), result.seconds, result.suggested_lr, result.rule,
                result.suggestions["steepest"], result.suggestions["valley"], result.suggestions["minimum"])
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json(path, result.to_dict())
        plot_lr_find(result.lrs, result.losses, result.smoothed, result.suggestions, result.rule,
                     output_dir / PLOT_FILE)
    return result
