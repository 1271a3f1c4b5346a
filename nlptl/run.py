"""Entry points: `train(recipe)` for Python callers, `main(recipe)` for recipe files and the CLI."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import datasets
import torch
import transformers
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedDataParallelKwargs, set_seed

from nlptl.allocator import keep_freed_memory
from nlptl.augment.stage import AugmentStage
from nlptl.data.pipeline import build_datasets
from nlptl.errors import NlptlError
from nlptl.evaluation.plots import plot_training_curves
from nlptl.io import atomic_dir_contents, check_writable, os_reason, write_json, write_text
from nlptl.models import load_config, load_tokenizer
from nlptl.overrides import apply_overrides
from nlptl.precision import LayerShape, PrecisionChoice, training_precision
from nlptl.recipe import Recipe, recipe_to_yaml
from nlptl.semi import IN_TRAINING as SEMI_IN_TRAINING
from nlptl.semi import check_semi_method, run_semi
from nlptl.tasks import get_task
from nlptl.training.checkpoints import CHECKPOINTS, find_resume_checkpoint, list_checkpoints
from nlptl.training.distributed import force_cpu, partial_state
from nlptl.training.learning_check import check_learning, warn
from nlptl.training.lr_find import RangeTest, find_lr
from nlptl.training.strategies import Strategy, build_strategy
from nlptl.training.tracking import available_trackers, flat_hparams
from nlptl.training.trainer import EvalCallback, Trainer

logger = logging.getLogger("nlptl")
RUN_OUTPUTS = ("metrics.json", "history.jsonl", "model.safetensors")
PRECISION_FILE = "precision.json"  # the measured choice, kept so a resumed run uses the same format


def run_outputs_in(output_dir: Path) -> list[str]:
    """What a finished or interrupted run left in `output_dir` (empty: no run there)."""
    return [name for name in RUN_OUTPUTS if (output_dir / name).exists()] + (
        ["checkpoints/"] if list_checkpoints(output_dir) else [])


def check_output_dir(output_dir: Path, recipe: Recipe) -> None:
    """Never overwrite a finished or interrupted run by accident."""
    existing = run_outputs_in(output_dir)
    if existing and not recipe.resume and not recipe.overwrite_output_dir:
        raise NlptlError(
            f"output dir {output_dir} already holds a run ({', '.join(existing)}); "
            "continue it with --resume, replace it with --overwrite-output-dir, or pass --output-dir NEW_DIR"
        )


def trim_history(path: Path, last_step: int) -> None:
    """After a resume, drop evaluation records newer than the checkpoint (they will be redone)."""
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line and record_step(line) <= last_step]
        write_text(path, "".join(line + "\n" for line in lines))


def record_step(line: str) -> float:
    """The step of a history line; a line cut by a crash counts as newer than any checkpoint (it is dropped)."""
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return float("inf")


def recorded_precision(recipe: Recipe) -> PrecisionChoice | None:
    """The choice an interrupted `auto` run recorded (None when there is none or it cannot be read: measure)."""
    saved = recipe.resolved_output_dir() / PRECISION_FILE
    try:
        recorded = PrecisionChoice(**json.loads(saved.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return dataclasses.replace(recorded, reason=f"as the interrupted run ({recorded.reason})", cached=True)


def choose_precision(recipe: Recipe, resuming: bool) -> PrecisionChoice:
    """`train.mixed_precision`, measured on the main process when `auto`, the same for every process; a resumed
    run keeps the format its checkpoints were trained in."""
    state = partial_state()
    choice = recorded_precision(recipe) if resuming and recipe.train.mixed_precision == "auto" else None
    if choice is None and state.is_main_process:
        shape = None
        if recipe.train.mixed_precision == "auto" and state.device.type == "cpu":
            shape = LayerShape.of(load_config(recipe.model, recipe.mirrors), recipe.train.batch_size,
                                  recipe.data.max_length)
        choice = training_precision(recipe.train.mixed_precision, state.device.type, shape)
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        choice = broadcast_object_list([choice])[0]
    assert choice is not None
    return choice


def make_accelerator(recipe: Recipe, precision: PrecisionChoice, strategy: Strategy | None = None,
                     task=None) -> Accelerator:
    device_type = partial_state().device.type
    trackers = available_trackers(recipe.train.log_with)
    logger.info("device %s, mixed precision %s (%s), %d torch threads", device_type, precision.used,
                precision.reason, torch.get_num_threads())
    if device_type == "cpu":
        keep_freed_memory()  # no page faults for every step's activations and gradients (process-wide)
    AcceleratorState._reset_state()  # a second run in the same process may use another precision
    return Accelerator(cpu=force_cpu(), mixed_precision=precision.used,
                       log_with=trackers or None, project_dir=str(recipe.resolved_output_dir() / "logs"),
                       step_scheduler_with_optimizer=False, kwargs_handlers=ddp_kwargs(strategy, task))


def ddp_kwargs(strategy: Strategy | None, task=None) -> list[DistributedDataParallelKwargs]:
    """A strategy that freezes and unfreezes mid-run, or a multi-task run (a batch trains one head), needs DDP to
    tolerate parameters without gradients."""
    if any(getattr(part, "ddp_find_unused_parameters", False) for part in (strategy, task)):
        return [DistributedDataParallelKwargs(find_unused_parameters=True)]
    return []


def save_outputs(trainer: Trainer, tokenizer, recipe: Recipe, metrics: dict) -> None:
    """Model, tokenizer, metrics and reports, written into a scratch folder and moved in file by file only when
    all are written: a full disk leaves the output dir as it was."""
    output_dir = recipe.resolved_output_dir()
    model = trainer.strategy.export_model(trainer.accelerator.unwrap_model(trainer.model))  # e.g. LoRA merged
    trainer.task.finish_model(model)  # what prediction needs besides the weights (thresholds, target scale)
    with atomic_dir_contents(output_dir) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        write_json(staging / "metrics.json", metrics)
        trainer.task.write_reports(metrics, staging)
        history = read_history(output_dir / "history.jsonl")
        if history:
            plot_training_curves(history, trainer.metric_for_best, staging / "training_curves.png")


def read_history(path: Path) -> list[dict]:
    """history.jsonl's records (a line cut by a crash is left out)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return [record for record in records if isinstance(record, dict) and "step" in record]


