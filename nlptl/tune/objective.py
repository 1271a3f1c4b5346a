"""One trial of `nlptl tune`: the recipe with the trial's values, trained by `nlptl.train` in its own folder.

The trial reports each validation evaluation (the trainer's `on_evaluate` hook) to Optuna and stops when the
pruner says so; a pruned trial keeps its history and metrics but not its checkpoints or weights. A finished
trial keeps its model (for `best_model/` and `--ensemble-top`) and drops its checkpoints, like a compare cell.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlptl.compare.grid import run_cell
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe
from nlptl.training.checkpoints import list_checkpoints
from nlptl.training.trainer import EvalCallback
from nlptl.tune.space import Param, apply, suggest
from nlptl.tune.study import claim

logger = logging.getLogger(__name__)
TrainFn = Callable[..., dict]  # nlptl.train(recipe, on_evaluate=...)
WEIGHTS = ("model.safetensors", "adapter_model.safetensors")


def trial_dir(root: Path, trial: Any) -> Path:
    """A retried trial continues in the interrupted trial's folder (and from its last checkpoint)."""
    inherited = trial.user_attrs.get("output_dir")
    return Path(inherited) if inherited else root / "trials" / f"trial-{trial.number:04d}"


def trial_recipe(base: Recipe, values: dict[str, Any], output_dir: Path, number: int) -> Recipe:
    recipe = apply(base, values)
    recipe.name = f"{base.name}-trial{number:04d}"
    recipe.output_dir = str(output_dir)
    recipe.resume, recipe.overwrite_output_dir, recipe.push_to_hub = None, False, None
    return recipe


def pruning_callback(trial: Any, metric: str, pruned: list[int]) -> EvalCallback:
    """Report each validation evaluation; True (stop training) once the pruner rejects the trial."""

    def on_evaluate(record: dict) -> bool:
        scores = record.get("validation")
        if scores is None:
            raise NlptlError("nlptl tune needs a validation split to score trials: give the data a validation "
                             "split or set data.validation_size")
        if metric not in scores:
            raise NlptlError(f"--metric {metric}: not a validation metric of this task "
                             f"(available: {', '.join(scores)})")
        trial.report(float(scores[metric]), record["step"])
        if trial.should_prune():
            pruned.append(record["step"])
            return True
        return False

    return on_evaluate


def drop_training_state(output_dir: Path, weights: bool) -> None:
    for checkpoint in list_checkpoints(output_dir):
        shutil.rmtree(checkpoint, ignore_errors=True)
    shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    if weights:
        for name in WEIGHTS:
            (output_dir / name).unlink(missing_ok=True)


class Objective:
    """Optuna's objective: trains one trial and returns its best validation score."""

    def __init__(self, base: Recipe, space: list[Param], root: Path, metric: str, train: TrainFn) -> None:
        self.base, self.space, self.root, self.metric, self.train = base, space, root, metric, train

    def __call__(self, trial: Any) -> float:
        import optuna

        claim(trial)
        output_dir = trial_dir(self.root, trial)
        trial.set_user_attr("output_dir", str(output_dir))
        recipe = trial_recipe(self.base, suggest(trial, self.space), output_dir, trial.number)
        pruned: list[int] = []
        callback = pruning_callback(trial, self.metric, pruned)
        metrics, _ = run_cell(recipe, lambda r: self.train(r, on_evaluate=callback))
        drop_training_state(output_dir, weights=bool(pruned))
        if pruned:
            raise optuna.TrialPruned(f"pruned at step {pruned[0]}")
        validation = metrics.get("validation", {})
        if self.metric not in validation:
            raise NlptlError(f"--metric {self.metric}: not in the validation metrics of {output_dir} "
                             f"(available: {', '.join(validation)})")
        return float(validation[self.metric])
