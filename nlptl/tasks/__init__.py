"""Task kinds by recipe name."""

from __future__ import annotations

from typing import Any

from nlptl.errors import NlptlError
from nlptl.tasks.base import Task
from nlptl.tasks.classification import SequenceClassificationTask
from nlptl.tasks.masked_lm import MaskedLMTask
from nlptl.tasks.multi_label import MultiLabelClassificationTask
from nlptl.tasks.multitask import MultitaskTask
from nlptl.tasks.regression import RegressionTask
from nlptl.tasks.token_classification import TokenClassificationTask

TASKS: dict[str, type[Task]] = {
    "sequence_classification": SequenceClassificationTask,
    "multi_label_classification": MultiLabelClassificationTask,  # any number of labels per text (sigmoid + BCE)
    "regression": RegressionTask,  # one or several numbers per text (MSE or Huber)
    "token_classification": TokenClassificationTask,
    "masked_lm": MaskedLMTask,  # domain-adaptive pre-training on unlabelled text
    "multitask": MultitaskTask,  # type: ignore[dict-item]  # its count_targets/predict are its tasks' (task_of)  # several of the above on one shared encoder (recipe section multitask)
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise NlptlError(f"recipe field task={name!r}: choose one of {', '.join(TASKS)}")
    return TASKS[name]()


def checkpoint_task(config: Any) -> str | None:
    """The task kind of a checkpoint, from the architectures its config.json names and its problem_type (a
    sequence classifier without one is single-label) (None: no kind of ours)."""
    architectures = list(getattr(config, "architectures", None) or [])
    problem = getattr(config, "problem_type", None) or "single_label_classification"
    for name, task in TASKS.items():
        if task.problem_type not in (None, problem):
            continue
        if any(architecture.endswith(task.architecture_suffix) for architecture in architectures):
            return name
    return None
