"""Clipping by global norm: the same gradients as torch's clip_grad_norm_, bit for bit, clipped or not."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator

from nlptl.training.clipping import clip_gradients


def model_with_gradients(scale: float) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 3))
    (model(torch.randn(5, 8)).sum() * scale).backward()
    model[0].bias.grad = None  # a parameter without a gradient is skipped, as in torch
    return model


@pytest.mark.parametrize("scale", [1e-3, 1e3])  # within the norm (nothing to do) and far above it
def test_same_gradients_as_torch(scale):
    ours, reference = model_with_gradients(scale), model_with_gradients(scale)  # seeded: the same gradients
    expected_norm = torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
    norm = clip_gradients(Accelerator(cpu=True), ours, 1.0)
    assert norm == pytest.approx(float(expected_norm), rel=1e-6)
    for a, b in zip(ours.parameters(), reference.parameters(), strict=True):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert torch.equal(a.grad, b.grad)
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours.parameters() if p.grad is not None]))
    assert float(total) <= 1.0 + 1e-5


def test_sparse_embedding_rows_are_clipped_like_their_dense_gradient():
    """A sparse word-embedding gradient (training/sparse_rows.py) counts in the norm and is scaled like the
    dense gradient it stands for, repeated ids included."""
    torch.manual_seed(0)
    sparse, dense = torch.nn.Embedding(10, 4, sparse=True), torch.nn.Embedding(10, 4)
    dense.load_state_dict(sparse.state_dict())
    ids = torch.tensor([1, 2, 2, 7])
    for layer in (sparse, dense):
        (layer(ids).sum() * 100).backward()
    expected = torch.nn.utils.clip_grad_norm_(dense.parameters(), 1.0)
    norm = clip_gradients(Accelerator(cpu=True), sparse, 1.0)
    assert norm == pytest.approx(float(expected), rel=1e-6)
    torch.testing.assert_close(sparse.weight.grad.to_dense(), dense.weight.grad)
