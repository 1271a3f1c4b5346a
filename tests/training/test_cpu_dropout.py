"""Fast CPU dropout: nn.Dropout's rate and scaling, reproducible from torch's seed, identity in eval mode."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from nlptl.training.cpu_dropout import FastDropout, use_fast_dropout


def test_rate_scale_and_gradient_match_dropout():
    layer = FastDropout(0.1).train()
    x = torch.ones(1000, 1000, requires_grad=True)
    y = layer(x)
    dropped = float((y == 0).float().mean())
    assert abs(dropped - 0.1) < 0.002  # 1M samples: sd 0.0003
    assert float(y[y != 0].unique().item()) == pytest.approx(65536 / (65536 - round(0.1 * 65536)))  # 1/(1-p)
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(x * mask * scale)/dx = mask * scale


def test_masks_follow_torch_seed_and_differ_between_calls():
    layer = FastDropout(0.5).train()
    x = torch.ones(64, 64)
    torch.manual_seed(3)
    first, second = layer(x), layer(x)
    torch.manual_seed(3)
    assert torch.equal(layer(x), first) and not torch.equal(first, second)


def test_identity_in_eval_mode_and_at_zero_rate():
    x = torch.randn(8, 8)
    assert layer_output(FastDropout(0.3).eval(), x) is x
    assert layer_output(FastDropout(0.0).train(), x) is x


def layer_output(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return layer(x)


def test_every_plain_dropout_of_a_bert_is_swapped():
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32)
    model = BertForSequenceClassification(config)
    plain = sum(type(m) is torch.nn.Dropout for m in model.modules())
    assert use_fast_dropout(model) == plain > 0
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())
    assert all(m.p == 0.1 for m in model.modules() if isinstance(m, FastDropout))


def test_rates_sixteen_bits_cannot_hold_fall_back_to_dropout():
    x = torch.ones(1000)
    assert torch.equal(FastDropout(0.999999).train()(x), torch.zeros(1000))  # nn.Dropout: (almost) all dropped
    assert torch.equal(FastDropout(1e-7).train()(x), torch.ones(1000) / (1 - 1e-7))  # nn.Dropout's scaling
