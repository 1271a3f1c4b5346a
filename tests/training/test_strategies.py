"""Transfer strategies on the tiny BERT: which parameters train, at which rate, and what is saved."""

import json

import pytest
import torch
import yaml
from conftest import tiny_recipe
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoModelForTokenClassification

import nlptl
from nlptl import NlptlError
from nlptl.overrides import apply_overrides
from nlptl.recipe import load_recipe_yaml, recipe_from_dict, recipe_to_yaml
from nlptl.training.layers import layer_groups
from nlptl.training.strategies import STRATEGIES, build_strategy
from nlptl.training.strategies.feature_extraction import FrozenEncoder


def saved(path):
    return load_file(str(path / "model.safetensors"))


def pretrained(model_dir):
    return load_file(str(model_dir / "model.safetensors"))


def classifier(model_dir):
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)


def strategy_recipe(model_dir, data_dir, out, name, train_samples=64, **train):
    recipe = tiny_recipe(model_dir, data_dir, out, **train)
    recipe.strategy.name = name
    recipe.data.max_train_samples = train_samples
    recipe.data.max_eval_samples = 32
    return recipe


def encoder_keys(weights, layers=("embeddings", "layer.0.", "layer.1.")):
    return [k for k in weights if k.startswith("bert.") and "pooler" not in k and any(part in k for part in layers)]


def test_strategy_is_a_recipe_choice_with_a_short_flag():
    recipe = apply_overrides(nlptl.Recipe(), ["--strategy", "lora", "--strategy.lora_r", "4",
                                              "--strategy.lora_target_modules", "query,key"])
    assert recipe.strategy.name == "lora" and recipe.strategy.lora_r == 4
    assert recipe.strategy.lora_target_modules == ["query", "key"]
    with pytest.raises(NlptlError, match="strategy.name='fancy': choose one of full, feature_extraction"):
        build_strategy(apply_overrides(nlptl.Recipe(), ["--strategy", "fancy"]))
    recipe.distill.student_layers, recipe.mlm.probability = 3, 0.2
    assert recipe_from_dict(yaml.safe_load(recipe_to_yaml(recipe))) == recipe  # YAML round trip
    assert recipe_from_dict({"name": "old"}).strategy.name == "full"  # recipes saved before strategies load
    assert set(STRATEGIES) == {"full", "feature_extraction", "partial_freezing", "gradual_unfreezing",
                               "layerwise_lr", "lora", "from_scratch", "distill"}


def test_layer_groups_find_embeddings_layers_and_head(tiny_model_dir):
    groups = layer_groups(classifier(tiny_model_dir))
    assert len(groups.layers) == 2
    assert all(".layer.1." in name for name in groups.layers[1])
    assert {n.split(".")[1] for n in groups.embeddings} == {"embeddings"}
    assert set(groups.head) == {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight",
                                "classifier.bias"}


def test_feature_extraction_trains_only_the_head(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "fe"
    metrics = nlptl.train(strategy_recipe(tiny_model_dir, tiny_data_dir, out, "feature_extraction", max_steps=4))
    after, before = saved(out), pretrained(tiny_model_dir)
    assert encoder_keys(after) and all(torch.equal(after[k], before[k]) for k in encoder_keys(after))
    assert metrics["train"]["trainable_parameters"] == 32 * 32 + 32 + 32 * 2 + 2  # pooler + classifier
    assert metrics["train"]["total_parameters"] > 10 * metrics["train"]["trainable_parameters"]
    written = json.loads((out / "metrics.json").read_text())["train"]
    assert all(written[key] == metrics["train"][key] for key in ("trainable_parameters", "total_parameters"))
    assert set(after) == set(saved_plain_keys(tiny_model_dir, tmp_path))  # the encoder is back in place


def saved_plain_keys(model_dir, tmp_path):
    classifier(model_dir).save_pretrained(tmp_path / "plain")
    return saved(tmp_path / "plain").keys()


def test_cached_features_encode_each_text_once(tiny_model_dir):
    model = classifier(tiny_model_dir)
    recipe = nlptl.Recipe(strategy=nlptl.StrategyConfig(name="feature_extraction", cache_features=True))
    model = build_strategy(recipe).configure(model)
    calls = []
    model.bert.frozen.register_forward_hook(lambda module, args, output: calls.append(len(output[0])))
    batch = {"input_ids": torch.tensor([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0]]),
             "attention_mask": torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])}
    first = model(**batch).logits
    model.train()
    assert not model.bert.frozen.training  # the frozen encoder stays in eval mode (no dropout)
    model.eval()
    again = model(**batch).logits
    flipped = {name: value.flip(0)[:, :4] for name, value in batch.items()}  # other order, less padding
    reordered = model(**flipped)
    assert calls == [2]  # encoded once, whatever the batch order or padding
    assert torch.allclose(first, again) and torch.allclose(first.flip(0), reordered.logits, atol=1e-6)
    assert isinstance(model.bert, FrozenEncoder)


