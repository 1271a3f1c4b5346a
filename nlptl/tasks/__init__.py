"""Task kinds by recipe name."""

from __future__ import annotations

from nlptl.errors import NlptlError
from nlptl.tasks.base import Task
from nlptl.tasks.classification import SequenceClassificationTask

TASKS: dict[str, type] = {"sequence_classification": SequenceClassificationTask}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise NlptlError(f"recipe field task={name!r}: choose one of {', '.join(TASKS)}")
    return TASKS[name]()
