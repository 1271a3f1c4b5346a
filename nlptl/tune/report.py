"""What `nlptl tune` writes next to its study: trials.csv, best_recipe.yaml, best_model/, plots and tune.md.

Rewritten from the study's storage at the end of every worker's run, so the last worker to finish leaves the
reports of the whole study.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nlptl.errors import NlptlError  # noqa: E402
from nlptl.io import atomic_path, copy_tree_linked, write_text  # noqa: E402
from nlptl.recipe import load_recipe_yaml, recipe_to_yaml  # noqa: E402

logger = logging.getLogger(__name__)
PLOTS = {"optimization_history.png": "plot_optimization_history", "param_importances.png": "plot_param_importances",
         "parallel_coordinate.png": "plot_parallel_coordinate", "intermediate_values.png": "plot_intermediate_values"}
SKIPPED_IN_COPY = ("checkpoints", "logs", ".staging-*")


def completed(study: Any) -> list[Any]:
    """Finished trials, best first."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(trials, key=lambda t: t.value, reverse=study.direction.name == "MAXIMIZE")


def write_trials_csv(study: Any, path: Path) -> None:
    frame = study.trials_dataframe(attrs=("number", "state", "value", "params", "duration", "datetime_start",
                                          "user_attrs"))
    frame = frame.drop(columns=[c for c in frame.columns if c in ("user_attrs_host", "user_attrs_pid")])
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_best_recipe(best: Any, path: Path, name: str) -> None:
    """The best trial's resolved recipe, writing to runs/<name>-tuned: `nlptl train best_recipe.yaml`."""
    recipe = load_recipe_yaml(Path(best.user_attrs["output_dir"]) / "recipe.yaml")
    recipe.name, recipe.output_dir, recipe.resume, recipe.overwrite_output_dir = f"{name}-tuned", "", None, False
    header = (f"# nlptl tune: the best trial (#{best.number}, validation {best.value:.4f}) of study {name}.\n"
              "# Train it again (e.g. on more data): nlptl train best_recipe.yaml [--data.max_train_samples none]\n")
    write_text(path, header + recipe_to_yaml(recipe))


def write_plots(study: Any, root: Path) -> list[str]:
    """Optuna's matplotlib plots; one that the study cannot support yet (e.g. importances of 1 trial) is skipped."""
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    written = []
    for filename, function in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = getattr(optuna_plots, function)(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            logger.info("%s skipped: %s", filename, err)
            continue
        figure = axes.get_figure() if hasattr(axes, "get_figure") else plt.gcf()
        figure.set_size_inches(9, 5.5)
        figure.tight_layout()
        with atomic_path(root / filename) as tmp:
            figure.savefig(tmp, format="png", dpi=110)
        plt.close("all")
        written.append(filename)
    return written


def write_markdown(study: Any, root: Path, metric: str, plots: list[str], wall_s: float,
                   ensemble: Path | None) -> None:
    from optuna.trial import TrialState

    counts = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)}
    ranked = completed(study)
    direction = study.direction.name.lower()
    lines = [f"# Tuning {study.study_name}", "",
             f"Validation {metric} ({direction}d) over {len(study.trials)} trials: "
             + ", ".join(f"{n} {state}" for state, n in counts.items() if n) + f"; this worker ran {wall_s:.0f} s.", ""]
    if ranked:
        best = ranked[0]
        lines += [f"Best: trial {best.number}, validation {metric} **{best.value:.4f}**, model in `best_model/`, "
                  "recipe in `best_recipe.yaml` (`nlptl train best_recipe.yaml`).", ""]
    if ensemble is not None:
        lines += [f"Ensemble of the best {len(ranked[:_members(ensemble)])} trials: `{ensemble.name}/` "
                  f"(`nlptl predict {ensemble.name} INPUT --output OUT`).", ""]
    names = list(dict.fromkeys(name for trial in ranked for name in trial.params))
    lines += ["| trial | " + " | ".join([f"validation {metric}", *names, "minutes"]) + " |",
              "|---:|" + "---:|" * (len(names) + 2)]
    for trial in ranked[:20]:
        minutes = trial.duration.total_seconds() / 60 if trial.duration else float("nan")
        values = [_fmt(trial.params.get(name)) for name in names]
        lines.append(f"| {trial.number} | {trial.value:.4f} | " + " | ".join(values) + f" | {minutes:.1f} |")
    lines += [""] + [f"![{name}]({name})" for name in plots]
    write_text(root / "tune.md", "\n".join(lines) + "\n")


def _members(ensemble: Path) -> int:
    return len(list((ensemble / "members").iterdir())) if (ensemble / "members").is_dir() else 0


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def write_reports(study: Any, root: Path, name: str, metric: str, wall_s: float, ensemble_top: int) -> dict:
    """All outputs from the study as stored now; returns a summary (best value, params, paths)."""
    write_trials_csv(study, root / "trials.csv")
    ranked = completed(study)
    if not ranked:
        raise NlptlError(f"study {study.study_name}: no trial finished (all pruned or failed); see "
                         f"{root / 'trials.csv'}; widen the space or use --pruner none")
    best = ranked[0]
    write_best_recipe(best, root / "best_recipe.yaml", name)
    copy_tree_linked(Path(best.user_attrs["output_dir"]), root / "best_model", SKIPPED_IN_COPY)
    ensemble = None
    if ensemble_top > 1:
        from nlptl.ensemble import build_ensemble

        members = [Path(t.user_attrs["output_dir"]) for t in ranked[:ensemble_top]]
        ensemble = build_ensemble(members, root / "ensemble")
    plots = write_plots(study, root)
    write_markdown(study, root, metric, plots, wall_s, ensemble)
    return {"best_trial": best.number, "best_value": best.value, "best_params": best.params,
            "trials": len(study.trials), "output_dir": str(root)}
