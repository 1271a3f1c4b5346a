"""Task kinds by recipe name."""

from __future__ import annotations

from nlptl.errors import NlptlError
from nlptl.tasks.base import Task
from nlptl.tasks.classification import SequenceClassificationTask
from nlptl.tasks.masked_lm import MaskedLMTask
from nlptl.tasks.token_classification import TokenClassificationTask

TASKS: dict[str, type] = {
    "sequence_classification": SequenceClassificationTask,
    "token_classification": TokenClassificationTask,
    "masked_lm": MaskedLMTask,  # domain-adaptive pre-training on unlabelled text
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise NlptlError(f"recipe field task={name!r}: choose one of {', '.join(TASKS)}")
    return TASKS[name]()
