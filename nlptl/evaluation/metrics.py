"""Load the package's own `evaluate` modules from disk, so metrics work with no network."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import evaluate

MODULES_DIR = Path(__file__).parent / "modules"


@cache
def load_metric(name: str) -> evaluate.EvaluationModule:
    """One of the modules shipped in nlptl/evaluation/modules (e.g. 'classification', 'seqeval_ner')."""
    path = MODULES_DIR / name
    if not path.is_dir():
        known = ", ".join(sorted(p.name for p in MODULES_DIR.iterdir() if p.is_dir()))
        raise ValueError(f"no metric module {name!r}; shipped modules: {known}")
    return evaluate.load(str(path))
