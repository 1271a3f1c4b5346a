"""Domain-adaptive pre-training: the masked-LM task through the same trainer, and its encoder as --model."""

import logging
import math

import pytest
import torch
from conftest import final_weights_whole_and_resumed, tiny_recipe
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, BertConfig, BertForMaskedLM, BertModel

import nlptl
from nlptl.data.pipeline import build_datasets
from nlptl.models import load_tokenizer
from nlptl.tasks import get_task
from nlptl.tasks.masked_lm import MaskedLMTask


def mlm_recipe(model_dir, data_dir, out, **train):
    recipe = tiny_recipe(model_dir, data_dir, out, **train)
    recipe.task = "masked_lm"
    recipe.data.max_train_samples, recipe.data.max_eval_samples = 64, 32
    return recipe


@pytest.mark.slow  # unit-run budget: trains a tiny model end to end (the slow job runs it)
def test_dapt_runs_and_its_encoder_is_a_model_for_any_recipe(tiny_model_dir, tiny_data_dir, tmp_path):
    dapt = tmp_path / "dapt"
    metrics = nlptl.train(mlm_recipe(tiny_model_dir, tiny_data_dir, dapt, max_steps=3, metric_for_best="perplexity",
                                     greater_is_better=False))
    validation = metrics["validation"]
    assert validation["num_examples"] == 32 and validation["masked_tokens"] > 0
    assert validation["perplexity"] == pytest.approx(math.exp(validation["loss"]))
    assert 0 <= validation["accuracy"] <= 1
    adapted = load_file(str(dapt / "model.safetensors"))
    assert any(key.startswith("cls.predictions") for key in adapted)  # saved as a ...ForMaskedLM
    out = tmp_path / "cls"
    cls_metrics = nlptl.train(tiny_recipe(dapt, tiny_data_dir, out, max_steps=1))
    assert cls_metrics["test"]["num_examples"] == 75
    model = AutoModelForSequenceClassification.from_pretrained(dapt, num_labels=2)
    encoder = model.state_dict()
    assert all(torch.equal(encoder[k], adapted[k]) for k in adapted if k.startswith("bert."))


def test_evaluation_masks_are_fixed_and_training_masks_dynamic(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = mlm_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "r")
    tokenizer = load_tokenizer(recipe.model, {})
    first, second = (build_datasets(recipe, get_task("masked_lm"), tokenizer) for _ in range(2))
    assert first["validation"]["labels"] == second["validation"]["labels"]
    masked = [label for row in first["validation"]["labels"] for label in row if label != -100]
    tokens = sum(length - 2 for length in first["validation"]["length"])  # [CLS]/[SEP] are never masked
    assert 0.05 < len(masked) / tokens < 0.3
    task = get_task("masked_lm")
    task.prepare_labels(None, recipe)
    collate = task.collator(tokenizer)
    rows = [first["train"][i] for i in range(16)]
    one = collate(rows)
    assert set(one) >= {"input_ids", "attention_mask", "labels", "example_id"}
    assert ((one["labels"] == -100) | (one["attention_mask"] == 1)).all()  # padding is never a target
    assert torch.equal(collate(rows[::-1])["labels"], one["labels"].flip(0))  # a row's mask is its own, in any batch
    collate.set_epoch(1)
    assert not torch.equal(collate(rows)["labels"], one["labels"])  # masked afresh each epoch


def test_a_checkpoint_without_mlm_head_is_reported(tiny_model_dir, tmp_path, caplog):
    bare = tmp_path / "bare"
    BertModel.from_pretrained(tiny_model_dir).save_pretrained(bare)
    recipe = nlptl.Recipe(task="masked_lm", model=nlptl.ModelConfig(name=str(bare)))
    with caplog.at_level(logging.WARNING):
        get_task("masked_lm").build_model(recipe)
    assert "has no masked-LM head weights" in caplog.text and "cls.predictions" in caplog.text


def test_imdb_dapt_recipe_file_loads():
    from conftest import REPO

    from nlptl.recipe import load_recipe_file

    recipe = load_recipe_file(str(REPO / "recipes" / "imdb_dapt.py"))
    assert recipe.task == "masked_lm" and recipe.data.train_split == "unsup" and recipe.mlm.probability == 0.15
    assert recipe.train.metric_for_best == "perplexity" and not recipe.train.greater_is_better


def test_training_scores_only_masked_positions_with_the_same_loss_and_gradients():
    config = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=32)
    torch.manual_seed(0)
    full, fast = BertForMaskedLM(config).eval(), BertForMaskedLM(config).eval()  # no dropout: same arithmetic
    fast.load_state_dict(full.state_dict())
    ids = torch.randint(5, 60, (3, 10))
    mask = torch.ones_like(ids)
    mask[2, 6:] = 0
    labels = torch.full_like(ids, -100)
    labels[0, [1, 4]], labels[1, 7], labels[2, [0, 5]] = 11, 12, 13
    inputs = {"input_ids": ids, "attention_mask": mask}
    task = MaskedLMTask()
    rows_scored = []
    fast.cls.predictions.decoder.register_forward_hook(lambda m, args, out: rows_scored.append(out.shape[:-1]))
    expected = task.loss_sum(full(**inputs).logits, labels)
    got = task.loss_sum(*task.training_logits(fast, inputs, labels))
    assert rows_scored == [torch.Size([1, 5])]  # 5 targets, not 30 positions
    assert torch.allclose(expected, got, atol=1e-5)
    expected.backward()
    got.backward()
    for (name, a), b in zip(full.named_parameters(), fast.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-5), name
    assert task.training_logits(fast, inputs, labels)[0].shape == (1, 5, 60)
    fast(**inputs)  # the hook is gone after the training forward
    assert rows_scored[-1] == torch.Size([3, 10])


def test_resume_restores_the_tied_masked_lm_head(tiny_model_dir, tiny_data_dir, tmp_path):
    """Resuming mid-epoch continues exactly: the same masks (the loader collates a batch ahead of the checkpoint)
    and the tied decoder weights (checkpoints keep one copy of the word embeddings)."""
    def recipe(out):
        return mlm_recipe(tiny_model_dir, tiny_data_dir, out, epochs=2, eval_every=3, keep_checkpoints=10)

    whole, resumed = final_weights_whole_and_resumed(recipe, tmp_path)
    assert whole.keys() == resumed.keys() and any(key.startswith("cls.predictions") for key in whole)
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)
