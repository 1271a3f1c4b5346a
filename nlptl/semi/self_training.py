"""Self-training (pseudo-labelling): a teacher labels unlabelled text, its confident labels join the labelled
rows, and a student trained on both teaches the next round (Yarowsky 1995; Xie et al. 2020, "Self-training with
Noisy Student"). Each student starts from the pretrained model, as in Noisy Student.

Every step is an ordinary, resumable nlptl run or file, so a killed run continues where it stopped
(`--resume`) and each round can be inspected and rerun from its own `recipe.yaml`:

    OUTPUT/rounds/pool.parquet                 the unlabelled texts (a seeded sample), gold labels kept aside if any
    OUTPUT/rounds/round-0/                     the teacher: trained on the labelled rows (unless semi.teacher)
    OUTPUT/rounds/round-R/pool_predictions.parquet   the teacher's class probabilities (`nlptl predict`, resumable)
    OUTPUT/rounds/round-R/data/                train = labelled + pseudo-labelled rows; validation/test as given
    OUTPUT/rounds/round-R/                     student R (the last round's student is OUTPUT itself)

Hard labels (default): the student learns the teacher's arg-max class, weighted like any labelled row. Soft labels
(`semi.soft_labels`): the student learns the teacher's class probabilities — each kept text is a row per class
weighted by its probability (`selection.soft_rows`), read through `data.weight_column`, so the loss is the
cross-entropy to the teacher's distribution.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow.parquet as pq

from nlptl.data.materialize import LABEL, recipe_on_files, write_labelled_splits, write_parquet
from nlptl.data.pipeline import labelled_splits
from nlptl.errors import NlptlError
from nlptl.io import write_json
from nlptl.recipe import Recipe, SemiConfig
from nlptl.semi.pool import GOLD, load_pool
from nlptl.semi.selection import Selection, SoftRows, check_selection_settings, select_pseudo_labels, soft_rows
from nlptl.tasks import get_task
from nlptl.training.distributed import partial_state

logger = logging.getLogger("nlptl")
ROUNDS = "rounds"
SOFT_WEIGHT = "pseudo_label_weight"  # soft labels: the teacher's probability of the row's class (1 for gold rows)


def check_self_training(recipe: Recipe) -> None:
    semi, data = recipe.semi, recipe.data
    if recipe.task != "sequence_classification":
        raise NlptlError(f"semi.method self_training applies to sequence_classification, not {recipe.task}")
    if data.text_pair_column:
        raise NlptlError("semi.method self_training reads single texts; remove data.text_pair_column")
    if not data.unlabelled_split:
        raise NlptlError("semi.method self_training needs data.unlabelled_split: a split of data.source (IMDb: "
                         "unsup) or a file of texts")
    if semi.rounds < 1:
        raise NlptlError(f"semi.rounds {semi.rounds}: at least 1")
    if semi.max_unlabelled is not None and semi.max_unlabelled < 1:
        raise NlptlError(f"semi.max_unlabelled {semi.max_unlabelled}: at least 1, or null for the whole split")
    check_selection_settings(semi.threshold, semi.top_k)
    if semi.soft_labels and data.weight_column:
        raise NlptlError("semi.soft_labels weights each pseudo-labelled row by its probability, which "
                         "data.weight_column would overwrite; remove one of them")
    if semi.soft_labels and recipe.augment.ops and recipe.augment.mode == "on_the_fly":
        raise NlptlError("semi.soft_labels weights rows, which works with offline augmentation only; set "
                         "augment.mode offline or remove semi.soft_labels")


def run_done(folder: Path) -> bool:
    return (folder / "metrics.json").is_file() and (folder / "model.safetensors").is_file()


class SelfTraining:
    """The rounds of one recipe; `run()` returns the final student's metrics with a `self_training` report."""

    def __init__(self, recipe: Recipe, on_evaluate: Any = None) -> None:
        check_self_training(recipe)
        self.recipe, self.on_evaluate = recipe, on_evaluate
        self.output_dir = recipe.resolved_output_dir()
        self.rounds_dir = self.output_dir / ROUNDS
        self.state = partial_state()

    # ---- the rounds -----------------------------------------------------------------------------------
    def run(self) -> dict:
        from nlptl.run import check_output_dir

        recipe = self.recipe
        if not recipe.resume and not recipe.overwrite_output_dir and self.rounds_dir.exists():
            raise NlptlError(f"output dir {self.output_dir} already holds a self-training run ({ROUNDS}/); continue "
                             "it with --resume, replace it with --overwrite-output-dir, or pass --output-dir NEW_DIR")
        check_output_dir(self.output_dir, recipe)
        splits = self.labelled()
        pool = self.pool_file()  # before any training: a wrong unlabelled split fails at once
        teacher, report = self.first_teacher()
        for number in range(1, recipe.semi.rounds + 1):
            folder = self.output_dir if number == recipe.semi.rounds else self.rounds_dir / f"round-{number}"
            work = self.rounds_dir / f"round-{number}"
            started = time.perf_counter()
            probabilities = self.label_pool(teacher, pool, work)
            labelling_seconds = round(time.perf_counter() - started, 2)
            selection = select_pseudo_labels(probabilities, recipe.semi.threshold, recipe.semi.top_k,
                                             recipe.semi.balance)
            soft = soft_rows(selection, probabilities) if recipe.semi.soft_labels else None
            data_dir = self.write_round_data(work / "data", splits, pool, selection, soft)
            metrics = self.train_round(self.student_recipe(folder, data_dir), folder)
            report["rounds"].append({**self.round_report(number, teacher, pool, probabilities, selection, metrics,
                                                         soft),
                                     "labelling_seconds": labelling_seconds})
            teacher = folder
        return self.finish(metrics, report)

    def labelled(self) -> datasets.DatasetDict:
        """The labelled rows exactly as a plain run of the recipe would see them (sampled, validation carved)."""
        task = get_task(self.recipe.task)
        with self.state.main_process_first():
            splits = labelled_splits(self.recipe, task)
        self.label_names = list(task.label_names)
        return splits

    def first_teacher(self) -> tuple[Path, dict]:
        semi = self.recipe.semi
        report: dict[str, Any] = {"method": "self_training", **dataclasses.asdict(semi), "rounds": []}
        if semi.teacher:
            return Path(semi.teacher), report
        folder = self.rounds_dir / "round-0"
        metrics = self.train_round(self.plain_recipe(folder), folder)
        report["teacher"] = {"run": str(folder), **split_scores(metrics)}
        return folder, report

    def pool_file(self) -> Path:
        path = self.rounds_dir / "pool.parquet"
        if not path.is_file():
            with self.state.main_process_first():
                pool = load_pool(self.recipe, self.label_names)
            if self.state.is_main_process:
                write_parquet(pool.to_dict(), path)
            self.state.wait_for_everyone()
        return path

    def label_pool(self, teacher: Path, pool: Path, work: Path) -> np.ndarray:
        """The teacher's class probabilities for every pool text (nlptl predict: sorted batches, the precision
        `auto` picks, resumable by chunks)."""
        from nlptl.inference.files import predict_file
        from nlptl.inference.workdir import WorkDir

        output = work / "pool_predictions.parquet"
        if not output.is_file():
            if self.state.is_main_process:
                work.mkdir(parents=True, exist_ok=True)
            self.state.wait_for_everyone()
            predict_file(str(teacher), str(pool), output, text_column=self.recipe.data.text_column,
                         batch_size=self.recipe.train.eval_batch_size, all_scores=True,
                         resume=WorkDir(output).path.exists(), recipe_mirrors=self.recipe.mirrors, progress=False)
        table = pq.read_table(output)
        return np.stack([table.column(f"score_{name}").to_numpy() for name in self.label_names], axis=1)

    def write_round_data(self, folder: Path, splits: datasets.DatasetDict, pool: Path, selection: Selection,
                         soft: SoftRows | None) -> Path:
        """train = the labelled rows + the pseudo-labelled texts (with `soft`: a weighted row per class and text);
        validation and test as the recipe has them."""
        text = self.recipe.data.text_column
        if self.state.is_main_process:
            texts = pq.read_table(pool, columns=[text]).column(text).to_pylist()
            rows, labels, weights = selection.rows, selection.labels, None
            if soft is not None:
                rows, labels = soft.rows, soft.labels
                weights = {SOFT_WEIGHT: [1.0] * len(splits["train"]) + soft.weights}
            pseudo = {text: [texts[row] for row in rows], LABEL: [self.label_names[label] for label in labels]}
            write_labelled_splits(folder, splits, text, self.label_names, extra_train=pseudo, train_columns=weights)
        self.state.wait_for_everyone()
        return folder

    def train_round(self, recipe: Recipe, folder: Path) -> dict:
        from nlptl.run import run_outputs_in, train

        if folder != self.output_dir and run_done(folder):
            logger.info("self-training: %s is complete; using it", folder)
            return json.loads((folder / "metrics.json").read_text())

        resume = "latest" if self.recipe.resume and run_outputs_in(folder) else None
        return train(dataclasses.replace(recipe, resume=resume), self.on_evaluate if folder == self.output_dir
                     else None)

    # ---- recipes of the rounds ------------------------------------------------------------------------
    def plain_recipe(self, folder: Path) -> Recipe:
        """The recipe without self-training: round 0's teacher."""
        return dataclasses.replace(self.recipe, semi=SemiConfig(), output_dir=str(folder), push_to_hub=None,
                                   data=dataclasses.replace(self.recipe.data, unlabelled_split=None))

    def student_recipe(self, folder: Path, data_dir: Path) -> Recipe:
        """The recipe on a round's data files (already sampled and carved): a plain run, rerunnable alone."""
        weight_column = SOFT_WEIGHT if self.recipe.semi.soft_labels else self.recipe.data.weight_column
        student = recipe_on_files(self.recipe, data_dir, self.label_names, folder, unlabelled_split=None,
                                  weight_column=weight_column)
        return dataclasses.replace(student, semi=SemiConfig(),
                                   push_to_hub=self.recipe.push_to_hub if folder == self.output_dir else None)

    # ---- the report -----------------------------------------------------------------------------------
    def round_report(self, number: int, teacher: Path, pool: Path, probabilities: np.ndarray, selection: Selection,
                     metrics: dict, soft: SoftRows | None) -> dict:
        names = self.label_names
        predicted = probabilities.argmax(axis=1)
        report: dict[str, Any] = {
            "round": number, "teacher": str(teacher), "pool": int(len(probabilities)),
            "pseudo_labelled": len(selection.rows),
            "per_class": {name: selection.labels.count(i) for i, name in enumerate(names)},
            "candidates_per_class": dict(zip(names, selection.candidates, strict=True)),
            "mean_confidence": round(float(probabilities.max(axis=1)[selection.rows].mean()), 4)
            if selection.rows else None,
            "student": split_scores(metrics),
        }
        if soft is not None:  # one weighted row per (text, class at least SOFT_FLOOR probable)
            report["soft_label_rows"] = len(soft.rows)
        gold = pq.read_table(pool, columns=[GOLD]).column(GOLD).to_pylist()
        known = [i for i, label in enumerate(gold) if label is not None]
        if known:  # the pool had labels (hidden from training): how right the teacher was
            report["pool_accuracy"] = round(sum(names[predicted[i]] == gold[i] for i in known) / len(known), 4)
            chosen = [(row, label) for row, label in zip(selection.rows, selection.labels, strict=True)
                      if gold[row] is not None]
            if chosen:
                report["pseudo_label_accuracy"] = round(
                    sum(names[label] == gold[row] for row, label in chosen) / len(chosen), 4)
        logger.info("self-training round %d: %d of %d texts pseudo-labelled %s", number, len(selection.rows),
                    len(probabilities), report["per_class"])
        return report

    def finish(self, metrics: dict, report: dict) -> dict:
        metrics = {**metrics, "self_training": report}
        if self.state.is_main_process:
            write_json(self.output_dir / "metrics.json", metrics)
            write_json(self.rounds_dir / "self_training.json", report)
        self.state.wait_for_everyone()
        return metrics


def split_scores(metrics: dict) -> dict:
    """The headline scores of a run's metrics.json."""
    keep = ("accuracy", "f1", "num_examples")
    return {split: {k: v for k, v in metrics[split].items() if k in keep}
            for split in ("validation", "test") if split in metrics}


def self_train(recipe: Recipe, on_evaluate: Any = None) -> dict:
    return SelfTraining(recipe, on_evaluate).run()
