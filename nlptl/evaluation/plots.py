"""PNG plots of evaluation results (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nlptl.evaluation.scores import CalibrationBin, calibration_bins, expected_calibration_error  # noqa: E402
from nlptl.io import atomic_path  # noqa: E402


def plot_confusion_matrix(matrix: list[list[int]], labels: list[str], path: Path, title: str) -> None:
    size = max(4.0, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def plot_entity_f1(per_type: dict[str, dict], path: Path, title: str) -> None:
    """One bar per entity type (its F1), labelled with the number of gold entities: rare types stand out."""
    types = sorted(per_type)
    scores = [per_type[name]["f1"] for name in types]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(types) + 2), 3.5))
    bars = ax.bar(types, scores, color="tab:blue")
    for bar, name in zip(bars, types, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01,
                f"{per_type[name]['f1']:.2f}\n(n={per_type[name]['number']})", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("entity F1")
    ax.set_title(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def plot_lr_find(lrs: list[float], losses: list[float], smoothed: list[float], suggestions: dict[str, float],
                 rule: str, path: Path) -> None:
    """Loss vs learning rate (log x) from a range test, with each rule's suggestion; the chosen one solid."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, losses, "o", color="tab:gray", alpha=0.5, markersize=3, label="loss per step")
    ax.plot(lrs, smoothed, color="tab:blue", label="smoothed")
    for name, lr in suggestions.items():
        ax.axvline(lr, color="tab:red" if name == rule else "tab:orange", linestyle="-" if name == rule else ":",
                   label=f"{name}{' (chosen)' if name == rule else ''}: {lr:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("LR range test")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def save(fig, path: Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def curve_classes(labels: list[str]) -> list[int]:
    """The classes drawn as one-vs-rest curves: the second (positive) class of two, else every class."""
    return [1] if len(labels) == 2 else list(range(len(labels)))


def one_vs_rest(references: list[int], probabilities: list[list[float]],
                labels: list[str]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(curve name, 0/1 truth, scores) of each drawn class; a class absent from the data has no curve."""
    refs, probs = np.asarray(references), np.asarray(probabilities, dtype=float)
    for c in curve_classes(labels):
        truth = (refs == c).astype(int)
        if truth.min() != truth.max():
            yield (labels[c] if len(labels) == 2 else f"{labels[c]} vs rest"), truth, probs[:, c]


def plot_roc(references: list[int], probabilities: list[list[float]], labels: list[str], path: Path,
             title: str) -> None:
    """ROC curve (scikit-learn's points): of the positive class for two classes, one-vs-rest per class for more."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, truth, scores in one_vs_rest(references, probabilities, labels):
        fpr, tpr, _ = roc_curve(truth, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(truth, scores):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="tab:gray", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate", ylabel="true positive rate (recall)",
           title=title)
    ax.legend(fontsize=8, loc="lower right")
    save(fig, path)


def plot_precision_recall(references: list[int], probabilities: list[list[float]], labels: list[str], path: Path,
                          title: str) -> None:
    """Precision-recall curve per drawn class, with the class's share of the data as the chance level."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, truth, scores in one_vs_rest(references, probabilities, labels):
        precision, recall, _ = precision_recall_curve(truth, scores)
        line, = ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(truth, scores):.3f})")
        ax.axhline(truth.mean(), color=line.get_color(), linestyle=":", linewidth=0.8,
                   label=f"{name}: chance (its share, {truth.mean():.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision", title=title)
    ax.legend(fontsize=8, loc="lower left")
    save(fig, path)


def plot_reliability(bins: list[CalibrationBin], ece: float, path: Path, title: str) -> None:
    """Accuracy per confidence bin against the diagonal of perfect calibration, with how many predictions
    each bin holds underneath (a gap over an almost empty bin means little)."""
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(5.5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = bins[0].high - bins[0].low
    filled = [b for b in bins if b.count]
    ax.bar([b.low for b in filled], [b.accuracy for b in filled], width=width, align="edge", color="tab:blue",
           edgecolor="white", label="accuracy in bin")
    ax.bar([b.low for b in filled], [b.confidence for b in filled], width=width, align="edge", fill=False,
           edgecolor="tab:red", hatch="//", label="mean confidence in bin")
    ax.plot([0, 1], [0, 1], linestyle=":", color="tab:gray", label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy", title=f"{title}\nECE {ece:.4f}")
    ax.legend(fontsize=8, loc="upper left")
    counts.bar([b.low for b in bins], [b.count for b in bins], width=width, align="edge", color="tab:gray")
    counts.set(xlabel="confidence (probability of the predicted class)", ylabel="predictions")
    save(fig, path)


def write_probability_plots(references: list[int], probabilities: list[list[float]], labels: list[str],
                            output_dir: Path, context: str) -> list[Path]:
    """roc_curve.png, precision_recall.png and reliability.png; `context` (split, examples) ends each title."""
    refs, probs = np.asarray(references, dtype=int), np.asarray(probabilities, dtype=float)
    paths = [output_dir / "roc_curve.png", output_dir / "precision_recall.png", output_dir / "reliability.png"]
    plot_roc(references, probabilities, labels, paths[0], f"ROC ({context})")
    plot_precision_recall(references, probabilities, labels, paths[1], f"Precision-recall ({context})")
    plot_reliability(calibration_bins(refs, probs), expected_calibration_error(refs, probs), paths[2],
                     f"Reliability ({context})")
    return paths


def plot_training_curves(history: list[dict], metric: str, path: Path) -> None:
    """Train loss, the validation metric and the learning rate against the optimizer step (history.jsonl: one
    record per evaluation)."""
    steps = [record["step"] for record in history]
    fig, axes = plt.subplots(3, 1, figsize=(6, 7), sharex=True)
    axes[0].plot(steps, [record.get("loss") for record in history], marker="o", color="tab:blue")
    axes[0].set_ylabel("train loss")
    validation = [(record["step"], record["validation"].get(metric)) for record in history
                  if isinstance(record.get("validation"), dict) and record["validation"].get(metric) is not None]
    if validation:
        axes[1].plot(*zip(*validation, strict=True), marker="o", color="tab:green")
    else:
        axes[1].text(0.5, 0.5, "no validation split", ha="center", va="center", transform=axes[1].transAxes)
    axes[1].set_ylabel(f"validation {metric}")
    axes[2].plot(steps, [record.get("lr") for record in history], marker="o", color="tab:orange")
    axes[2].set(ylabel="learning rate", xlabel="optimizer step")
    axes[0].set_title("Training curves (one point per evaluation)")
    save(fig, path)
