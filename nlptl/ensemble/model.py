"""An ensemble folder loaded for prediction: its members' outputs combined into one set of logits.

`Predictor` (and so `nlptl predict`) loads an ensemble folder like a model: the folder holds the first member's
config.json, tokenizer and recipe.yaml (so the text is cut as the members were trained), `ensemble.json` and
`members/`. The combined output is a logit tensor: with `probabilities`, the log of the weighted mean of the
members' softmax (a softmax of it gives back exactly that mean); with `logits`, the weighted mean of the logits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nlptl.errors import NlptlError
from nlptl.first_token import last_layer_first_token_only
from nlptl.models import load_model
from nlptl.recipe import ModelConfig

ENSEMBLE_FILE = "ensemble.json"
COMBINE = ("probabilities", "logits")


@dataclass
class EnsembleOutput:
    logits: torch.Tensor


class EnsembleModel(nn.Module):
    """Members with the same labels and tokenizer, run on the same inputs, outputs combined by weight."""

    weights: torch.Tensor
    config: Any

    def __init__(self, members: list[nn.Module], weights: list[float], combine: str) -> None:
        super().__init__()
        if combine not in COMBINE:
            raise NlptlError(f"ensemble combine {combine!r}: choose from {', '.join(COMBINE)}")
        self.members = nn.ModuleList(members)
        self.combine = combine
        self.config = members[0].config  # labels, model type: what prediction reads
        total = sum(weights)
        self.register_buffer("weights", torch.tensor([w / total for w in weights]), persistent=False)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, **inputs: Any) -> EnsembleOutput:
        stacked = torch.stack([member(**inputs).logits.float() for member in self.members])
        weights = self.weights.float().view(-1, *([1] * (stacked.dim() - 1)))
        if self.combine == "logits":
            return EnsembleOutput((weights * stacked).sum(dim=0))
        mean = (weights * stacked.softmax(dim=-1)).sum(dim=0)
        return EnsembleOutput(mean.clamp_min(torch.finfo(mean.dtype).tiny).log())


def is_ensemble(folder: str | Path) -> bool:
    return (Path(folder) / ENSEMBLE_FILE).is_file()


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / ENSEMBLE_FILE).read_text())
        members, weights, combine = manifest["members"], manifest["weights"], manifest["combine"]
    except (OSError, ValueError, KeyError) as err:
        raise NlptlError(f"{folder / ENSEMBLE_FILE}: not a readable ensemble manifest ({err}); rebuild it with "
                         "nlptl ensemble RUN1 RUN2 ... --output DIR") from None
    if len(members) != len(weights) or not members:
        raise NlptlError(f"{folder / ENSEMBLE_FILE}: 'members' and 'weights' differ in length; rebuild the ensemble")
    return {"members": members, "weights": weights, "combine": combine}


def load_ensemble(folder: str | Path, model_class: Any) -> Any:
    """The `EnsembleModel` of a folder written by `nlptl ensemble`, members loaded as `model_class` (typed Any,
    as `load_model`'s models are: prediction uses both the same way)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    members = []
    for member in manifest["members"]:
        model = load_model(model_class, ModelConfig(name=str(folder / member)), {})
        last_layer_first_token_only(model)  # a no-op for token models; as Predictor does for one model
        members.append(model)
    return EnsembleModel(members, manifest["weights"], manifest["combine"])
