"""`nlptl tune RECIPE`: hyperparameter search with Optuna — seeded TPE, pruning, resumable, many workers.

    nlptl tune recipes/sst2_sentiment.py --trials 12 [--space "train.lr=loguniform(1e-5,3e-4);..." | FILE.yaml]
        [--metric accuracy --direction max] [--storage URL] [--study NAME] [--timeout S] [--output-dir DIR]
        [--pruner median|halving|none] [--ensemble-top K] [recipe overrides]

Every trial is an ordinary run (`nlptl.train`) of the recipe with the trial's values, in DIR/trials/trial-NNNN.
`--trials N` is the study's total: rerunning the command after a kill finishes only the missing trials (the
interrupted one is retried from its last checkpoint), and a larger N adds the difference. Several processes
(on several machines, with `--storage postgresql://...`) running the same command share the study.
Writes DIR/trials.csv, best_recipe.yaml, best_model/, plots, tune.md (and ensemble/ with --ensemble-top K).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlptl.errors import NlptlError
from nlptl.overrides import apply_overrides
from nlptl.recipe import Recipe, load_recipe_file
from nlptl.tune.space import DEFAULT_SPACES, Param, parse_space
from nlptl.tune.study import PRUNERS

logger = logging.getLogger(__name__)
__all__ = ["DEFAULT_SPACES", "Param", "parse_space", "tune", "main"]


def resolve_metric(base: Recipe, metric: str | None, direction: str | None) -> tuple[str, str]:
    """The validation metric trials are ranked by and whether to maximize it (the recipe's best-model metric)."""
    from nlptl.tasks import get_task

    metric = metric or base.train.metric_for_best or get_task(base.task).main_metric
    if direction is None:
        lower_better = metric in ("loss", "perplexity") or not base.train.greater_is_better
        return metric, "minimize" if lower_better else "maximize"
    directions = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}
    if direction not in directions:
        raise NlptlError(f"--direction {direction}: use max or min")
    return metric, directions[direction]


def tune(base: Recipe, trials: int, space: list[str] | None = None, *, metric: str | None = None,
         direction: str | None = None, storage: str | None = None, study_name: str | None = None,
         timeout: float | None = None, output_dir: str | Path | None = None, pruner: str = "median",
         pruner_startup: int = 2, seed: int | None = None, ensemble_top: int = 0,
         train: Callable[..., dict] | None = None) -> dict:
    """Run (or continue) the study until it holds `trials` finished trials; write its reports; return a summary."""
    import optuna

    from nlptl.run import train as train_recipe
    from nlptl.tune.objective import Objective
    from nlptl.tune.report import write_reports
    from nlptl.tune.study import (
        default_storage,
        finished_count,
        make_pruner,
        make_storage,
        open_study,
        recover_interrupted,
    )

    started = time.perf_counter()
    if trials < 1:
        raise NlptlError(f"--trials {trials}: run at least one trial")
    params = parse_space(list(space or []), base)  # checked before any trial starts
    metric, direction = resolve_metric(base, metric, direction)
    root = Path(output_dir or f"runs/{base.name}_tune")
    root.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opened = make_storage(storage or default_storage(root))
    study = open_study(opened, study_name or base.name, direction, make_pruner(pruner, pruner_startup),
                       base.seed if seed is None else seed)
    recover_interrupted(study, opened)
    remaining = trials - finished_count(study)
    logger.info("study %s: %d of %d trials finished, %d to run (validation %s, %s)", study.study_name,
                trials - max(remaining, 0), trials, max(remaining, 0), metric, direction)
    if remaining > 0:
        from optuna.study import MaxTrialsCallback
        from optuna.trial import TrialState

        stop_at_total = MaxTrialsCallback(trials, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
        objective = Objective(base, params, root, metric, train or train_recipe)
        study.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=[stop_at_total])
    return write_reports(study, root, study.study_name, metric, time.perf_counter() - started, ensemble_top)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="nlptl tune RECIPE", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--trials", type=int, required=True, help="the study's total number of finished trials")
    parser.add_argument("--space", action="append", default=[],
                        help="FIELD=DIST(...) entries separated by ';', or a YAML file (repeatable; "
                             "default: the task's space, see docs/tune.md)")
    parser.add_argument("--metric", help="validation metric to optimise (default: the recipe's metric_for_best)")
    parser.add_argument("--direction", help="max or min (default: min for loss/perplexity, else max)")
    parser.add_argument("--storage", help="Optuna storage URL (default: sqlite:///DIR/study.db)")
    parser.add_argument("--study", help="study name (default: the recipe's name)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after S seconds (this process)")
    parser.add_argument("--output-dir", help="tune folder (default: runs/<recipe name>_tune)")
    parser.add_argument("--pruner", default="median", choices=PRUNERS, help="stop bad trials early (default median)")
    parser.add_argument("--pruner-startup", type=int, default=2,
                        help="median pruner: finished trials before any pruning (default 2)")
    parser.add_argument("--sampler-seed", type=int, help="TPE seed (default: the recipe's seed); give each of "
                                                         "several workers started together its own")
    parser.add_argument("--ensemble-top", type=int, default=0, help="also build ensemble/ from the best K trials")
    return parser.parse_known_args(argv)


def main(recipe_path: str, argv: list[str]) -> dict[str, Any]:
    """CLI entry: recipe file + tune options + recipe overrides; user errors exit 2 in one line."""
    from nlptl.run import setup_logging

    setup_logging()
    args, overrides = parse_args(argv)
    try:
        base = apply_overrides(load_recipe_file(recipe_path), overrides)
        summary = tune(base, args.trials, args.space, metric=args.metric, direction=args.direction,
                       storage=args.storage, study_name=args.study, timeout=args.timeout,
                       output_dir=args.output_dir, pruner=args.pruner, pruner_startup=args.pruner_startup,
                       seed=args.sampler_seed, ensemble_top=args.ensemble_top)
    except NlptlError as err:
        print(f"nlptl: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"best trial {summary['best_trial']}: validation {summary['best_value']:.4f} with "
          f"{summary['best_params']}; reports in {summary['output_dir']}")
    return summary