def resolve_lr(recipe: Recipe, task, tokenizer, splits, accelerator: Accelerator,
               resumed: bool) -> tuple[Recipe, RangeTest | None]:
    """`train.lr auto`: the recipe the trainer gets holds the range test's rate (a resumed run reuses the rate
    recorded in its output dir, so it continues with the same one)."""
    if recipe.train.lr != "auto":
        return recipe, None
    found = find_lr(recipe, task, splits["train"], accelerator, task.collator(tokenizer),
                    recipe.resolved_output_dir(), reuse=resumed)
    return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, lr=found.suggested_lr)), found


def learning_verdict(trainer: Trainer, metrics: dict) -> dict:
    """metrics.json's `did_not_learn` (and its reasons), from the final validation (else test) metrics."""
    split = "validation" if "validation" in metrics else "test"
    signs = check_learning(trainer.task, metrics.get(split), trainer.state, trainer.loss_window, split)
    return {"did_not_learn": bool(signs), **({"did_not_learn_because": signs} if signs else {})}


def train(recipe: Recipe, on_evaluate: EvalCallback | None = None) -> dict:
    """Fine-tune, evaluate and save one recipe; returns metrics.json's content. `on_evaluate` gets each
    history.jsonl record as it is written and may return True to stop training there (a method above the
    trainer, e.g. `nlptl tune`'s pruning). A recipe with `semi.method self_training` runs its rounds (`nlptl.semi`)
    and one with importance weighting weighs its rows first (`nlptl.domain`), each step a plain run of this
    function; UDA and DANN are strategy wrappers inside one run."""
    if recipe.semi.method or recipe.semi.soft_labels:
        check_semi_method(recipe)  # before importance weighting's data step
        if recipe.semi.method not in SEMI_IN_TRAINING:
            return run_semi(recipe, on_evaluate)
    if recipe.domain.method == "importance_weighting":
        from nlptl.domain.importance import importance_weighting

        return importance_weighting(recipe, on_evaluate)
    run_started = time.perf_counter()
    output_dir = recipe.resolved_output_dir()
    resume_from = find_resume_checkpoint(recipe.resume, output_dir) if recipe.resume else None
    check_output_dir(output_dir, recipe)
    if partial_state().is_main_process:  # fail before training, not at the first checkpoint
        check_writable(output_dir / CHECKPOINTS if (output_dir / CHECKPOINTS).is_dir() else output_dir,
                       "output dir", "choose another --output-dir")
    strategy = build_strategy(recipe)
    precision = choose_precision(recipe, resuming=resume_from is not None)
    task = get_task(recipe.task)
    accelerator = make_accelerator(recipe, precision, strategy, task)
    set_seed(recipe.seed)
    requested = recipe  # as given (train.lr may be "auto"): what recipe.yaml records
    tokenizer = load_tokenizer(recipe.model, recipe.mirrors)
    augmentation = AugmentStage(recipe, task, accelerator)  # checks recipe.augment before any data is read
    loss_record: dict = {}
    splits = build_datasets(recipe, task, tokenizer, accelerator.main_process_first, augmentation, loss_record)
    recipe, lr_found = resolve_lr(recipe, task, tokenizer, splits, accelerator, resumed=resume_from is not None)
    trainer = Trainer(recipe, task, tokenizer, splits, accelerator, strategy, augmentation.train_collator,
                      on_evaluate)
    if accelerator.is_main_process:  # only now: a mistake in the recipe, data or model has written nothing
        output_dir.mkdir(parents=True, exist_ok=True)
        write_text(output_dir / "recipe.yaml", recipe_to_yaml(dataclasses.replace(requested, resume=None)))
        if recipe.train.mixed_precision == "auto" and not precision.reason.startswith("as the interrupted run"):
            write_json(output_dir / PRECISION_FILE, precision.as_dict())  # the first run's own measurement
        if resume_from is None:
            (output_dir / "history.jsonl").unlink(missing_ok=True)
    accelerator.init_trackers(recipe.name, config=flat_hparams(recipe))
    if resume_from is not None:
        trainer.resume(resume_from)
        if accelerator.is_main_process:
            trim_history(output_dir / "history.jsonl", trainer.state.step)
    metrics = {"train": {"lr": recipe.train.lr, **trainer.fit(run_started), "precision": precision.as_dict()}}
    if lr_found is not None:
        metrics["train"]["lr_find"] = lr_found.to_dict()
    metrics["train"].update(augmentation.report(output_dir))  # counts; augmentation_samples.jsonl
    metrics["train"].update(loss_record)  # class weights, example weights, target scale
    trainer.load_best_model()
    for split in ("validation", "test"):
        if split in splits:
            metrics[split] = {**trainer.evaluate(split), "long_text": task.long_text(recipe.data)}
    metrics["train"].update(learning_verdict(trainer, metrics))
    if accelerator.is_main_process:
        try:
            save_outputs(trainer, tokenizer, recipe, metrics)
        except OSError as err:
            raise NlptlError(f"cannot write the trained model to {output_dir}: {os_reason(err)}; free disk space "
                             "or make it writable, then rerun with --resume (the checkpoints are kept)") from None
        shown = ("accuracy", "f1", recipe.train.metric_for_best, "num_examples")
        logger.info("done: %s", {split: {k: v for k, v in split_metrics.items() if k in shown}
                                 for split, split_metrics in metrics.items() if split != "train"})
    warn(metrics["train"].get("did_not_learn_because", []), recipe.train.lr)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    if recipe.push_to_hub and accelerator.is_main_process:
        from nlptl.hub.push import push

        logger.info("pushed to the Hub: %s", push(output_dir, recipe.push_to_hub, private=recipe.hub_private))
    return metrics


