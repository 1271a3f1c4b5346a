"""The Accelerate training loop: one process or many, CPU or GPU, same code.

Gradient accumulation normalises by the number of targets in the whole accumulation window (over all
processes), so accumulating k micro-batches equals one k-times larger batch. Checkpoints hold model,
optimizer, scheduler, RNG and loop state; the batch order is a function of (seed, epoch), so a resumed run
continues exactly where the interrupted one was.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import torch
from accelerate import Accelerator
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from nlptl.data.batching import eval_batches, train_batches
from nlptl.data.collate import MODEL_INPUTS, Collator
from nlptl.errors import NlptlError
from nlptl.io import append_jsonl
from nlptl.recipe import Recipe
from nlptl.tasks.base import Task
from nlptl.training.checkpoints import (
    LoopState,
    accelerate_view,
    checkpoint_dir,
    load_loop_state,
    publish,
    rotate,
    save_loop_state,
    staging_dir,
)
from nlptl.training.clipping import clip_gradients
from nlptl.training.cpu_dropout import use_fast_dropout
from nlptl.training.learning_check import check_learning, loss_window, record_loss, warn
from nlptl.training.optim import build_optimizer, build_scheduler
from nlptl.training.sparse_rows import check_resumable, sparse_embedding
from nlptl.training.strategies import FullFineTuning, Strategy, parameter_counts

logger = logging.getLogger(__name__)
EvalCallback = Callable[[dict], bool]  # gets each history.jsonl record; True asks the loop to stop (tune's pruning)


@dataclass
class Window:
    """Training loss and throughput since the last evaluation."""

    loss_sum: float = 0.0
    targets: int = 0
    samples: int = 0
    started: float = field(default_factory=time.perf_counter)

    def add(self, loss_sum: float, targets: int, samples: int) -> None:
        self.loss_sum += loss_sum
        self.targets += targets
        self.samples += samples

    def mean_loss(self) -> float:
        return self.loss_sum / max(self.targets, 1)

    def samples_per_second(self) -> float:
        return self.samples / max(time.perf_counter() - self.started, 1e-9)


class Trainer:
    def __init__(self, recipe: Recipe, task: Task, tokenizer, splits: datasets.DatasetDict,
                 accelerator: Accelerator, strategy: Strategy | None = None,
                 train_collate: Collator | None = None, on_evaluate: EvalCallback | None = None) -> None:
        self.recipe, self.cfg, self.task, self.splits = recipe, recipe.train, task, splits
        self.accelerator = accelerator
        self.output_dir = recipe.resolved_output_dir()
        self.strategy = strategy or FullFineTuning()
        self.metric_for_best = self.cfg.metric_for_best or task.main_metric
        self.collate = task.collator(tokenizer)
        self.train_collate: Collator = train_collate or self.collate  # e.g. on-the-fly augmentation's collator
        self.state = LoopState()
        self.on_evaluate: EvalCallback = on_evaluate or (lambda record: False)
        self.stop_requested = False  # set by on_evaluate; not loop state (a resumed run asks again)
        if self.cfg.group_window < 1:
            raise NlptlError(f"train.group_window={self.cfg.group_window}: use at least 1 batch per sorting window")
        model = self.strategy.configure(task.build_model(recipe))
        if accelerator.device.type == "cpu":
            use_fast_dropout(model)  # the same dropout, its masks drawn faster (training/cpu_dropout.py)
        self.train_batches = train_batches(splits["train"], recipe, getattr(self.train_collate, "epoch_lengths", None))
        train_loader = DataLoader(splits["train"], batch_sampler=self.train_batches,
                                  collate_fn=self.train_collate, generator=torch.Generator())
        groups = self.strategy.param_groups(model, self.cfg)
        self.parameter_counts = parameter_counts(model, groups)
        embedding_rows = sparse_embedding(model, groups, self.cfg, accelerator)
        self.embedding_update = "dense" if embedding_rows is None else "sparse"
        optimizer = build_optimizer(groups, self.cfg, sparse_rows=embedding_rows)
        self.model, self.optimizer, self.train_loader = accelerator.prepare(model, optimizer, train_loader)
        self.steps_per_epoch = math.ceil(len(self.train_loader) / self.cfg.grad_accum)
        self.total_steps = self.cfg.max_steps or max(math.ceil(self.cfg.epochs * self.steps_per_epoch),
                                                     self.cfg.min_steps or 0)
        self.loss_window = loss_window(self.total_steps, self.cfg.log_every)  # for the did-not-learn check
        self.strategy.on_train_start(self.total_steps, self.steps_per_epoch)
        self.scheduler = accelerator.prepare(build_scheduler(self.optimizer, self.cfg, self.total_steps))
        self.eval_loaders = {
            split: accelerator.prepare(DataLoader(
                ds, batch_sampler=eval_batches(ds, self.cfg.eval_batch_size, accelerator.num_processes),
                collate_fn=self.collate,
                generator=torch.Generator()))
            for split, ds in splits.items() if split != "train"
        }

    # ---- the loop -------------------------------------------------------------------------------------
    def resume(self, checkpoint: Path) -> None:
        """Model, optimizer, scheduler, RNG and loop state as they were when the checkpoint was written; a
        damaged checkpoint is a clear error (accelerate would skip an unreadable RNG state silently, and the run
        would no longer continue exactly)."""
        from accelerate.utils import load as safe_load  # torch.load(weights_only=True) + numpy's RNG arrays

        check_resumable(checkpoint, sparse=self.embedding_update == "sparse")
        try:
            safe_load(checkpoint / f"random_states_{self.accelerator.process_index}.pkl")
            with accelerate_view(checkpoint) as folder:
                self.accelerator.load_state(str(folder))
            load_loop_state(checkpoint, self.state)
        except Exception as err:  # torch, safetensors and pickle each raise their own types for a damaged file
            detail = (str(err).strip().splitlines() or [""])[0][:200]
            raise NlptlError(f"checkpoint {checkpoint} cannot be loaded ({type(err).__name__}: {detail}); delete "
                             "that folder to resume from the previous checkpoint, or pass --resume PATH of another "
                             "one") from None
        logger.info("resumed from %s at step %d", checkpoint, self.state.step)

    def fit(self, run_started: float | None = None) -> dict:
        """Train to the end (or early stop). `run_started` (perf_counter) dates the time to the first step."""
        acc, cfg, state = self.accelerator, self.cfg, self.state
        bar = tqdm(total=self.total_steps, initial=state.step, disable=not acc.is_local_main_process,
                   desc="training", unit="step")
        started, first_step_at = time.perf_counter(), None
        run_started = run_started or started
        since_eval = Window()
        try:  # the bar is closed before an error is printed, not after it
            while state.step < self.total_steps and not self.should_stop():
                self.train_batches.set_epoch(state.epoch)
                self.train_collate.set_epoch(state.epoch)  # collators that draw per epoch: augmentation, masking
                self.strategy.on_epoch_start(acc.unwrap_model(self.model), state.epoch)
                loader = acc.skip_first_batches(self.train_loader, state.batches_in_epoch)
                self.model.train()
                for window in self.accumulation_windows(loader):
                    self.strategy.on_step_start(acc.unwrap_model(self.model), state.step)
                    since_eval.add(*self.optimizer_step(window))
                    state.step += 1
                    state.batches_in_epoch += len(window)
                    first_step_at = first_step_at or time.perf_counter() - run_started
                    bar.update(1)
                    if state.step % cfg.log_every == 0:
                        lr = self.scheduler.get_last_lr()[0]
                        acc.log({"train/loss": since_eval.mean_loss(), "train/lr": lr}, step=state.step)
                    done = state.step >= self.total_steps
                    epoch_end = state.batches_in_epoch >= len(self.train_loader)
                    if done or (cfg.eval_every and state.step % cfg.eval_every == 0) or (
                            epoch_end and not cfg.eval_every):
                        self.evaluate_and_checkpoint(since_eval.mean_loss(), since_eval.samples_per_second())
                        since_eval = Window()
                    if done or self.should_stop():
                        break
                else:
                    state.epoch, state.batches_in_epoch = state.epoch + 1, 0
        finally:
            bar.close()
        return {"time_to_first_step_s": first_step_at, "train_runtime_s": time.perf_counter() - started,
                "steps": state.step, "samples_seen": state.samples_seen, "train_examples": len(self.splits["train"]),
                "embedding_update": self.embedding_update, **self.parameter_counts, **self.strategy.summary()}

    def accumulation_windows(self, loader):
        """Groups of `grad_accum` micro-batches; the last group of an epoch may be shorter."""
        window = []
        for batch in loader:
            window.append(batch)
            if len(window) == self.cfg.grad_accum:
                yield window
                window = []
        if window:
            yield window

    def optimizer_step(self, window: list[dict]) -> tuple[float, int, int]:
        """Forward/backward over the window, then one optimizer step.

        Returns the loss sum, target count and sample count over all processes."""
        acc = self.accelerator
        local_count = sum(self.task_of(batch).count_targets(batch["labels"]) for batch in window)
        total = acc.reduce(torch.tensor(local_count, device=acc.device), reduction="sum").item()
        scale = acc.num_processes / max(total, 1)  # DDP averages gradients over processes
        local_loss = 0.0
        for i, batch in enumerate(window):
            inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
            sync = acc.no_sync(self.model) if i < len(window) - 1 else nullcontext()
            with sync:
                loss_sum = self.strategy.loss_sum(self.model, inputs, batch["labels"], self.task_of(batch),
                                                  batch.get("weight"))
                acc.backward(loss_sum * scale)
            local_loss += loss_sum.detach().float().item()
        local_loss -= self.strategy.auxiliary_loss_sum()  # the task's loss alone is logged and checked
        if self.cfg.max_grad_norm:
            clip_gradients(acc, self.model, self.cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        samples = sum(len(batch["labels"]) for batch in window) * acc.num_processes
        self.state.samples_seen += samples
        loss = acc.reduce(torch.tensor(local_loss, device=acc.device), reduction="sum").item()
        record_loss(self.state, loss / max(total, 1), self.loss_window)
        return loss, int(total), samples

    def should_stop(self) -> bool:
        patience = self.cfg.early_stopping_patience
        return self.stop_requested or bool(patience and self.state.evals_without_improvement >= patience)

    # ---- evaluation and checkpoints -------------------------------------------------------------------
    def evaluate(self, split: str) -> dict:
        """Metrics on a split, with the mean loss per target; predictions are gathered from all processes, each
        example exactly once."""
        acc, dataset, loader = self.accelerator, self.splits[split], self.eval_loaders[split]
        self.model.eval()
        by_id: dict[int, tuple] = {}
        with torch.inference_mode():
            for batch in tqdm(loader, desc=f"evaluating {split}", unit="batch", leave=False,
                              disable=not acc.is_local_main_process):
                logits = self.model(**{k: v for k, v in batch.items() if k in MODEL_INPUTS}).logits
                task = self.task_of(batch)
                predictions, labels = task.predict(logits), batch["labels"]
                rows = [batch["example_id"], predictions, labels, self.example_losses(task, logits, labels)]
                if acc.num_processes > 1:
                    rows = self.padded_for_gather(acc, rows)
                for i, p, r, loss in zip(*(t.tolist() for t in acc.gather(rows)), strict=True):
                    if i >= 0:  # -1: padding; an example repeated to even out batches keeps its first copy
                        by_id.setdefault(i, (p, r, loss))
        self.model.train()
        ordered = [by_id[i] for i in sorted(by_id)]
        metrics = self.task.compute_metrics([p for p, _, _ in ordered], [r for _, r, _ in ordered], split, dataset)
        metrics["loss"] = sum(loss for _, _, (loss, _) in ordered) / max(sum(n for _, _, (_, n) in ordered), 1)
        metrics.update(self.task.metrics_from_loss(metrics["loss"]))  # perplexity
        return metrics

    def task_of(self, batch: dict) -> Task:
        """The task that scores this batch: the run's task, or (multi-task) the one the batch belongs to."""
        pick = getattr(self.task, "task_of", None)
        return pick(batch) if pick is not None else self.task

    @staticmethod
    def padded_for_gather(acc: Accelerator, rows: list[torch.Tensor]) -> list[torch.Tensor]:
        """(ids, predictions, labels, losses) padded to the largest shape any process holds, so they can be
        gathered: token tasks' widths (-100, ignored like any padding label) and batch sizes, which differ in a
        multi-task run (-1 ids: dropped after the gather)."""
        ids, predictions, labels, losses = rows
        if labels.dim() > 1:
            predictions = acc.pad_across_processes(predictions, dim=1, pad_index=-100)
            labels = acc.pad_across_processes(labels, dim=1, pad_index=-100)
        return [acc.pad_across_processes(t, dim=0, pad_index=-1) for t in (ids, predictions, labels, losses)]

    @staticmethod
    def example_losses(task: Task, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(loss sum, target count) per example, so the gathered mean counts each example once."""
        rows = range(len(labels))
        sums = torch.stack([task.loss_sum(logits[i:i + 1], labels[i:i + 1]).float() for i in rows])
        counts = torch.tensor([float(task.count_targets(labels[i:i + 1])) for i in rows], device=sums.device)
        return torch.stack([sums, counts], dim=1)

    def evaluate_and_checkpoint(self, train_loss: float, samples_per_second: float) -> None:
        acc, cfg, state = self.accelerator, self.cfg, self.state
        record = {"step": state.step, "epoch": round(state.step / self.steps_per_epoch, 4),
                  "loss": train_loss, "lr": self.scheduler.get_last_lr()[0],
                  "samples_per_second": samples_per_second, **self.strategy.progress()}
        path = checkpoint_dir(self.output_dir, state.step)
        metrics = None
        if "validation" in self.splits:
            metrics = self.evaluate("validation")
            scalars = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
            record["validation"] = scalars
            acc.log({f"validation/{k}": v for k, v in scalars.items()}, step=state.step)
            value = metrics.get(self.metric_for_best)
            if value is None:
                raise NlptlError(f"train.metric_for_best={self.metric_for_best!r} is not a metric of this task "
                                 f"(available: {', '.join(scalars)})")
            better = state.best_metric is None or (
                value > state.best_metric if cfg.greater_is_better else value < state.best_metric)
            if better:
                state.best_metric, state.best_checkpoint = value, str(path)
                state.evals_without_improvement = 0
            else:
                state.evals_without_improvement += 1
        signs = check_learning(self.task, metrics, state, self.loss_window)
        if signs:
            record["did_not_learn"] = signs
            warn(signs, self.cfg.lr)
        self.save_checkpoint(path, record)
        self.stop_requested = bool(self.on_evaluate(record))

    def save_checkpoint(self, path: Path, record: dict | None = None) -> None:
        """Write into a staging folder, then (main process) append the history record, write the loop state last
        and rename the folder: a kill at any moment leaves the previous checkpoint the newest complete one, and
        a history record newer than it is dropped on resume. A failed write (full disk) loses nothing."""
        acc, staging = self.accelerator, staging_dir(path)
        try:
            if acc.is_main_process:
                shutil.rmtree(staging, ignore_errors=True)
            acc.wait_for_everyone()
            acc.save_state(str(staging))
            acc.wait_for_everyone()
            if acc.is_main_process:
                if record is not None:
                    append_jsonl(self.output_dir / "history.jsonl", record)
                save_loop_state(staging, self.state)
                publish(staging, path)
                rotate(self.output_dir, self.cfg.keep_checkpoints, self.state.best_checkpoint)
        except (OSError, RuntimeError) as err:  # torch.save reports a failed write as RuntimeError
            if acc.is_main_process:
                shutil.rmtree(staging, ignore_errors=True)
            detail = getattr(err, "strerror", None) or (str(err).strip().splitlines() or [""])[0][:200]
            raise NlptlError(f"cannot write checkpoint {path} ({detail}); free disk space or make "
                             f"{path.parent} writable, then continue with --resume") from None
        acc.wait_for_everyone()

    def load_best_model(self) -> None:
        """Put the best checkpoint's weights back into the model (best-model selection)."""
        best = self.state.best_checkpoint
        if best and Path(best).resolve() != checkpoint_dir(self.output_dir, self.state.step).resolve():
            weights = load_file(str(Path(best) / "model.safetensors"))
            self.accelerator.unwrap_model(self.model).load_state_dict(weights, strict=False)
            logger.info("loaded the best model (%s=%s) from %s", self.metric_for_best, self.state.best_metric,
                        best)
