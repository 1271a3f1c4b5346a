"""Knowledge distillation: the loss formula, the student cut from the teacher, a tiny teacher -> student run."""

import math

import pytest
import torch
from conftest import tiny_recipe
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import nlptl
from nlptl import NlptlError
from nlptl.training.strategies import build_strategy
from nlptl.training.strategies.distill import distillation_loss_sum
from nlptl.training.strategies.student import chosen_layers, cut_student


def softmax(xs):
    exps = [math.exp(x) for x in xs]
    return [e / sum(exps) for e in exps]


def test_loss_equals_the_formula_on_a_hand_example():
    student, teacher, label, alpha, t = [1.0, 2.0, -1.0], [2.0, 0.0, 0.5], 0, 0.3, 2.0
    p_teacher, p_student = softmax([x / t for x in teacher]), softmax([x / t for x in student])
    kl = sum(pt * math.log(pt / ps) for pt, ps in zip(p_teacher, p_student, strict=True))
    ce = -math.log(softmax(student)[label])
    expected = alpha * t * t * kl + (1 - alpha) * ce
    s, te, labels = torch.tensor([student]), torch.tensor([teacher]), torch.tensor([label])
    hard = torch.nn.functional.cross_entropy(s, labels, reduction="sum")
    assert distillation_loss_sum(s, te, labels, hard, alpha, t).item() == pytest.approx(expected, rel=1e-6)
    # summed over rows; token tasks skip positions labelled -100
    two = distillation_loss_sum(s.repeat(2, 1), te.repeat(2, 1), labels.repeat(2), 2 * hard, alpha, t)
    assert two.item() == pytest.approx(2 * expected, rel=1e-6)
    tokens = distillation_loss_sum(torch.stack([s, s * 5]).transpose(0, 1), torch.stack([te, te]).transpose(0, 1),
                                   torch.tensor([[label, -100]]), hard, alpha, t)
    assert tokens.item() == pytest.approx(expected, rel=1e-6)


def test_student_takes_every_other_layer_ending_at_the_top(tiny_model_dir):
    assert chosen_layers(6, 3) == [1, 3, 5] and chosen_layers(12, 6) == [1, 3, 5, 7, 9, 11]
    assert chosen_layers(2, 1) == [1] and chosen_layers(4, 4) == [0, 1, 2, 3]
    with pytest.raises(NlptlError, match="student_layers=3: the teacher has 2 layers"):
        chosen_layers(2, 3)
    teacher = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    student = cut_student(teacher, 1)
    assert student.config.num_hidden_layers == 1 and teacher.config.num_hidden_layers == 2
    t, s = teacher.state_dict(), student.state_dict()
    for name, value in s.items():
        source = name.replace(".layer.0.", ".layer.1.")
        assert torch.equal(value, t[source]), name


@pytest.fixture
def teacher_dir(tiny_model_dir, tmp_path):
    """A 'fine-tuned' teacher: the tiny BERT with a neg/pos head (training it is not what is tested here)."""
    path = tmp_path / "teacher"
    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(path)
    return path


def test_tiny_teacher_to_student_run(teacher_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "student"
    recipe = tiny_recipe(teacher_dir, tiny_data_dir, out, max_steps=3)
    recipe.data.max_train_samples, recipe.data.max_eval_samples = 64, 32
    recipe.strategy.name = "distill"
    recipe.distill.student_layers, recipe.distill.alpha, recipe.distill.temperature = 1, 0.7, 3.0
    metrics = nlptl.train(recipe)
    assert metrics["test"]["num_examples"] == 32
    student = AutoModelForSequenceClassification.from_pretrained(out)
    assert student.config.num_hidden_layers == 1 and student.config.id2label == {0: "neg", 1: "pos"}
    assert not any("teacher" in key for key in load_file(str(out / "model.safetensors")))
    assert metrics["train"]["total_parameters"] < sum(p.numel() for p in
                                                      AutoModelForSequenceClassification.from_pretrained(
                                                          teacher_dir).parameters())


def test_teacher_with_other_labels_is_refused(teacher_dir, tiny_model_dir):
    recipe = nlptl.Recipe(model=nlptl.ModelConfig(name=str(teacher_dir)),
                          strategy=nlptl.StrategyConfig(name="distill"))
    student = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=3, id2label={0: "a", 1: "b", 2: "c"}, label2id={"a": 0, "b": 1, "c": 2})
    with pytest.raises(NlptlError, match="predicts \\['neg', 'pos'\\], but the data's labels are"):
        build_strategy(recipe).configure(student)


def test_imdb_distill_recipe_file_loads():
    from conftest import REPO

    from nlptl.recipe import load_recipe_file

    recipe = load_recipe_file(str(REPO / "recipes" / "imdb_distill.py"))
    assert recipe.strategy.name == "distill" and recipe.distill.student_layers == 3
    assert recipe.distill.teacher == recipe.model.name
