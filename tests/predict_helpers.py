"""Shared by the predict and push tests: one tiny trained run per session, and the plain reference loop."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import tiny_recipe
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def trained_tiny_run(tmp_path_factory, tiny_model_dir: Path, tiny_data_dir: Path) -> Path:
    """`nlptl train` output of the tiny BERT on the synthetic reviews, trained once per test session."""
    import nlptl

    out = tmp_path_factory.getbasetemp() / "trained-tiny-run"
    if not (out / "metrics.json").exists():
        nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, out))
    return out


def reference_predictions(model_dir: Path, texts: list[str], max_length: int) -> tuple[list[str], list[float]]:
    """One text at a time, no sorting, no padding, fp32: what batch prediction must reproduce."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    labels, scores = [], []
    with torch.no_grad():
        for text in texts:
            inputs = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            probabilities = model(**inputs).logits.softmax(-1)[0]
            labels.append(model.config.id2label[int(probabilities.argmax())])
            scores.append(float(probabilities.max()))
    return labels, scores
