"""PNG plots of evaluation results (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
