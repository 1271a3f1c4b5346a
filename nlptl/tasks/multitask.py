"""Multi-task learning as a task that composes tasks (recipe `task: multitask`, tasks in `multitask.tasks`).

Each task keeps its own task object (its kind's encoding, collator, loss, metrics, reports); this one builds
their splits side by side (`nlptl.multitask.data`), one model with a head per task on one shared encoder
(`nlptl.multitask.model`), and hands the trainer, batch by batch, the task the batch belongs to (`task_of`).
The trainer still sees one stream of batches and one loss. Metrics are reported per task as `<task>/<metric>`,
plus `mean`: the mean of the tasks' main metrics (accuracy, entity F1), the default metric for the best model.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from contextlib import nullcontext
from pathlib import Path
from typing import Any, cast

import datasets
import torch
from transformers import AutoModel, PreTrainedModel, PreTrainedTokenizerBase

from nlptl.data.collate import Collator
from nlptl.errors import NlptlError
from nlptl.io import write_text
from nlptl.models import load_model
from nlptl.multitask.data import MultitaskCollator, MultitaskDataset
from nlptl.multitask.model import HEADS, MultitaskModel
from nlptl.recipe import AugmentSettings, DataConfig, Recipe, TaskSpec, recipe_to_yaml
from nlptl.tasks.base import CardText, Task

logger = logging.getLogger(__name__)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SPLITS = ("train", "validation", "test")


class WeightedTask:
    """A task whose summed loss is multiplied by its `loss_weight` (everything else is the task's own)."""

    def __init__(self, task: Task, weight: float) -> None:
        self.task, self.weight = task, weight

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)

    def loss_sum(self, logits: torch.Tensor, labels: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        return self.task.loss_sum(logits, labels, weights) * self.weight


class MultitaskTask:
    name = "multitask"
    label_names: list[str] = []
    main_metric = "mean"
    pipeline_tag = "multi-task"
    description = "multi-task learning (one shared encoder, one head per task)"
    metric_names = {"mean": "Mean of the tasks' main metrics"}
    model_class: type = MultitaskModel
    architecture_suffix = "\0multitask"  # no config.json names it: a saved run is recognised by multitask.json
    first_token_head = False  # the shared encoder also feeds token heads
    stratify_column = None
    ddp_find_unused_parameters = True  # a process's batch trains one head; the others get no gradient there
    problem_type = None
    source_row_column = None

    def __init__(self) -> None:
        self.specs: list[TaskSpec] = []
        self.tasks: list[Task] = []
        self.recipes: list[Recipe] = []

    # ---- setup and data -------------------------------------------------------------------------------
    def setup(self, recipe: Recipe) -> None:
        """Check `multitask.tasks` and make each task's object and recipe (the run's, with its kind and data)."""
        from nlptl.tasks import TASKS, get_task

        specs = recipe.multitask.tasks
        if not specs:
            raise NlptlError("task=multitask needs multitask.tasks: a list of tasks (name, task, data, loss_weight) "
                             "in the recipe file or recipe.yaml")
        names = [spec.name for spec in specs]
        for position, spec in enumerate(specs):
            if not NAME.match(spec.name) or spec.name in names[:position]:
                raise NlptlError(f"multitask.tasks[{position}].name={spec.name!r}: give each task a distinct name of "
                                 "letters, digits, '_', '-' or '.' (it names the head's folder)")
            kinds = [kind for kind in TASKS if kind != self.name]
            if spec.task not in kinds:
                raise NlptlError(f"multitask.tasks[{position}].task={spec.task!r}: choose one of {', '.join(kinds)}")
            if spec.loss_weight < 0:
                raise NlptlError(f"multitask.tasks[{position}].loss_weight={spec.loss_weight}: use 0 or more")
        if recipe.augment.ops:
            raise NlptlError("augment.ops with task=multitask: augmentation of multi-task runs is not supported; "
                             "set augment.ops to []")
        if recipe.push_to_hub:
            raise NlptlError("push_to_hub with task=multitask: pushing a multi-task run is not supported yet; train "
                             "without it (the run's heads export one by one: nlptl export RUN --task NAME)")
        if recipe.train.lr == "auto":
            raise NlptlError("train.lr auto with task=multitask: the range test runs on one task; measure it with "
                             "`nlptl lr-find` on a single-task recipe and give the rate")
        self.specs = list(specs)
        self.tasks = [get_task(spec.task) for spec in specs]
        self.recipes = [dataclasses.replace(recipe, task=spec.task, data=spec.data, augment=AugmentSettings(),
                                            name=f"{recipe.name}.{spec.name}") for spec in specs]

    def build_datasets(self, recipe: Recipe, tokenizer: PreTrainedTokenizerBase,
                       main_process_first=nullcontext) -> dict[str, MultitaskDataset]:
        """Each task's splits by its own data stage, put side by side per split (a task without a test split
        is left out of `test`)."""
        from nlptl.data.pipeline import build_datasets

        self.setup(recipe)
        parts = []
        for spec, task, sub in zip(self.specs, self.tasks, self.recipes, strict=True):
            logger.info("multi-task: preparing task %r (%s, %s)", spec.name, spec.task, spec.data.source)
            parts.append(build_datasets(sub, task, tokenizer, main_process_first))
        indices = {spec.name: i for i, spec in enumerate(self.specs)}
        splits = {}
        for split in SPLITS:
            present = {spec.name: part[split] for spec, part in zip(self.specs, parts, strict=True) if split in part}
            if present:
                splits[split] = MultitaskDataset(present, indices)
        return splits

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict:
        raise NlptlError("a multi-task recipe prepares each task's labels in its own data section")

    def tokenize(self, splits: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase,
                 recipe: Recipe) -> datasets.DatasetDict:
        raise NlptlError("a multi-task recipe tokenizes each task's data by its own kind")

    def augmenter(self, settings: AugmentSettings, train: datasets.Dataset, recipe: Recipe) -> Any:
        raise NlptlError("augmentation of multi-task runs is not supported; set augment.ops to []")

    def encode_rows(self, rows: list[dict], tokenizer: PreTrainedTokenizerBase, recipe: Recipe) -> list[list[dict]]:
        raise NlptlError("augmentation of multi-task runs is not supported; set augment.ops to []")

    # ---- model and batches ----------------------------------------------------------------------------
    def build_model(self, recipe: Recipe) -> MultitaskModel:
        """The pretrained encoder (AutoModel) shared by one freshly initialised head per task."""
        encoder = load_model(AutoModel, recipe.model, recipe.mirrors)
        heads = {spec.name: task.build_model(sub) for spec, task, sub in zip(self.specs, self.tasks, self.recipes,
                                                                             strict=True)}
        return MultitaskModel(encoder, heads, {spec.name: spec.task for spec in self.specs})

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Collator:
        return MultitaskCollator([task.collator(tokenizer) for task in self.tasks])

    def task_of(self, batch: dict) -> Task:
        """The task (with its loss weight) a batch belongs to: batches hold one task's rows."""
        index = int(batch["task_index"].reshape(-1)[0])
        weight = self.specs[index].loss_weight
        task = self.tasks[index]
        return task if weight == 1 else cast(Task, WeightedTask(task, weight))

    def training_logits(self, model: torch.nn.Module, inputs: dict,
                        labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task_of(inputs).training_logits(model, inputs, labels)

    def loss_sum(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NlptlError("the loss of a multi-task batch is its task's: the trainer asks task_of(batch)")

    count_targets = predict = loss_sum

    # ---- metrics and reports --------------------------------------------------------------------------
    def fit_loss(self, train: datasets.Dataset, recipe: Recipe) -> dict[str, Any]:
        return {}  # each task fitted its own loss (class weights, target scale) in its own data stage

    def finish_model(self, model: PreTrainedModel) -> None:
        """Each head gets what its kind's prediction needs (multi-label thresholds, a regression's scale)."""
        heads = cast(MultitaskModel, model).head_models
        for spec, task in zip(self.specs, self.tasks, strict=True):
            task.finish_model(heads[spec.name])

    def compute_metrics(self, predictions: list, references: list, split: str,
                        dataset: MultitaskDataset) -> dict[str, Any]:
        """Each task's metrics on its part of the split (predictions are in example_id order: task by task)."""
        if len(predictions) != len(dataset):
            raise RuntimeError(f"{len(predictions)} predictions for {len(dataset)} rows of {split}")
        result: dict[str, Any] = {}
        mains = []
        for position, name in enumerate(dataset.names):
            start, end = dataset.offsets[position], dataset.offsets[position + 1]
            task = self.tasks[dataset.task_indices[position]]
            scores = task.compute_metrics(predictions[start:end], references[start:end], split,
                                          dataset.parts[position])
            result.update({f"{name}/{key}": value for key, value in scores.items()})
            mains.append(scores[task.main_metric])
        result["mean"] = sum(mains) / len(mains)
        result["num_examples"] = len(dataset)
        return result

    def metrics_from_loss(self, loss: float) -> dict[str, float]:
        return {}

    def task_metrics(self, metrics: dict[str, Any], name: str) -> dict[str, Any]:
        prefix = f"{name}/"
        return {key[len(prefix):]: value for key, value in metrics.items() if key.startswith(prefix)}

    def not_learned(self, metrics: dict, split: str) -> list[str]:
        return [f"{spec.name}: {sign}" for spec, task in zip(self.specs, self.tasks, strict=True)
                for sign in task.not_learned(self.task_metrics(metrics, spec.name), split)
                if self.task_metrics(metrics, spec.name)]

    def write_reports(self, metrics: dict[str, dict], output_dir: Path) -> list[Path]:
        """Each task's own reports and its recipe (task kind and data settings, read by `nlptl predict --task`)
        in heads/<task>/."""
        written = []
        for spec, task, sub in zip(self.specs, self.tasks, self.recipes, strict=True):
            folder = output_dir / HEADS / spec.name
            folder.mkdir(parents=True, exist_ok=True)
            write_text(folder / "recipe.yaml", recipe_to_yaml(dataclasses.replace(sub, resume=None)))
            scores = {split: self.task_metrics(values, spec.name) for split, values in metrics.items()
                      if split in SPLITS[1:] and isinstance(values, dict)}
            written += task.write_reports({split: s for split, s in scores.items() if s}, folder)
        return written

    def card_text(self, repo_id: str, data: DataConfig) -> CardText:
        raise NlptlError("pushing a multi-task run is not supported yet; push one task's model trained alone")

    def long_text(self, data: DataConfig) -> dict[str, Any]:
        return {spec.name: task.long_text(spec.data) for spec, task in zip(self.specs, self.tasks, strict=True)}
