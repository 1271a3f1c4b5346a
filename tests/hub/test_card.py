"""The model card's task-specific text comes from the task object, for every task kind (no training needed)."""

import json

import pytest
from huggingface_hub import ModelCard

import nlptl
from nlptl.hub.card import build_card
from nlptl.recipe import recipe_to_yaml
from nlptl.tasks import get_task


def card_for(tmp_path, task: str, **data) -> ModelCard:
    recipe = nlptl.Recipe(task=task)
    for field, value in data.items():
        setattr(recipe.data, field, value)
    (tmp_path / "recipe.yaml").write_text(recipe_to_yaml(recipe))
    (tmp_path / "metrics.json").write_text(json.dumps({"test": {"f1": 0.5, "accuracy": 0.75, "num_examples": 4}}))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "id2label": {"0": "a", "1": "b"}}))
    return build_card(tmp_path, "me/model")


@pytest.mark.parametrize("task, pipeline_line, length_note, input_line", [
    ("sequence_classification", 'classifier = pipeline("text-classification", model="me/model")',
     "Inputs longer than 64 tokens are cut (the first 16 tokens and the end are kept) unless predicted with "
     "`nlptl predict --long-text window`.", "- text column: `body`"),
    ("multi_label_classification",
     'classifier = pipeline("text-classification", model="me/model", top_k=None)',
     "Inputs longer than 64 tokens are cut (the first 16 tokens and the end are kept) unless predicted with "
     "`nlptl predict --long-text window` (windows' outputs averaged).",
     "- text column: `body`; labels: column `label`"),
    ("regression", 'regressor = pipeline("text-classification", model="me/model", function_to_apply="none")',
     "Inputs longer than 64 tokens are cut", "- text column: `body`; target column(s): label"),
    ("token_classification", 'ner = pipeline("token-classification", model="me/model", aggregation_strategy="simple")',
     "Sentences longer than 64 sub-tokens are split into overlapping windows", "- tokens column: `words`"),
    ("masked_lm", 'fill = pipeline("fill-mask", model="me/model")',
     "Inputs longer than 64 tokens are cut (the first 16 tokens and the end are kept). Scores",
     "- text column: `body`"),
])
def test_each_task_kind_writes_its_own_usage_length_note_and_input_column(tmp_path, task, pipeline_line,
                                                                          length_note, input_line):
    card = card_for(tmp_path, task, max_length=64, truncation="head_tail", head_tokens=16, text_column="body",
                    tokens_column="words")
    text = " ".join(card.text.split())  # the template wraps lines
    assert card.data.pipeline_tag == get_task(task).pipeline_tag
    assert pipeline_line in card.text and input_line in card.text.splitlines()
    assert length_note in text
