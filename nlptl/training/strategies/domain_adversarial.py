"""Adversarial domain adaptation (DANN, Ganin et al. 2016): while the model learns the task on labelled source
text, a domain classifier learns to tell source from (unlabelled) target text from the same pooled features the
task head reads — through a gradient-reversal layer, so the encoder is pushed toward features the domain
classifier cannot separate. It wraps the recipe's transfer strategy (full, layer-wise LR, freezing, LoRA), which
keeps deciding what trains and at which rate; the saved model is the plain classifier.

Each micro-batch of source rows is followed by a target micro-batch of the same size, drawn from a seeded
permutation of the target texts by (step, micro-batch, process), so a resumed run sees the same target batches.
λ rises from 0 to `domain.lambda_max` as 2 / (1 + exp(-10 p)) - 1 with p the share of training done (the paper's
schedule). The domain classifier's accuracy on the batches since the last evaluation goes to history.jsonl
(`domain_accuracy`): near 0.5 means the features no longer tell the domains apart.
"""

from __future__ import annotations

import logging
import math
from typing import Any, cast

import torch
from torch import nn
from transformers import PreTrainedModel

from nlptl.data.collate import PadCollator
from nlptl.domain.targets import target_texts
from nlptl.errors import NlptlError
from nlptl.models import load_tokenizer
from nlptl.recipe import Recipe, TrainConfig
from nlptl.tasks.base import Task
from nlptl.training.optim import numeric_lr
from nlptl.training.side_rows import SideRows, text_rows
from nlptl.training.strategies.base import Strategy
from nlptl.training.strategies.wrapper import StrategyWrapper, check_wrappable

logger = logging.getLogger(__name__)
HEAD = "domain_classifier"


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient comes back multiplied by -λ."""

    @staticmethod
    def forward(ctx: Any, features: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return features.view_as(features)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(features: torch.Tensor, scale: float) -> torch.Tensor:
    return GradientReversal.apply(features, scale)


def dann_lambda(progress: float, maximum: float) -> float:
    """Ganin et al.'s schedule: 0 at the start, close to `maximum` by the end."""
    return maximum * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


def head_input_hook(model: nn.Module, store: dict) -> Any:
    """Record what the task head reads (the pooled [CLS] features for BERT) on every forward pass."""
    names = [name for name, _ in model.named_modules() if name.split(".")[-1] == "classifier"]
    if not names:
        raise NlptlError(f"domain.method dann: {type(model).__name__} has no `classifier` head to read features from")
    head = model.get_submodule(min(names, key=len))

    def keep(module: nn.Module, args: tuple) -> None:
        features = args[0]
        store["features"] = features[:, 0] if features.dim() == 3 else features

    return head.register_forward_pre_hook(keep)


class DomainAdversarial(StrategyWrapper):
    """The recipe's strategy plus a domain classifier behind gradient reversal (see the module doc)."""

    name = "dann"

    def __init__(self, inner: Strategy, recipe: Recipe) -> None:
        check_wrappable(recipe, "domain.method dann")
        cfg = recipe.domain
        if cfg.weight <= 0 or cfg.lambda_max <= 0:
            raise NlptlError(f"domain.weight {cfg.weight} and domain.lambda_max {cfg.lambda_max} must be above 0")
        super().__init__(inner, recipe)
        self.cfg = cfg
        self.store: dict[str, torch.Tensor] = {}
        self.scale = 0.0
        self.correct = self.seen = 0
        self.target_rows = self.load_target()

    # ---- target texts -------------------------------------------------------------------------------
    def load_target(self) -> list[dict]:
        recipe, data = self.recipe, self.recipe.data
        texts = target_texts(recipe)
        tokenizer = load_tokenizer(recipe.model, recipe.mirrors)
        self.collate = PadCollator(tokenizer)
        rows = text_rows(tokenizer, texts, data)
        self.side = SideRows(len(rows), recipe.seed, recipe.train.grad_accum)
        logger.info("DANN: %d target texts from %s (%s)", len(rows), self.cfg.target_source or data.source,
                    self.cfg.target_split)
        return rows

    def target_batch(self, size: int, device: torch.device) -> dict[str, torch.Tensor]:
        """The target rows of this (step, micro-batch, process): a function of them alone, so resume is exact."""
        picks = [self.target_rows[i] for i in self.side.take(size)]
        return {key: value.to(device) for key, value in self.collate(picks).items() if key != "labels"}

    # ---- strategy hooks -----------------------------------------------------------------------------
    def configure(self, model: nn.Module) -> nn.Module:
        model = self.inner.configure(model)
        hidden = int(cast(Any, model).config.hidden_size)  # a PreTrainedModel or a peft wrapper of one
        model.add_module(HEAD, nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2)))
        self.hook = head_input_hook(model, self.store)
        return model

    def param_groups(self, model: nn.Module, cfg: TrainConfig) -> list[dict]:
        head = model._modules.pop(HEAD)  # the inner strategy groups the task model's own parameters
        try:
            groups = self.inner.param_groups(model, cfg)
        finally:
            model._modules[HEAD] = head
        assert head is not None
        return [*groups, {"params": list(head.parameters()), "lr": numeric_lr(cfg), "weight_decay": 0.0}]

    def on_step_start(self, model: nn.Module, step: int) -> None:
        self.side.start_step(step)
        self.scale = dann_lambda(step / self.total_steps, self.cfg.lambda_max)
        super().on_step_start(model, step)

    def loss_sum(self, model: nn.Module, inputs: dict, labels: torch.Tensor, task: Task,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        """Task loss of the source batch + weight x the domain loss of source and target batches (summed, so the
        trainer's normalisation by the labelled count applies to both)."""
        task_loss = self.inner.loss_sum(model, inputs, labels, task, weights)
        source = self.store.pop("features")
        model(**self.target_batch(len(labels), labels.device))
        target = self.store.pop("features")
        features = reverse_gradient(torch.cat([source, target]).float(), self.scale)
        domains = torch.cat([torch.zeros(len(source)), torch.ones(len(target))]).long().to(features.device)
        head = getattr(model, "module", model).get_submodule(HEAD)
        logits = head(features)
        domain_loss = self.cfg.weight * nn.functional.cross_entropy(logits, domains, reduction="sum")
        with torch.no_grad():
            self.correct += int((logits.argmax(-1) == domains).sum())
            self.seen += len(domains)
            self.auxiliary = self.auxiliary + domain_loss.detach()
        return task_loss + domain_loss

    def progress(self) -> dict[str, float]:
        """Domain accuracy on the batches since the last call (this process's), and the current λ."""
        figures = {"domain_accuracy": self.correct / self.seen} if self.seen else {}
        self.correct = self.seen = 0
        return {**figures, "dann_lambda": round(self.scale, 4)}

    def export_model(self, model: nn.Module) -> PreTrainedModel:
        self.hook.remove()
        model._modules.pop(HEAD, None)
        return self.inner.export_model(model)
