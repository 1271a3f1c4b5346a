"""Consistency training on unlabelled text (UDA, Xie et al. 2020): while the model learns the task on the labelled
rows, each micro-batch also carries unlabelled texts (`data.unlabelled_split`) and an augmented copy of each, and
the loss gains a KL term that pulls the prediction on the copy toward the (sharpened, fixed) prediction on the
original. It wraps the recipe's transfer strategy (full, layer-wise LR, freezing, LoRA), which keeps deciding what
trains and at which rate; the saved model is the plain classifier.

As in the paper: the target is the model's own prediction on the original with the gradient stopped, sharpened
by `semi.uda_temperature`; an unlabelled text counts only when that prediction's top probability reaches
`semi.uda_confidence`; the labelled loss may be annealed (`semi.tsa`: a labelled row drops out once the model
gives its class more than η_t = α_t (1 - 1/K) + 1/K, α_t rising linearly, exponentially or logarithmically; a
dropped row counts as a zero loss in the labelled mean, so gradient accumulation stays exact).
Loss = labelled mean + `semi.uda_weight` × mean KL over the unlabelled texts; the trainer logs the labelled part.

The augmentation is the project's offline text augmentation (`nlptl.augment`, EDA operations `semi.uda_ops` at
strength `semi.uda_alpha`), one copy per text seeded by the text, made once before training — not the paper's
back-translation (no translation model is at hand offline) nor its TF-IDF word replacement. The labelled rows and
the augmented copies go through one forward pass (so DDP sees one graph); the originals through a second one
without gradients. Unlabelled rows are drawn by (step, micro-batch, process) (`SideRows`), so resume is exact.
"""

from __future__ import annotations

import logging
import math
import time

import torch
from torch import nn

from nlptl.data.collate import PadCollator
from nlptl.errors import NlptlError
from nlptl.models import load_tokenizer
from nlptl.recipe import UDA_OPS, AugmentSettings, Recipe
from nlptl.tasks.base import Task
from nlptl.training.side_rows import SideRows, text_rows
from nlptl.training.strategies.base import Strategy
from nlptl.training.strategies.wrapper import StrategyWrapper, check_wrappable

logger = logging.getLogger(__name__)
TSA_SCHEDULES = ("linear", "exp", "log")


def check_consistency_settings(recipe: Recipe) -> None:
    """Every semi.uda_* field and what the method needs, before any data is read."""
    semi, data = recipe.semi, recipe.data
    check_wrappable(recipe, "semi.method uda")
    if recipe.domain.method:
        raise NlptlError(f"semi.method uda and domain.method {recipe.domain.method}: choose one of the two")
    if not data.unlabelled_split:
        raise NlptlError("semi.method uda needs data.unlabelled_split: a split of data.source (IMDb: unsup) or a "
                         "file of texts")
    if semi.uda_weight <= 0:
        raise NlptlError(f"semi.uda_weight {semi.uda_weight}: above 0 (1.0 in the paper)")
    if not isinstance(semi.uda_ratio, int) or semi.uda_ratio < 1:
        raise NlptlError(f"semi.uda_ratio {semi.uda_ratio!r}: a whole number of unlabelled texts per labelled row, "
                         "1 or more")
    if not 0 < semi.uda_temperature <= 1:
        raise NlptlError(f"semi.uda_temperature {semi.uda_temperature}: in (0, 1] (1: no sharpening)")
    if not 0 <= semi.uda_confidence < 1:
        raise NlptlError(f"semi.uda_confidence {semi.uda_confidence}: in [0, 1) (0: every unlabelled text counts)")
    if semi.tsa is not None and semi.tsa not in TSA_SCHEDULES:
        raise NlptlError(f"semi.tsa {semi.tsa!r}: choose one of {', '.join(TSA_SCHEDULES)}, or leave it unset")
    if semi.max_unlabelled is not None and semi.max_unlabelled < 1:
        raise NlptlError(f"semi.max_unlabelled {semi.max_unlabelled}: at least 1, or null for the whole split")
    augment_settings(recipe)


