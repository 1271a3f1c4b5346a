"""The text operations stay pure: importing any of them loads no datasets, torch or transformers."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import nlptl.augment.text

REPO = Path(__file__).resolve().parents[3]


def loaded_after_importing(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """Modules starting with one of `prefixes` that a fresh interpreter holds after importing `modules`."""
    code = (f"import importlib, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
            f"print(' '.join(m for m in sys.modules if m.startswith({prefixes!r})))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return result.stdout.split()


def test_text_operations_import_no_datasets_torch_or_transformers():
    text = [f"nlptl.augment.text.{info.name}" for info in pkgutil.iter_modules(nlptl.augment.text.__path__)]
    assert {"nlptl.augment.text.eda", "nlptl.augment.text.ner", "nlptl.augment.text.contextual"} <= set(text)
    assert loaded_after_importing(["nlptl.augment", *text], ("datasets", "torch", "transformers")) == []
