"""`nlptl ensemble RUN1 RUN2 ... --output DIR`: one model folder that predicts with several fine-tuned runs.

    nlptl ensemble runs/a runs/b runs/c --output runs/abc [--weights 2,1,1] [--combine probabilities|logits]

The runs must share their labels (same names, same order) and tokenizer. The folder works wherever a model dir
does for prediction (`nlptl predict DIR INPUT --output OUT`, `nlptl.Predictor(DIR)`); its members are linked
(or copied) in, so it does not depend on the runs' folders afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from nlptl.ensemble.model import COMBINE, ENSEMBLE_FILE, EnsembleModel, is_ensemble, load_ensemble
from nlptl.errors import NlptlError
from nlptl.io import copy_tree_linked, replace_dir, write_text

__all__ = ["COMBINE", "EnsembleModel", "build_ensemble", "is_ensemble", "load_ensemble", "parse_weights"]
MEMBER_SKIP = ("checkpoints", "logs", ".staging-*", "*.png", "history.jsonl", "augmentation_samples.jsonl")


def parse_weights(text: str | None, count: int) -> list[float]:
    """`2,1,1` -> [2.0, 1.0, 1.0]; None -> equal weights."""
    if not text:
        return [1.0] * count
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise NlptlError(f"--weights {text}: give one number per run, e.g. --weights 2,1,1") from None
    if len(weights) != count or any(not w > 0 for w in weights):
        raise NlptlError(f"--weights {text}: give {count} positive numbers, one per run in order")
    return weights


def member_signature(run: Path) -> tuple[str, list[str], dict]:
    """(kind, labels, vocabulary) of a fine-tuned run, or a clear error when it is not one."""
    from transformers import AutoConfig

    from nlptl.inference.predictor import model_kind
    from nlptl.models import load_tokenizer
    from nlptl.recipe import ModelConfig

    if not (run / "config.json").is_file() or not any((run / name).is_file() for name in ("model.safetensors",)):
        raise NlptlError(f"{run}: not a finished run (no config.json + model.safetensors); give output dirs of "
                         "`nlptl train` (or tune trials that were not pruned)")
    if is_ensemble(run):
        raise NlptlError(f"{run}: is already an ensemble; list its runs instead")
    config = AutoConfig.from_pretrained(run)
    kind = model_kind(config, str(run))
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    return kind, labels, load_tokenizer(ModelConfig(name=str(run)), {}).get_vocab()


def build_ensemble(runs: list[Path], output: Path, weights: list[float] | None = None,
                   combine: str = "probabilities", overwrite: bool = True) -> Path:
    """Check the runs agree, then write the ensemble folder (replacing it whole); returns `output`."""
    runs = [Path(run) for run in runs]
    if len(runs) < 2:
        raise NlptlError("nlptl ensemble: give at least two runs")
    if combine not in COMBINE:
        raise NlptlError(f"--combine {combine}: choose from {', '.join(COMBINE)}")
    weights = weights or [1.0] * len(runs)
    if output.exists() and not overwrite:
        raise NlptlError(f"{output} already exists; choose another --output or replace it with --overwrite")
    first_kind, first_labels, first_vocab = member_signature(runs[0])
    for run in runs[1:]:
        kind, labels, vocab = member_signature(run)
        if kind != first_kind or labels != first_labels:
            raise NlptlError(f"{run}: a {kind} model with labels {labels}, but {runs[0]} is a {first_kind} model "
                             f"with labels {first_labels}; an ensemble needs the same labels in the same order")
        if vocab != first_vocab:
            raise NlptlError(f"{run}: its tokenizer differs from {runs[0]}'s; ensemble runs of the same base model")
    if combine == "probabilities" and first_kind in ("multi_label_classification", "regression"):
        raise NlptlError(f"--combine probabilities averages softmax probabilities, which a {first_kind} model has "
                         "none of; use --combine logits (the mean of the sigmoid logits or of the values)")
    staging = output.with_name(f".{output.name}.{os.getpid()}.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    members = []
    for number, run in enumerate(runs):
        members.append(f"members/{number}")
        copy_tree_linked(run, staging / "members" / str(number), MEMBER_SKIP)
    first = staging / "members" / "0"
    for item in first.iterdir():  # config, tokenizer and recipe.yaml of the first member: how texts are cut
        if item.is_file() and not item.name.endswith(".safetensors") and item.name not in ("metrics.json",
                                                                                          "README.md"):
            shutil.copy2(item, staging / item.name)
    manifest = {"members": members, "weights": weights, "combine": combine,
                "sources": [str(run.resolve()) for run in runs], "kind": first_kind, "labels": first_labels}
    write_text(staging / ENSEMBLE_FILE, json.dumps(manifest, indent=2) + "\n")
    replace_dir(staging, output)
    return output


def run_ensemble(args) -> None:
    """`nlptl ensemble` (argparse namespace from nlptl.cli)."""
    runs = [Path(run) for run in args.runs]
    output = build_ensemble(runs, Path(args.output), parse_weights(args.weights, len(runs)), args.combine,
                            overwrite=args.overwrite)
    print(f"ensemble of {len(runs)} runs ({args.combine}) in {output}: nlptl predict {output} INPUT --output OUT")