def find_learning_rate(recipe: Recipe) -> RangeTest:
    """`nlptl lr-find`: the range test alone on the recipe's data, model and strategy; writes lr_find.png and
    lr_find.json to the output dir and nothing else (no checkpoint, no model)."""
    accelerator = make_accelerator(recipe, choose_precision(recipe, resuming=False))
    set_seed(recipe.seed)
    task = get_task(recipe.task)
    tokenizer = load_tokenizer(recipe.model, recipe.mirrors)
    augmentation = AugmentStage(recipe, task, accelerator)
    splits = build_datasets(recipe, task, tokenizer, accelerator.main_process_first, augmentation)
    return find_lr(recipe, task, splits["train"], accelerator, task.collator(tokenizer),
                   recipe.resolved_output_dir())


def setup_logging() -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    if not partial_state().is_local_main_process:
        logging.getLogger().setLevel(logging.ERROR)
    transformers.logging.set_verbosity_error()
    datasets.logging.set_verbosity_warning()


def main(recipe: Recipe, argv: list[str] | None = None) -> dict:
    """Apply command-line overrides and train; a user error prints one line and exits with code 2."""
    setup_logging()
    try:
        recipe = apply_overrides(recipe, sys.argv[1:] if argv is None else argv, prog=Path(sys.argv[0]).name)
        return train(recipe)
    except NlptlError as err:
        print(f"nlptl: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
