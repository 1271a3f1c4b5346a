"""Knowledge distillation (Hinton et al. 2015): a student learns from a fine-tuned teacher's softened
predictions as well as from the labels.

loss = alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels), where x_T = softmax(x / T);
the T^2 keeps the soft term's gradients on the scale of the hard one when T changes. Token tasks distil at
every labelled position.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from accelerate.state import AcceleratorState

from nlptl.errors import NlptlError
from nlptl.first_token import last_layer_first_token_only
from nlptl.models import load_model
from nlptl.recipe import Recipe
from nlptl.tasks.base import Task
from nlptl.training.strategies.base import FullFineTuning
from nlptl.training.strategies.student import cut_student

logger = logging.getLogger(__name__)


def auto_class_of(model: torch.nn.Module) -> type:
    """The Auto class for the model's head (BertForSequenceClassification -> AutoModelForSequenceClassification),
    so the teacher may be another architecture than the student."""
    name = type(model).__name__
    return getattr(transformers, "AutoModel" + name[name.find("For"):], type(model)) if "For" in name else type(model)


def same_precision_as_training(device: torch.device):
    """Autocast like the student's forward (accelerate's mixed precision), so the teacher costs no more than it."""
    precision = AcceleratorState().mixed_precision if AcceleratorState._shared_state else "no"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def soft_loss_sum(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Sum over rows of KL(softmax(teacher/T) || softmax(student/T))."""
    return F.kl_div(F.log_softmax(student_logits.float() / temperature, dim=-1),
                    F.log_softmax(teacher_logits.float() / temperature, dim=-1), log_target=True,
                    reduction="sum")


def distillation_loss_sum(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                          hard_loss_sum: torch.Tensor, alpha: float, temperature: float) -> torch.Tensor:
    """alpha·T²·KL + (1−alpha)·CE, summed over the targets (rows, or labelled tokens: label -100 is skipped)."""
    keep = labels != -100
    soft = soft_loss_sum(student_logits[keep], teacher_logits[keep], temperature)
    return alpha * temperature**2 * soft + (1 - alpha) * hard_loss_sum


class Distillation(FullFineTuning):
    """The teacher (`distill.teacher`, default model.name) runs in inference mode next to the student. The
    student is `model.name` as loaded, or, with `distill.student_layers`, cut from the teacher."""

    name = "distill"
    description = ("knowledge distillation: the soft labels of the teacher {teacher} (weight {alpha}, temperature "
                   "{temperature}) and the true labels train a student with {student_layers} layers")

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.run_recipe = recipe
        self.options = recipe.distill
        if not 0 <= self.options.alpha <= 1 or self.options.temperature <= 0:
            raise NlptlError(f"distill.alpha={self.options.alpha} must be in [0, 1] and distill.temperature="
                             f"{self.options.temperature} positive")
        self.teacher: Any = None  # the teacher model, once configure has loaded it

    def configure(self, model: Any) -> torch.nn.Module:
        name = self.options.teacher or self.run_recipe.model.name
        teacher = load_model(auto_class_of(model), dataclasses.replace(self.run_recipe.model, name=name),
                             self.run_recipe.mirrors)
        labels = list(model.config.id2label.values())
        if list(teacher.config.id2label.values()) != labels:
            raise NlptlError(f"distill.teacher {name} predicts {list(teacher.config.id2label.values())}, but the "
                             f"data's labels are {labels}; distil from a teacher fine-tuned on these labels")
        if teacher.config.vocab_size != model.config.vocab_size:
            raise NlptlError(f"distill.teacher {name} and the student {self.run_recipe.model.name} use different "
                             "vocabularies; they must share the tokenizer")
        self.teacher = teacher.eval().requires_grad_(False)
        if self.options.student_layers is not None:
            model = cut_student(teacher, self.options.student_layers)
        for net in (self.teacher, model):
            last_layer_first_token_only(net)  # a first-token head: the last layer computes only that token
        return model

    def loss_sum(self, model: torch.nn.Module, inputs: dict, labels: torch.Tensor, task: Task,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        """Example weights (data.weight_column) and class weights scale the label loss; the soft loss is not
        weighted (it matches the teacher on every example)."""
        student_logits = model(**inputs).logits
        device = student_logits.device
        if next(self.teacher.parameters()).device != device:
            self.teacher.to(device)
        with torch.inference_mode(), same_precision_as_training(device):
            teacher_logits = self.teacher(**inputs).logits.float()
        return distillation_loss_sum(student_logits, teacher_logits.clone(), labels,
                                     task.loss_sum(student_logits, labels, weights), self.options.alpha,
                                     self.options.temperature)
