"""Feature extraction: the pretrained encoder is a fixed feature function and only the task head trains.

The model's base encoder (`model.bert`, `model.distilbert`, ...) is swapped for a `FrozenEncoder` that runs it
without gradients and in eval mode, and hands the head the same output object the encoder would. The head code
of the model (pooler, pre_classifier, classifier) is untouched, so this works for every BERT-family head.

With `strategy.cache_features` the encoder output is remembered per text (keyed by its token ids), so each text
is encoded once — the first epoch and the first evaluation encode, every later pass is head-only and fast.
The task says which positions its head reads (`Task.first_token_head`): a sequence head reads only the first
([CLS]) position, so only that vector is stored; token and masked-LM heads read every position, so whole
sequences are stored (memory grows with the data: fine for NER-sized sets).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

from nlptl.recipe import Recipe
from nlptl.tasks import get_task
from nlptl.training.strategies.base import FullFineTuning

logger = logging.getLogger(__name__)


class FrozenEncoder(torch.nn.Module):
    """Stands in for a model's pretrained encoder: no gradients, no dropout, optionally each text encoded once."""

    def __init__(self, encoder: torch.nn.Module, pooler: torch.nn.Module | None, cache: bool,
                 first_position_only: bool) -> None:
        super().__init__()
        self.frozen = encoder.requires_grad_(False).eval()
        self.pooler = pooler  # BERT keeps its pooler inside the encoder, but it belongs to the trained head
        self.cache = cache
        self.first_position_only = first_position_only
        self.store: dict[bytes, torch.Tensor] = {}

    def train(self, mode: bool = True) -> FrozenEncoder:
        super().train(mode)
        self.frozen.eval()  # fixed features: dropout off in training too (and what makes them cacheable)
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, **_: object) -> BaseModelOutputWithPooling:
        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.cached(inputs) if self.cache else self.encode(inputs)
        pooled = self.pooler(hidden) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled)

    def encode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():  # not inference_mode: the head saves these features for its backward pass
            hidden = self.frozen(**inputs).last_hidden_state.float()
        return hidden[:, :1] if self.first_position_only else hidden

    def cached(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Look each row up by its token ids; encode the rows not seen yet in one batch."""
        keys = row_keys(inputs)
        missing = [i for i, key in enumerate(keys) if key not in self.store]
        if missing:
            rows = torch.tensor(missing, device=inputs["input_ids"].device)
            width = int(inputs["attention_mask"][rows].sum(dim=1).max())
            encoded = self.encode({name: value[rows, :width] for name, value in inputs.items()})
            lengths = inputs["attention_mask"][rows].sum(dim=1).tolist()
            for i, vectors, length in zip(missing, encoded, lengths, strict=True):
                self.store[keys[i]] = (vectors if self.first_position_only else vectors[:length]).clone()
        if self.first_position_only:
            return torch.stack([self.store[key] for key in keys])
        width = inputs["input_ids"].shape[1]
        return torch.stack([torch.nn.functional.pad(self.store[key], (0, 0, 0, width - len(self.store[key])))
                            for key in keys])


def row_keys(inputs: dict[str, torch.Tensor]) -> list[bytes]:
    """One key per row: its unpadded token ids (and segment ids), so a text is recognised in any batch."""
    mask = inputs["attention_mask"].bool().cpu()
    ids = inputs["input_ids"].cpu()
    types = inputs.get("token_type_ids")
    types = types.cpu() if types is not None else None
    keys = []
    for i in range(len(ids)):
        row = ids[i][mask[i]]
        if types is not None:
            row = torch.cat([row, types[i][mask[i]]])
        keys.append(row.numpy().tobytes())
    return keys


class FeatureExtraction(FullFineTuning):
    """Only the head trains on fixed encoder features (Peters et al. 2019, "To tune or not to tune")."""

    name = "feature_extraction"
    description = "feature extraction: the pretrained encoder stays frozen and only the new head trains"

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.cache = recipe.strategy.cache_features
        self.first_position_only = get_task(recipe.task).first_token_head  # else the head reads every position

    def configure(self, model: Any) -> torch.nn.Module:
        prefix = model.base_model_prefix
        encoder = getattr(model, prefix)
        pooler = getattr(encoder, "pooler", None)
        if pooler is not None:
            encoder.pooler = None  # the encoder then returns no pooled output; FrozenEncoder applies the pooler
        setattr(model, prefix, FrozenEncoder(encoder, pooler, self.cache, self.first_position_only))
        logger.info("feature extraction: encoder frozen%s; the head trains",
                    " and its features cached per text" if self.cache else "")
        return model

    def export_model(self, model: Any) -> PreTrainedModel:
        """Put the encoder (and BERT's pooler) back where transformers expects them."""
        prefix = model.base_model_prefix
        stand_in = getattr(model, prefix)
        encoder = stand_in.frozen.requires_grad_(True)
        if stand_in.pooler is not None:
            encoder.pooler = stand_in.pooler
        setattr(model, prefix, encoder)
        return model
