"""The per-class report: precision, recall, F1 and support of each class (entity type for NER), as JSON and as a
Markdown table a person reads; classes sorted as the model lists them."""

from __future__ import annotations

from pathlib import Path

from nlptl.io import write_json, write_text


def per_class_rows(split_metrics: dict) -> dict[str, dict]:
    """{class: {precision, recall, f1, support}} from a split's metrics (classification `per_class`, NER
    `per_type` whose `number` is the support), with one-vs-rest AUC/AP where the metrics have them."""
    if "per_class" in split_metrics:
        rows = {name: dict(scores) for name, scores in split_metrics["per_class"].items()}
    else:
        rows = {name: {"precision": s["precision"], "recall": s["recall"], "f1": s["f1"], "support": s["number"]}
                for name, s in sorted(split_metrics.get("per_type", {}).items())}
    for name, extra in (split_metrics.get("per_class_ovr") or {}).items():
        rows.get(name, {}).update(extra)
    return rows


def markdown_table(rows: dict[str, dict], title: str) -> str:
    columns = ["precision", "recall", "f1", "support"] + [
        key for key in ("roc_auc", "average_precision") if any(key in row for row in rows.values())]
    lines = [f"# {title}", "", "| class | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        cells = [str(row[key]) if key == "support" else ("-" if row.get(key) is None else f"{row[key]:.4f}")
                 for key in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_per_class(split_metrics: dict, output_dir: Path, title: str) -> list[Path]:
    """per_class.json and per_class.md; nothing when the metrics have no per-class scores."""
    rows = per_class_rows(split_metrics)
    if not rows:
        return []
    write_json(output_dir / "per_class.json", rows)
    write_text(output_dir / "per_class.md", markdown_table(rows, title))
    return [output_dir / "per_class.json", output_dir / "per_class.md"]
