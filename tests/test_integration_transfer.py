"""Transfer strategies and DAPT with the real pretrained MiniLM on slices of the shared IMDb and SST-2 data."""

import logging
import math

import pytest
import torch
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification

import nlptl
from nlptl.data.pipeline import build_datasets
from nlptl.models import load_tokenizer
from nlptl.tasks import get_task

pytestmark = pytest.mark.integration


def sst2_recipe(model, shared_data, output_dir, strategy, train_samples, eval_samples, **train):
    settings = {"epochs": 1, "batch_size": 32, "eval_batch_size": 128, "lr": 1e-4, "log_with": [],
                "mixed_precision": "no"}
    settings.update(train)
    return nlptl.Recipe(
        name="sst2", output_dir=str(output_dir), model=nlptl.ModelConfig(name=str(model)),
        data=nlptl.DataConfig(source=str(shared_data / "sst2"), text_column="sentence", max_length=64,
                              max_train_samples=train_samples, max_eval_samples=eval_samples),
        train=nlptl.TrainConfig(**settings), strategy=nlptl.StrategyConfig(name=strategy),
    )


def test_minilm_dapt_then_cached_feature_extraction(minilm_dir, shared_data, tmp_path, caplog):
    dapt = tmp_path / "dapt"
    recipe = nlptl.Recipe(
        name="dapt", task="masked_lm", output_dir=str(dapt), model=nlptl.ModelConfig(name=minilm_dir),
        data=nlptl.DataConfig(source=str(shared_data / "imdb"), train_split="unsup", validation_size=16,
                              max_length=48, max_train_samples=32, max_eval_samples=16),
        train=nlptl.TrainConfig(max_steps=2, batch_size=8, eval_batch_size=16, lr=1e-4, log_with=[],
                                mixed_precision="no", metric_for_best="perplexity", greater_is_better=False))
    with caplog.at_level(logging.WARNING):
        metrics = nlptl.train(recipe)
    assert "has no masked-LM head weights" in caplog.text  # MiniLM ships the encoder only
    assert math.isfinite(metrics["validation"]["perplexity"]) and metrics["validation"]["num_examples"] == 16
    fe = sst2_recipe(dapt, shared_data, tmp_path / "fe", "feature_extraction", 320, 160, epochs=10, lr=3e-3,
                     eval_every=10_000)  # each text is encoded once; the ten epochs train only the head
    fe.strategy.cache_features = True
    result = nlptl.train(fe)
    assert result["train"]["trainable_parameters"] == 384 * 384 + 384 + 384 * 2 + 2  # pooler + classifier
    assert result["test"]["accuracy"] > 0.58  # fixed [CLS] features already separate sentiment (chance ~0.5)


def test_minilm_lora_saves_a_merged_plain_bert(minilm_dir, shared_data, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    recipe = sst2_recipe(minilm_dir, shared_data, out, "lora", 128, 100, max_steps=4, lr=1e-3)
    metrics = nlptl.train(recipe)
    assert metrics["train"]["trainable_parameters"] < metrics["train"]["total_parameters"] / 20
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    test = build_datasets(recipe, get_task("sequence_classification"), load_tokenizer(recipe.model, {}))["test"]
    collate = get_task("sequence_classification").collator(load_tokenizer(recipe.model, {}))
    correct = 0
    with torch.inference_mode():
        for batch in DataLoader(test, batch_size=50, collate_fn=collate):
            inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
            correct += int((model(**inputs).logits.argmax(-1) == batch["labels"]).sum())
    assert correct / len(test) == pytest.approx(metrics["test"]["accuracy"])  # the merged model is the trained one
