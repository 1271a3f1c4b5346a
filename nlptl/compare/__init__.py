"""`nlptl compare RECIPE`: transfer strategies x label budgets x seeds, as a table and learning curves.

    nlptl compare recipes/imdb_sentiment.py --strategies full,feature_extraction:train.lr=1e-3,lora:train.lr=5e-4
        --budgets 100,500,2000,all --seeds 3 [--output-dir DIR] [--metric accuracy] [recipe overrides]

Every cell is an ordinary run (its own folder with model, metrics.json, history) of the recipe with
`strategy.name`, `data.max_train_samples` and `seed` set (plus the strategy's own overrides, written
NAME:section.field=VALUE); rerunning the command skips finished cells.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from nlptl.compare.grid import Arm, Cell, cells, parse_budgets, parse_seeds, parse_strategies, run_grid
from nlptl.compare.report import plot_learning_curves, run_row, score_split, summarize, write_csv, write_markdown
from nlptl.errors import NlptlError
from nlptl.overrides import FlagParser, apply_overrides
from nlptl.recipe import Recipe, load_recipe_file
from nlptl.training.distributed import partial_state

logger = logging.getLogger(__name__)
__all__ = ["Arm", "Cell", "compare", "main"]


def compare(base: Recipe, strategies: Sequence[Arm | str], budgets: list[int | None], seeds: list[int], root: Path,
            metric: str | None = None, train: Callable[[Recipe], dict] | None = None) -> list[dict]:
    """Run (or read back) every cell, then write compare.csv, compare.md and learning_curves.png under root."""
    from nlptl.run import train as train_recipe
    from nlptl.tasks import get_task

    metric = metric or base.train.metric_for_best or get_task(base.task).main_metric
    results = run_grid(base, cells(strategies, budgets, seeds), root, train or train_recipe)
    rows = [run_row(cell, metrics, metric, cell.output_dir(root)) for cell, metrics in results]
    if not partial_state().is_main_process:  # under `accelerate launch` every process runs the grid
        return rows
    split = score_split(results[0][1])
    summary = summarize(rows)
    title = f"{base.name}: transfer strategies by label budget"
    write_csv(rows, root / "compare.csv")
    write_markdown(summary, root / "compare.md", title, split, metric)
    plot_learning_curves(summary, root / "learning_curves.png", title, split, metric)
    logger.info("wrote %s, %s and %s", root / "compare.csv", root / "compare.md", root / "learning_curves.png")
    return rows


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = FlagParser(prog="nlptl compare RECIPE", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategies", default="full,feature_extraction",
                        help="comma-separated strategy names, each optionally with overrides: lora:train.lr=5e-4")
    parser.add_argument("--budgets", default="100,500,2000,all", help="labelled examples per run; 'all' = all")
    parser.add_argument("--seeds", default="3", help="a count (from the recipe's seed on) or a list 1,2,3")
    parser.add_argument("--output-dir", help="grid folder (default: runs/<recipe name>_compare)")
    parser.add_argument("--metric", help="score to compare (default: the recipe's metric_for_best or the task's)")
    return parser.parse_known_args(argv)


def main(recipe_path: str, argv: list[str]) -> list[dict]:
    """CLI entry: recipe file + compare options + recipe overrides; user errors exit 2 in one line."""
    from nlptl.run import setup_logging
    from nlptl.training.strategies import STRATEGIES

    setup_logging()
    args, overrides = parse_args(argv)
    try:
        base = apply_overrides(load_recipe_file(recipe_path), overrides)
        root = Path(args.output_dir or f"runs/{base.name}_compare")
        return compare(base, parse_strategies(args.strategies, list(STRATEGIES)), parse_budgets(args.budgets),
                       parse_seeds(args.seeds, base.seed), root, args.metric)
    except NlptlError as err:
        print(f"nlptl: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
