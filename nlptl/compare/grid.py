"""The grid of `nlptl compare`: one run per (strategy, label budget, seed), each in its own folder.

Resumable: a cell whose folder holds `metrics.json` (written last by a run) is finished and is read, not rerun;
a cell interrupted after a checkpoint continues from it; any other leftover is replaced. A finished cell's
training checkpoints are deleted (its model, metrics and history stay): a grid has dozens of cells, and their
optimizer states would fill the disk.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlptl.errors import NlptlError
from nlptl.fields import set_field
from nlptl.recipe import Recipe
from nlptl.training.checkpoints import list_checkpoints

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arm:
    """One strategy of the comparison with its own recipe overrides, written `lora:train.lr=5e-4` (strategies
    differ in the learning rate they need: a head alone or LoRA adapters want a larger one than full FT)."""

    name: str
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return ":".join([self.name, *(f"{field}={value}" for field, value in self.overrides)])


@dataclass(frozen=True)
class Cell:
    arm: Arm
    budget: int | None  # labelled training examples; None: all of them
    seed: int

    @property
    def strategy(self) -> str:
        return self.arm.label

    @property
    def budget_label(self) -> str:
        return "all" if self.budget is None else str(self.budget)

    def output_dir(self, root: Path) -> Path:
        return root / re.sub(r"[^\w.=+-]", "_", self.strategy) / f"n{self.budget_label}" / f"seed{self.seed}"


def parse_budgets(text: str) -> list[int | None]:
    """`100,500,all` -> [100, 500, None]."""
    budgets: list[int | None] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "all":
            budgets.append(None)
        elif part.isdigit() and int(part) > 0:
            budgets.append(int(part))
        else:
            raise NlptlError(f"--budgets: {part!r} is not a positive number of examples or 'all'")
    if not budgets:
        raise NlptlError("--budgets: give at least one budget, e.g. 100,500,all")
    return budgets


def parse_seeds(text: str, base_seed: int) -> list[int]:
    """`3` -> three seeds from the recipe's seed on; `1,7,42` -> exactly those."""
    try:
        if "," in text:
            return [int(part) for part in text.split(",") if part.strip()]
        count = int(text)
    except ValueError:
        raise NlptlError(f"--seeds {text!r}: give a count (3) or a list (1,2,3)") from None
    if count < 1:
        raise NlptlError(f"--seeds {count}: run at least one seed")
    return [base_seed + i for i in range(count)]


def parse_strategies(text: str, known: list[str]) -> list[Arm]:
    """`full,lora:train.lr=5e-4` -> [Arm(full), Arm(lora, lr override)]."""
    arms = []
    for spec in (part.strip() for part in text.split(",") if part.strip()):
        name, *settings = spec.split(":")
        if name not in known:
            raise NlptlError(f"--strategies: unknown {name}; choose from {', '.join(known)}")
        pairs = [setting.partition("=") for setting in settings]
        if any(not sep or not field for field, sep, _ in pairs):
            raise NlptlError(f"--strategies: {spec!r}: write overrides as NAME:section.field=VALUE")
        arms.append(Arm(name, tuple((field, value) for field, _, value in pairs)))
    if not arms:
        raise NlptlError(f"--strategies: unknown (none given); choose from {', '.join(known)}")
    return arms


def cells(arms: Sequence[Arm | str], budgets: list[int | None], seeds: list[int]) -> list[Cell]:
    """Budget-major order: the cheap small-budget cells of every strategy finish first."""
    named = [arm if isinstance(arm, Arm) else Arm(arm) for arm in arms]
    return [Cell(arm, b, seed) for b in budgets for arm in named for seed in seeds]


def cell_recipe(base: Recipe, cell: Cell, root: Path) -> Recipe:
    """The base recipe with this cell's strategy, training subset and seed, writing into the cell's folder."""
    recipe = copy.deepcopy(base)
    for field, value in cell.arm.overrides:
        set_field(recipe, field, value)
    recipe.name = f"{base.name}-{cell.arm.name}-n{cell.budget_label}-seed{cell.seed}"
    recipe.strategy.name = cell.arm.name
    recipe.data.max_train_samples = cell.budget
    recipe.seed = cell.seed
    recipe.output_dir = str(cell.output_dir(root))
    recipe.resume, recipe.overwrite_output_dir = None, False
    return recipe


def run_cell(recipe: Recipe, train: Callable[[Recipe], dict]) -> tuple[dict, bool]:
    """(metrics, whether it ran now): a finished cell is read back, an interrupted one resumed or replaced."""
    out = recipe.resolved_output_dir()
    metrics_file = out / "metrics.json"
    if metrics_file.exists():
        return json.loads(metrics_file.read_text()), False
    if list_checkpoints(out):
        recipe.resume = "latest"
    else:
        recipe.overwrite_output_dir = True
    metrics = train(recipe)
    for checkpoint in list_checkpoints(out):
        shutil.rmtree(checkpoint, ignore_errors=True)
    return metrics, True


def run_grid(base: Recipe, grid: list[Cell], root: Path, train: Callable[[Recipe], dict]) -> list[tuple[Cell, dict]]:
    results = []
    for number, cell in enumerate(grid, 1):
        recipe = cell_recipe(base, cell, root)
        metrics, ran = run_cell(recipe, train)
        logger.info("cell %d/%d %s n=%s seed=%d: %s", number, len(grid), cell.strategy, cell.budget_label,
                    cell.seed, "done" if ran else "already finished, skipped")
        results.append((cell, metrics))
    return results