@pytest.mark.parametrize("task, auto_class, width", [("token_classification", AutoModelForTokenClassification, 3),
                                                      ("masked_lm", AutoModelForMaskedLM, None)])
def test_feature_extraction_keeps_every_position_for_heads_that_read_them(tiny_model_dir, task, auto_class, width):
    """The task says which positions its head reads: token and masked-LM heads get every position's features."""
    model = auto_class.from_pretrained(tiny_model_dir, **({"num_labels": width} if width else {}))
    recipe = nlptl.Recipe(task=task, strategy=nlptl.StrategyConfig(name="feature_extraction", cache_features=True))
    model = build_strategy(recipe).configure(model)
    batch = {"input_ids": torch.tensor([[2, 5, 6, 3, 0], [2, 7, 3, 0, 0]]),
             "attention_mask": torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])}
    logits = model(**batch).logits
    assert logits.shape[:2] == (2, 5) and logits.shape[2] == (width or model.config.vocab_size)
    assert model(**batch).logits.equal(logits)  # the second pass reads the stored whole-sequence features


def test_cached_features_train_like_the_frozen_encoder(tiny_model_dir, tiny_data_dir, tmp_path):
    runs = {}
    for cache in (False, True):
        recipe = strategy_recipe(tiny_model_dir, tiny_data_dir, tmp_path / f"cache{cache}", "feature_extraction",
                                 epochs=2)
        recipe.strategy.cache_features = cache
        runs[cache] = nlptl.train(recipe)
    frozen, cached = saved(tmp_path / "cacheFalse"), saved(tmp_path / "cacheTrue")
    assert all(torch.allclose(frozen[k], cached[k], atol=1e-5) for k in frozen)
    assert runs[True]["test"]["accuracy"] == runs[False]["test"]["accuracy"]
    assert runs[True]["test"]["num_examples"] == 32


