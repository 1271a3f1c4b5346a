"""Where a BERT-family model keeps its embeddings, its stack of encoder layers and its task head.

Found by parameter name, which the Hugging Face implementations share: the base model sits under
`model.base_model_prefix` (`bert.`, `distilbert.`, `roberta.`, `electra.`, `deberta.`), its layers are
`...layer.N.` (or `...layers.N.`), and everything outside the base model, plus a pooler inside it, is the head
(`classifier`, `pre_classifier`, `pooler`). Whatever else the base model holds (embeddings, DeBERTa's relative
position embeddings, ELECTRA's embedding projection) counts as the embedding group: it sits below every layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from nlptl.errors import NlptlError

LAYER_INDEX = re.compile(r"\.(?:layer|layers)\.(\d+)\.")
HEAD_NAMES = ("pooler",)  # head modules that live inside the base model (BERT's pooler)


@dataclass
class LayerGroups:
    """Parameter names by depth: `layers[0]` is the bottom encoder layer."""

    embeddings: list[str]
    layers: list[list[str]]
    head: list[str]

    def top_down(self) -> list[list[str]]:
        """Head, top layer, ..., bottom layer, embeddings: the order ULMFiT unfreezes in."""
        return [self.head, *reversed(self.layers), self.embeddings]

    def depth_from_top(self) -> dict[str, int]:
        """0 for the head and the top layer, +1 per layer below it; the embeddings sit under the bottom layer."""
        top = len(self.layers) - 1
        depths = {name: 0 for name in self.head}
        for index, names in enumerate(self.layers):
            depths.update({name: top - index for name in names})
        depths.update({name: len(self.layers) for name in self.embeddings})
        return depths


def layer_groups(model: torch.nn.Module) -> LayerGroups:
    """Split the model's parameters into embeddings, numbered encoder layers and head."""
    prefix = getattr(model, "base_model_prefix", "") + "."
    embeddings: list[str] = []
    head: list[str] = []
    by_index: dict[int, list[str]] = {}
    for name, _ in model.named_parameters():
        inside_base = prefix != "." and name.startswith(prefix)
        parts = name.split(".")
        if not inside_base or any(part in HEAD_NAMES for part in parts):
            head.append(name)
        elif match := LAYER_INDEX.search(name):
            by_index.setdefault(int(match.group(1)), []).append(name)
        else:
            embeddings.append(name)
    if not by_index or sorted(by_index) != list(range(len(by_index))):
        raise NlptlError(
            f"cannot find the encoder layers of {type(model).__name__} (expected parameters named like "
            f"'{prefix}encoder.layer.0.…'); this transfer strategy supports BERT-family encoders"
        )
    return LayerGroups(embeddings=embeddings, layers=[by_index[i] for i in sorted(by_index)], head=head)


def set_trainable(model: torch.nn.Module, names: set[str] | list[str], trainable: bool) -> None:
    """Toggle `requires_grad` for the named parameters."""
    wanted = set(names)
    for name, param in model.named_parameters():
        if name in wanted:
            param.requires_grad_(trainable)
