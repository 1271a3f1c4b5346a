"""Skip work a sequence classifier throws away: its last encoder layer only has to produce the first token.

BERT-style classification heads (BERT's pooler, RoBERTa's and ELECTRA's heads) read the final hidden state of
the first token only. In the last layer every other position still needs its keys and values (the first token
attends to them), but not its query, attention output or feed-forward block. Computing just the first token's
path there is the same arithmetic on fewer rows: for a 6-layer encoder about a seventh of the linear-layer work
goes, for 12 layers about a fourteenth. The logits are the same up to float rounding, and so are the gradients:
the positions skipped feed nothing the loss reads.

Used in prediction and in classification training alike (in training the attention dropout and the dropout of
the output blocks apply as in the full layer). The last layer's `forward` is replaced on the instance, so its
parameters, state dict and `save_pretrained` output are those of the unchanged model. Applied to models whose
layers have the BERT layout (attention.self.query/key/value, attention.output, intermediate, output) and whose
head reads the first token; anything else is left as it is.
"""

from __future__ import annotations

from typing import Protocol, cast

import torch
from torch import nn

FIRST_TOKEN_HEADS = {"bert", "roberta", "xlm-roberta", "electra", "camembert"}


class SelfAttentionLayout(Protocol):
    """What the first-token forward reads of BERT's self-attention (transformers' `BertSelfAttention`)."""

    query: nn.Module
    key: nn.Module
    value: nn.Module
    num_attention_heads: int
    scaling: float
    dropout: nn.Dropout


class AttentionLayout(Protocol):
    self: SelfAttentionLayout
    output: nn.Module  # dense + dropout + residual LayerNorm


class BertLayerLayout(Protocol):
    """A BERT-layout encoder layer. Its parts are looked up on every call, not kept: LoRA swaps `query`/`value`
    for wrappers after the forward is patched."""

    attention: AttentionLayout
    intermediate: nn.Module
    output: nn.Module
    training: bool


class FirstTokenForward:
    """A BERT-layout layer's forward that returns the hidden state of position 0 only, shape (batch, 1, hidden)."""

    def __init__(self, layer: BertLayerLayout) -> None:
        self.layer = layer

    def __call__(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, *args,
                 **kwargs) -> torch.Tensor:
        attention = self.layer.attention
        heads = attention.self.num_attention_heads
        batch = hidden_states.shape[0]

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, x.shape[1], heads, -1).transpose(1, 2)

        first = hidden_states[:, :1]
        query = split(attention.self.query(first))
        key, value = split(attention.self.key(hidden_states)), split(attention.self.value(hidden_states))
        mask = attention_mask
        if mask is not None and mask.dim() == 4 and mask.shape[-2] > 1:
            mask = mask[:, :, :1, :]
        if mask is not None and mask.dtype != torch.bool:
            mask = mask.to(query.dtype)  # additive float mask
        dropout = attention.self.dropout.p if self.layer.training else 0.0
        context = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout,
                                                             scale=attention.self.scaling)
        context = context.transpose(1, 2).reshape(batch, 1, -1)
        attended = attention.output(context, first)
        return self.layer.output(self.layer.intermediate(attended), attended)


def has_bert_layout(layer: nn.Module) -> bool:
    attention = getattr(layer, "attention", None)
    self_attention = getattr(attention, "self", None)
    return (all(hasattr(self_attention, name) for name in ("query", "key", "value", "num_attention_heads", "scaling"))
            and all(hasattr(layer, name) for name in ("intermediate", "output"))
            and hasattr(attention, "output") and not getattr(layer, "add_cross_attention", False))


def first_token_only(layer: nn.Module) -> bool:
    return isinstance(layer.__dict__.get("forward"), FirstTokenForward)


def last_layer_first_token_only(model: nn.Module) -> bool:
    """Give the last encoder layer of a first-token sequence classifier its first-token-only forward.
    Returns whether it applied (in place; the parameters and what `save_pretrained` writes do not change)."""
    if (not type(model).__name__.endswith("ForSequenceClassification")
            or getattr(model.config, "model_type", None) not in FIRST_TOKEN_HEADS):
        return False
    encoder = getattr(getattr(model, "base_model", None), "encoder", None)
    layers = getattr(encoder, "layer", None)
    if not isinstance(layers, nn.ModuleList) or not layers or not has_bert_layout(layers[-1]):
        return False
    if not first_token_only(layers[-1]):
        layers[-1].forward = FirstTokenForward(cast(BertLayerLayout, layers[-1]))  # the layout was just checked
    return True