def augment_settings(recipe: Recipe) -> AugmentSettings:
    """The augmentation of the unlabelled texts, as augmentation settings (checked: label-free EDA operations)."""
    from nlptl.augment.settings import check, resolve_ops
    from nlptl.augment.text.ops import EDA_OPS

    semi = recipe.semi
    ops = resolve_ops(semi.uda_ops, "semi.uda_ops")
    if not ops or any(op not in EDA_OPS for op in ops):
        raise NlptlError(f"semi.uda_ops {list(semi.uda_ops)}: choose from {', '.join(UDA_OPS)} (operations that keep "
                         "the meaning; antonym flips it)")
    if not 0 < semi.uda_alpha <= 1:
        raise NlptlError(f"semi.uda_alpha {semi.uda_alpha}: the share of words an operation changes, in (0, 1]")
    settings = AugmentSettings(ops=list(ops), alpha=semi.uda_alpha, copies=1, seed=recipe.seed)
    check(settings)
    return settings


def tsa_threshold(schedule: str, progress: float, classes: int) -> float:
    """η_t: labelled rows the model already gives more than this probability drop out of the loss."""
    alpha = {"linear": progress, "exp": math.exp((progress - 1) * 5), "log": 1 - math.exp(-progress * 5)}[schedule]
    return alpha * (1 - 1 / classes) + 1 / classes


