"""What `nlptl compare` writes: compare.csv (one row per run), compare.md (mean ± std per strategy and budget)
and learning_curves.png (score vs labelled examples, log x, error bars = std over seeds)."""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nlptl.compare.grid import Cell  # noqa: E402
from nlptl.errors import NlptlError  # noqa: E402
from nlptl.io import atomic_path, write_text  # noqa: E402


def score_split(metrics: dict) -> str:
    return "test" if "test" in metrics else "validation"


def run_row(cell: Cell, metrics: dict, metric: str, output_dir: Path) -> dict:
    """One CSV row: the cell, its score on the test split (validation when there is none), cost."""
    split = score_split(metrics)
    if metric not in metrics.get(split, {}):
        raise NlptlError(f"--metric {metric}: not in the {split} metrics of {output_dir} "
                         f"(available: {', '.join(k for k, v in metrics.get(split, {}).items() if _is_number(v))})")
    train = metrics.get("train", {})
    return {"strategy": cell.strategy, "budget": cell.budget_label, "seed": cell.seed,
            "train_examples": train.get("train_examples"), "split": split, "metric": metric,
            "score": metrics[split][metric], "train_runtime_s": train.get("train_runtime_s"),
            "trainable_parameters": train.get("trainable_parameters"),
            "total_parameters": train.get("total_parameters"), "output_dir": str(output_dir)}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and sample std over seeds for each (strategy, budget), in grid order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["strategy"], row["budget"]), []).append(row)
    summary = []
    for (strategy, budget), runs in groups.items():
        score, score_std = _mean_std([r["score"] for r in runs])
        runtime, runtime_std = _mean_std([r["train_runtime_s"] or 0.0 for r in runs])
        examples = [r["train_examples"] for r in runs if r["train_examples"] is not None]
        summary.append({"strategy": strategy, "budget": budget, "runs": len(runs), "score": score,
                        "score_std": score_std, "train_examples": statistics.fmean(examples) if examples else None,
                        "train_runtime_s": runtime, "train_runtime_std": runtime_std,
                        "trainable_parameters": runs[0]["trainable_parameters"],
                        "total_parameters": runs[0]["total_parameters"]})
    return summary


def write_csv(rows: list[dict], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def write_markdown(summary: list[dict], path: Path, title: str, split: str, metric: str) -> None:
    """A learning-curve table (strategy x budget) and a detail table with cost per cell."""
    budgets = list(dict.fromkeys(s["budget"] for s in summary))
    strategies = list(dict.fromkeys(s["strategy"] for s in summary))
    by_key = {(s["strategy"], s["budget"]): s for s in summary}
    lines = [f"# {title}", "", f"{split} {metric}, mean ± std over seeds, by number of labelled training examples:",
             "", "| strategy | " + " | ".join(budgets) + " |", "|---|" + "---|" * len(budgets)]
    for strategy in strategies:
        cells = [_pm(by_key[strategy, b]["score"], by_key[strategy, b]["score_std"], 4)
                 if (strategy, b) in by_key else "" for b in budgets]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    lines += ["", f"| strategy | budget | train examples | runs | {split} {metric} | train time (s) | "
              "trainable parameters | total parameters |", "|---|---|---:|---:|---|---|---:|---:|"]
    for s in summary:
        examples = f"{s['train_examples']:,.0f}" if s["train_examples"] is not None else ""
        lines.append(f"| {s['strategy']} | {s['budget']} | {examples} | {s['runs']} | "
                     f"{_pm(s['score'], s['score_std'], 4)} | {_pm(s['train_runtime_s'], s['train_runtime_std'], 1)} | "
                     f"{_count(s['trainable_parameters'])} | {_count(s['total_parameters'])} |")
    write_text(path, "\n".join(lines) + "\n")


def _pm(mean: float, std: float, digits: int) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _count(value: int | None) -> str:
    return f"{value:,}" if value is not None else ""


def plot_learning_curves(summary: list[dict], path: Path, title: str, split: str, metric: str) -> None:
    """Score vs labelled examples (log x), one line per strategy, error bars = std over seeds."""
    strategies = list(dict.fromkeys(s["strategy"] for s in summary))
    fig, ax = plt.subplots(figsize=(8, 4.5 + 0.25 * len(strategies)))
    for strategy in strategies:
        points = sorted((s["train_examples"], s["score"], s["score_std"]) for s in summary
                        if s["strategy"] == strategy and s["train_examples"])
        if points:
            xs, ys, errs = zip(*points, strict=True)
            ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=strategy)
    ax.set_xscale("log")
    ticks = sorted({s["train_examples"] for s in summary if s["train_examples"]})
    ax.set_xticks(ticks, [f"{x:,.0f}" for x in ticks])
    ax.minorticks_off()
    ax.set_xlabel("labelled training examples")
    ax.set_ylabel(f"{split} {metric}")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize="small", frameon=False)
    fig.tight_layout()  # makes room below the axes for the legend, which never covers a curve
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
