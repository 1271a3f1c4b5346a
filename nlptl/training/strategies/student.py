"""A smaller student cut from a fine-tuned teacher: the teacher's config with fewer layers, its embeddings, a
subset of its layers and its head copied over (the initialisation DistilBERT used, Sanh et al. 2019)."""

from __future__ import annotations

import copy
import logging

from transformers import PreTrainedModel

from nlptl.errors import NlptlError
from nlptl.training.layers import LAYER_INDEX, layer_groups

logger = logging.getLogger(__name__)


def chosen_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Evenly spaced teacher layers ending with the top one (its output is what the copied head reads):
    6 -> 3 gives [1, 3, 5], every other layer."""
    if not 1 <= student_layers <= teacher_layers:
        raise NlptlError(f"distill.student_layers={student_layers}: the teacher has {teacher_layers} layers; "
                         f"choose 1..{teacher_layers}")
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


def cut_student(teacher: PreTrainedModel, student_layers: int) -> PreTrainedModel:
    """A copy of the teacher with `student_layers` of its layers, every other weight copied unchanged."""
    picked = chosen_layers(len(layer_groups(teacher).layers), student_layers)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = student_layers  # DistilBERT maps this name to n_layers
    student = type(teacher)(config)
    source = teacher.state_dict()

    def teacher_name(name: str) -> str:
        return LAYER_INDEX.sub(lambda m: m.group(0).replace(m.group(1), str(picked[int(m.group(1))])), name, 1)

    weights = {name: source[teacher_name(name)] for name in student.state_dict()}
    student.load_state_dict(weights, strict=True)
    logger.info("student: %d layers cut from the %d-layer teacher (teacher layers %s)", student_layers,
                len(layer_groups(teacher).layers), picked)
    return student