def consistency_terms(original_logits: torch.Tensor, augmented_logits: torch.Tensor, temperature: float,
                      confidence: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-text KL(sharpened p(original) || p(augmented)), zero where p(original)'s top probability is below
    `confidence`; and that mask. No gradient flows into the original's prediction."""
    with torch.no_grad():
        original = original_logits.float()
        mask = original.softmax(-1).max(-1).values >= confidence
        target = (original / temperature).softmax(-1)
    log_augmented = augmented_logits.float().log_softmax(-1)
    kl = nn.functional.kl_div(log_augmented, target, reduction="none").sum(-1)
    return kl * mask, mask


def pad_to(inputs: dict[str, torch.Tensor], length: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad every [rows, tokens] input to `length` tokens (input_ids with the pad id, the rest with 0)."""
    return {key: nn.functional.pad(value, (0, length - value.shape[1]), value=pad_id if key == "input_ids" else 0)
            for key, value in inputs.items()}


def stack_inputs(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor],
                 pad_id: int) -> dict[str, torch.Tensor]:
    """Two padded batches as one (the longer one's length), so they share one forward pass."""
    if set(first) != set(second):
        raise ValueError(f"batches with different inputs: {sorted(first)} and {sorted(second)}")
    length = max(first["input_ids"].shape[1], second["input_ids"].shape[1])
    first, second = pad_to(first, length, pad_id), pad_to(second, length, pad_id)
    return {key: torch.cat([first[key], second[key]]) for key in first}


class ConsistencyTraining(StrategyWrapper):
    """The recipe's strategy plus UDA's consistency term on unlabelled texts (see the module doc)."""

    name = "uda"

    def __init__(self, inner: Strategy, recipe: Recipe) -> None:
        check_consistency_settings(recipe)
        super().__init__(inner, recipe)
        self.cfg = recipe.semi
        self.progress_share = 0.0
        self.figures: dict[str, list[torch.Tensor]] = {}
        self.original, self.augmented = self.load_pairs()
        self.side = SideRows(len(self.original), recipe.seed, recipe.train.grad_accum)

    # ---- unlabelled texts and their augmented copies --------------------------------------------------
    def load_pairs(self) -> tuple[list[dict], list[dict]]:
        from nlptl.augment.text.eda import Augmenter
        from nlptl.semi.pool import load_pool

        recipe, data = self.recipe, self.recipe.data
        started = time.perf_counter()
        texts = list(load_pool(recipe, [])[data.text_column])
        augmenter = Augmenter(augment_settings(recipe))
        copies = [next(iter(augmenter.augment(text, None, seed=recipe.seed)), None) for text in texts]
        augmented = [text if copy is None else copy.text for text, copy in zip(texts, copies, strict=True)]
        tokenizer = load_tokenizer(recipe.model, recipe.mirrors)
        self.collate, self.pad_id = PadCollator(tokenizer), int(tokenizer.pad_token_id or 0)
        rows = [text_rows(tokenizer, batch, data) for batch in (texts, augmented)]
        self.report = {"unlabelled_texts": len(texts), "changed_by_augmentation": sum(c is not None for c in copies),
                       "preparation_seconds": round(time.perf_counter() - started, 2)}
        logger.info("UDA: %d unlabelled texts from %s, %d changed by augmentation (%.1f s)", len(texts),
                    data.unlabelled_split, self.report["changed_by_augmentation"], self.report["preparation_seconds"])
        return rows[0], rows[1]

    def unlabelled_batches(self, size: int, device: torch.device) -> tuple[dict, dict]:
        picks = self.side.take(size)
        batches = []
        for rows in (self.original, self.augmented):
            batch = self.collate([rows[i] for i in picks])
            batches.append({key: value.to(device) for key, value in batch.items()})
        return batches[0], batches[1]

    # ---- strategy hooks (the rest: StrategyWrapper) -------------------------------------------------
    def on_step_start(self, model: nn.Module, step: int) -> None:
        self.side.start_step(step)
        self.progress_share = step / self.total_steps
        super().on_step_start(model, step)

    def loss_sum(self, model: nn.Module, inputs: dict, labels: torch.Tensor, task: Task,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        """Labelled loss (TSA-masked) + weight x the consistency term, as a sum the trainer divides by the labelled
        count: the labelled part is scaled to a mean over the rows TSA keeps, the KL sum to a mean over the
        unlabelled texts."""
        cfg, rows = self.cfg, len(labels)
        original, augmented = self.unlabelled_batches(rows * cfg.uda_ratio, labels.device)
        with torch.no_grad():
            original_logits = model(**original).logits
        logits = model(**stack_inputs(inputs, augmented, self.pad_id)).logits
        labelled_logits, augmented_logits = logits[:rows], logits[rows:]
        row_weights = weights
        if cfg.tsa:
            threshold = tsa_threshold(cfg.tsa, self.progress_share, labelled_logits.shape[-1])
            with torch.no_grad():
                correct = labelled_logits.float().softmax(-1).gather(1, labels[:, None])[:, 0]
            kept = correct <= threshold
            row_weights = kept.float() if weights is None else weights * kept
            self.add("tsa_threshold", torch.tensor(threshold))
            self.add("tsa_kept", kept.float().mean())
        labelled = task.loss_sum(labelled_logits, labels, row_weights)
        kl, mask = consistency_terms(original_logits, augmented_logits, cfg.uda_temperature, cfg.uda_confidence)
        consistency = cfg.uda_weight * kl.sum() / cfg.uda_ratio
        self.add("uda_consistency", kl.detach().mean())
        self.add("uda_mask_rate", mask.float().mean())
        self.auxiliary = self.auxiliary + consistency.detach()
        return labelled + consistency

    def add(self, name: str, value: torch.Tensor) -> None:
        self.figures.setdefault(name, []).append(value.detach())

    def progress(self) -> dict[str, float]:
        """Means over the micro-batches since the last call (this process's): the KL term, the share of unlabelled
        texts that counted, and under TSA the threshold and the share of labelled rows kept."""
        figures = {name: round(float(torch.stack(values).float().mean()), 4) for name, values in self.figures.items()}
        self.figures = {}
        return {**self.inner.progress(), **figures}

    def summary(self) -> dict:
        return {**self.inner.summary(), "uda": self.report}

