"""Window pooling: softmax of the pooled logits, whatever constant each window's logits carry."""

from __future__ import annotations

import pytest
import torch

from nlptl import NlptlError
from nlptl.data.windows import check_window_settings, default_stride, pool_windows


def test_mean_pooling_is_the_softmax_of_the_mean_logits_and_max_of_the_strongest_window():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [5.0, 1.0], [0.3, 0.2], [9.0, 9.5]])
    owners = [0, 0, 0, 1, 1]
    pooled = pool_windows(logits.softmax(-1), owners, 2, "mean")
    expected = torch.stack([logits[:3].mean(0), logits[3:].mean(0)]).softmax(-1)
    assert torch.allclose(pooled, expected, atol=1e-6)
    log_p = logits.log_softmax(-1)
    maxed = pool_windows(logits.softmax(-1), owners, 2, "max")
    assert torch.allclose(maxed, torch.stack([log_p[:3].max(0).values, log_p[3:].max(0).values]).softmax(-1))
    assert maxed[0].argmax() == 0 and pooled[1].argmax() == 1  # max follows window 2's strong "class 0"


def test_one_window_per_text_keeps_its_probabilities():
    probabilities = torch.tensor([[0.2, 0.8], [0.6, 0.4]])
    assert pool_windows(probabilities, [0, 1], 2, "max") is probabilities


def test_settings_errors_name_the_setting():
    with pytest.raises(NlptlError, match="long_text 'pages': choose one of truncate, window"):
        check_window_settings("pages", "mean")
    with pytest.raises(NlptlError, match="window_pooling 'sum'"):
        check_window_settings("window", "sum")
    with pytest.raises(NlptlError, match="text pairs"):
        check_window_settings("window", "mean", pair=True)
    assert default_stride(256, None) == 64 and default_stride(256, 0) == 0
