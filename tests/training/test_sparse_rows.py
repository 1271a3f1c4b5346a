"""Sparse word-embedding rows: lazy Adam equals AdamW on the rows a step uses, leaves the others alone, and is one
optimizer to schedulers and checkpoints; the trainer uses it only where it can."""

from __future__ import annotations

import copy as copy_module

import pytest
import torch
from accelerate import Accelerator
from conftest import tiny_recipe

import nlptl
from nlptl.errors import NlptlError
from nlptl.recipe import TrainConfig
from nlptl.training.optim import build_optimizer, param_groups
from nlptl.training.sparse_rows import SparseRowsAdamW, check_resumable, sparse_embedding


class Tiny(torch.nn.Module):
    def __init__(self, tied: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(12, 4)
        self.head = torch.nn.Linear(4, 12)
        if tied:
            self.head.weight = self.embedding.weight

    def get_input_embeddings(self) -> torch.nn.Embedding:
        return self.embedding

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.embedding(ids))).sum(-1)


def trained(ids_per_step: list[list[int]], sparse: bool, cfg: TrainConfig) -> Tiny:
    model = Tiny()
    groups = param_groups(model, cfg)
    optimizer = build_optimizer(groups, cfg, sparse_rows=model.embedding if sparse else None)
    for ids in ids_per_step:
        (model(torch.tensor(ids)) ** 2).sum().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return model


def test_equals_adamw_when_every_row_is_used_each_step():
    """Lazy Adam differs from Adam only on rows a step does not use: with all rows used, the same weights (decay
    included)."""
    cfg = TrainConfig(lr=1e-2, weight_decay=0.1)
    steps = [list(range(12)), list(range(12)) + [3, 3], list(range(11, -1, -1))]
    sparse, dense = trained(steps, True, cfg), trained(steps, False, cfg)
    assert sparse.embedding.sparse and not dense.embedding.sparse
    for a, b in zip(sparse.parameters(), dense.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_rows_a_step_does_not_use_are_left_alone():
    cfg = TrainConfig(lr=1e-2, weight_decay=0.1)
    before = Tiny().embedding.weight.detach().clone()
    after = trained([[1, 2, 3], [2, 3]], True, cfg).embedding.weight.detach()
    assert torch.equal(after[4:], before[4:]) and torch.equal(after[0], before[0])
    assert not torch.equal(after[1:4], before[1:4])
    dense = trained([[1, 2, 3], [2, 3]], False, cfg).embedding.weight.detach()
    assert not torch.equal(dense[1], after[1])  # dense AdamW moves row 1 again on step 2 (momentum, decay)


def test_scheduler_and_checkpoint_see_one_optimizer():
    cfg = TrainConfig(lr=1e-2, weight_decay=0.1)
    model = Tiny()
    optimizer = build_optimizer(param_groups(model, cfg), cfg, sparse_rows=model.embedding)
    assert isinstance(optimizer, SparseRowsAdamW)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    for _ in range(2):
        (model(torch.tensor([1, 5])) ** 2).sum().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    assert {group["lr"] for group in optimizer.param_groups} == {2.5e-3}
    assert optimizer.rows.param_groups[0]["lr"] == 2.5e-3  # the embedding's rate follows the schedule too

    copy = Tiny()
    copy.load_state_dict(model.state_dict())
    restored = build_optimizer(param_groups(copy, cfg), cfg, sparse_rows=copy.embedding)
    restored.load_state_dict(copy_module.deepcopy(optimizer.state_dict()))  # as from a file: no shared tensors
    for m, opt in ((model, optimizer), (copy, restored)):
        (m(torch.tensor([1, 7])) ** 2).sum().backward()
        opt.step()
    for a, b in zip(model.parameters(), copy.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(NlptlError, match="embedding_update=dense"):
        restored.load_state_dict(torch.optim.AdamW(Tiny().parameters()).state_dict())


def test_where_the_rows_can_be_sparse():
    cpu = Accelerator(cpu=True)
    model = Tiny()
    groups = param_groups(model, TrainConfig())
    assert sparse_embedding(model, groups, TrainConfig(), cpu) is model.embedding
    assert sparse_embedding(model, groups, TrainConfig(embedding_update="dense"), cpu) is None
    tied = Tiny(tied=True)
    tied_groups = param_groups(tied, TrainConfig())
    assert sparse_embedding(tied, tied_groups, TrainConfig(), cpu) is None  # auto falls back to dense
    with pytest.raises(NlptlError, match="tied to another layer"):
        sparse_embedding(tied, tied_groups, TrainConfig(embedding_update="sparse"), cpu)
    model.embedding.weight.requires_grad_(False)
    frozen_groups = param_groups(model, TrainConfig())
    with pytest.raises(NlptlError, match="do not train"):
        sparse_embedding(model, frozen_groups, TrainConfig(embedding_update="sparse"), cpu)
    with pytest.raises(NlptlError, match="choose one of auto, dense, sparse"):
        sparse_embedding(model, groups, TrainConfig(embedding_update="lazy"), cpu)


def test_a_cpu_run_updates_sparse_rows_and_says_so(tiny_model_dir, tiny_data_dir, tmp_path):
    metrics = nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", max_steps=4))
    assert metrics["train"]["embedding_update"] == "sparse"
    frozen = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "frozen", max_steps=4,
                         embedding_update="sparse")
    frozen.strategy.name = "partial_freezing"  # freezes the embeddings
    with pytest.raises(NlptlError, match="embedding_update=sparse is not possible here"):
        nlptl.train(frozen)
    assert not (tmp_path / "frozen" / "metrics.json").exists()


def test_a_dense_gradient_on_the_sparse_embedding_is_a_clear_error():
    """A model that also uses the embedding weights outside the lookup gives them a dense gradient."""
    cfg = TrainConfig()
    model = Tiny()
    optimizer = build_optimizer(param_groups(model, cfg), cfg, sparse_rows=model.embedding)
    (model.embedding.weight.sum() + model(torch.tensor([1])).sum()).backward()  # dense + sparse: dense
    with pytest.raises(NlptlError, match="set train.embedding_update=dense"):
        optimizer.step()


def test_resuming_with_the_other_embedding_update_names_the_setting(tmp_path):
    cfg = TrainConfig()
    for sparse, saved in ((True, False), (False, True)):
        model = Tiny()
        optimizer = build_optimizer(param_groups(model, cfg), cfg, sparse_rows=model.embedding if saved else None)
        torch.save(optimizer.state_dict(), tmp_path / "optimizer.bin")
        used = "sparse" if saved else "dense"
        with pytest.raises(NlptlError, match=f"resume with --train.embedding_update {used}"):
            check_resumable(tmp_path, sparse=sparse)
        check_resumable(tmp_path, sparse=saved)  # the same format resumes