def test_partial_freezing_keeps_embeddings_and_bottom_layers(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "pf"
    recipe = strategy_recipe(tiny_model_dir, tiny_data_dir, out, "partial_freezing", max_steps=3)
    recipe.strategy.freeze_layers = 1
    nlptl.train(recipe)
    after, before = saved(out), pretrained(tiny_model_dir)
    assert all(torch.equal(after[k], before[k]) for k in encoder_keys(after, ("embeddings", "layer.0.")))
    assert not any(torch.equal(after[k], before[k]) for k in encoder_keys(after, ("layer.1.",)) if "weight" in k)
    recipe.strategy.freeze_layers = 3
    with pytest.raises(NlptlError, match="freeze_layers=3: the model has 2 encoder layers"):
        build_strategy(recipe).configure(classifier(tiny_model_dir))


def trainable_groups(model, groups):
    params = dict(model.named_parameters())
    return [all(params[name].requires_grad for name in group) for group in groups]


def test_gradual_unfreezing_schedule(tiny_model_dir):
    for every, hook, points in ((None, "on_epoch_start", range(5)), (3, "on_step_start", (0, 2, 3, 6, 9, 30))):
        recipe = nlptl.Recipe(strategy=nlptl.StrategyConfig(name="gradual_unfreezing", unfreeze_every_steps=every))
        strategy = build_strategy(recipe)
        model = strategy.configure(classifier(tiny_model_dir))
        assert all(p.requires_grad for p in model.parameters())  # so all of them enter the optimizer
        groups = layer_groups(model).top_down()  # head, layer 1, layer 0, embeddings
        schedule = []
        for point in points:
            getattr(strategy, hook)(model, point)
            schedule.append(trainable_groups(model, groups))
        if every is None:
            assert schedule == [[True, False, False, False], [True, True, False, False], [True, True, True, False],
                                [True] * 4, [True] * 4]
        else:
            assert [sum(s) for s in schedule] == [1, 1, 2, 3, 4, 4]


def test_gradual_unfreezing_warns_when_the_run_ends_before_every_group_opens(tiny_model_dir, caplog):
    for every, total, per_epoch, warned in ((None, 30, 10, "opens only 3 of the 4"), (None, 31, 10, None),
                                            (15, 30, 10, "opens only 2 of the 4"), (3, 30, 10, None)):
        recipe = nlptl.Recipe(strategy=nlptl.StrategyConfig(name="gradual_unfreezing", unfreeze_every_steps=every))
        strategy = build_strategy(recipe)
        strategy.configure(classifier(tiny_model_dir))  # 4 groups: head, layer 1, layer 0, embeddings
        caplog.clear()
        with caplog.at_level("WARNING", logger="nlptl.training.strategies.freezing"):
            strategy.on_train_start(total, per_epoch)
        if warned:
            assert warned in caplog.text and "unfreeze_every_steps to at most 5" in caplog.text
        else:
            assert not caplog.text


def test_gradual_unfreezing_leaves_frozen_groups_untouched(tiny_model_dir, tiny_data_dir, tmp_path):
    """Two epochs: head, then head + top layer; with weight decay on, the rest stays bit-identical."""
    out = tmp_path / "gu"
    metrics = nlptl.train(strategy_recipe(tiny_model_dir, tiny_data_dir, out, "gradual_unfreezing", epochs=2,
                                          weight_decay=0.1))
    after, before = saved(out / "checkpoints" / "step-0000008"), pretrained(tiny_model_dir)  # the last step
    assert all(torch.equal(after[k], before[k]) for k in encoder_keys(after, ("embeddings", "layer.0.")))
    assert not any(torch.equal(after[k], before[k]) for k in encoder_keys(after, ("layer.1.",)) if "weight" in k)
    assert metrics["train"]["trainable_parameters"] == metrics["train"]["total_parameters"]


def test_layerwise_lr_decays_by_depth(tiny_model_dir):
    recipe = nlptl.Recipe(strategy=nlptl.StrategyConfig(name="layerwise_lr", lr_decay=0.5),
                          train=nlptl.TrainConfig(lr=1e-3))
    model = classifier(tiny_model_dir)
    groups = build_strategy(recipe).param_groups(model, recipe.train)
    lr_of = {id(p): group["lr"] for group in groups for p in group["params"]}
    params = dict(model.named_parameters())

    def lrs(part):
        return {lr_of[id(p)] for name, p in params.items() if part in name}

    assert lrs("classifier") == lrs("pooler") == lrs(".layer.1.") == {1e-3}
    assert lrs(".layer.0.") == {5e-4} and lrs("embeddings") == {2.5e-4}
    decays = {group["weight_decay"] for group in groups if any(p is params["bert.pooler.dense.bias"]
                                                               for p in group["params"])}
    assert decays == {0.0}  # biases still without decay


def test_from_scratch_is_randomly_initialised(tiny_model_dir, tiny_data_dir, tmp_path):
    model = classifier(tiny_model_dir)
    fresh = build_strategy(nlptl.Recipe(strategy=nlptl.StrategyConfig(name="from_scratch"))).configure(model)
    assert fresh.config.to_dict() == model.config.to_dict()
    before = pretrained(tiny_model_dir)
    now = fresh.state_dict()
    keys = encoder_keys(now)
    assert keys and not any(torch.equal(now[k], before[k]) for k in keys if k.endswith("dense.weight"))
    metrics = nlptl.train(strategy_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "fs", "from_scratch",
                                          max_steps=2))
    assert metrics["train"]["trainable_parameters"] == metrics["train"]["total_parameters"]


def test_lora_merged_export_is_a_plain_model(tiny_model_dir, tiny_data_dir, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    recipe = strategy_recipe(tiny_model_dir, tiny_data_dir, out, "lora", max_steps=3)
    recipe.strategy.lora_r = 4
    metrics = nlptl.train(recipe)
    assert 0 < metrics["train"]["trainable_parameters"] < metrics["train"]["total_parameters"] / 3
    after, before = saved(out), pretrained(tiny_model_dir)
    assert not [k for k in after if "lora" in k or "modules_to_save" in k or "base_layer" in k]
    assert set(after) == set(saved_plain_keys(tiny_model_dir, tmp_path))
    query = "bert.encoder.layer.1.attention.self.query.weight"
    assert not torch.equal(after[query], before[query])  # the low-rank update is merged into W
    key = "bert.encoder.layer.1.attention.self.key.weight"
    assert torch.equal(after[key], before[key])  # not a LoRA target
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.id2label == {0: "neg", 1: "pos"}
    assert load_recipe_yaml(out / "recipe.yaml").strategy.name == "lora"


def test_lora_merge_keeps_the_predictions(tiny_model_dir):
    pytest.importorskip("peft")
    strategy = build_strategy(nlptl.Recipe(strategy=nlptl.StrategyConfig(name="lora", lora_r=2)))
    model = strategy.configure(classifier(tiny_model_dir))
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.5)  # as if trained: adapters and head move
    model.eval()
    batch = {"input_ids": torch.tensor([[2, 5, 6, 7, 3]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    with torch.no_grad():
        expected = model(**batch).logits
        merged = strategy.export_model(model)
        assert type(merged).__name__ == "BertForSequenceClassification"
        assert torch.allclose(merged(**batch).logits, expected, atol=1e-5)
