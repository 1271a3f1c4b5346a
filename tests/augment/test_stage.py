"""AugmentStage as a data stage: train split only, offline expansion or per-epoch copies, reported in the outputs."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
from conftest import tiny_recipe
from test_token_classification import NAMES, ner_recipe, write_ner_splits

import nlptl
import nlptl.data
from nlptl import NlptlError
from nlptl.augment import EDA_OPS, MENTION_REPLACEMENT
from nlptl.augment.epochs import group_lengths
from nlptl.augment.stage import AugmentStage
from nlptl.data.batching import LengthGroupedBatches
from nlptl.data.files.load import load_raw_splits
from nlptl.data.pipeline import build_datasets
from nlptl.iob2 import entity_spans
from nlptl.models import load_tokenizer
from nlptl.tasks import get_task

EDA = ["synonym", "swap", "delete", "insert"]


def augmented_recipe(model_dir: Path, data_dir: Path, out: Path, train_samples: int = 40, **augment):
    recipe = tiny_recipe(model_dir, data_dir, out)
    recipe.data.max_train_samples = train_samples
    for key, value in {"ops": EDA, "copies": 2, **augment}.items():
        setattr(recipe.augment, key, value)
    return recipe


def build(recipe: nlptl.Recipe) -> tuple[dict, AugmentStage]:
    task = get_task(recipe.task)
    augmentation = AugmentStage(recipe, task)
    return build_datasets(recipe, task, load_tokenizer(recipe.model, {}), augmentation=augmentation), augmentation


def ids(ds) -> list[list[int]]:
    return ds["input_ids"]


# ---- settings ----------------------------------------------------------------------------------------------------
def test_bad_settings_fail_before_data_is_read(tmp_path):
    recipe = nlptl.Recipe(data=nlptl.DataConfig(source=str(tmp_path / "missing")))
    task = get_task(recipe.task)
    recipe.augment.ops = ["antonym", "swap"]
    with pytest.raises(NlptlError, match="needs augment.antonym_label_map"):
        AugmentStage(recipe, task)
    recipe.augment.ops, recipe.augment.mode = ["swap"], "sometimes"
    with pytest.raises(NlptlError, match="augment.mode='sometimes'"):
        AugmentStage(recipe, task)
    recipe.augment.mode, recipe.augment.alpha = "offline", 2.0
    with pytest.raises(NlptlError, match=r"recipe field augment.alpha=2.0: .* in \(0, 1\]"):
        AugmentStage(recipe, task)


def test_antonym_map_names_must_be_labels(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = augmented_recipe(tiny_model_dir, tiny_data_dir, tmp_path, ops=["antonym"],
                              antonym_label_map={"pos": "negative"})
    with pytest.raises(NlptlError, match="'negative' is not a label"):
        build(recipe)


def test_antonym_copies_flip_the_label(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = augmented_recipe(tiny_model_dir, tiny_data_dir, tmp_path, ops=["antonym"], copies=1,
                              antonym_label_map={"pos": "neg", "neg": "pos"})
    task = get_task(recipe.task)
    augmentation = AugmentStage(recipe, task)
    splits = task.prepare_labels(load_raw_splits(str(tiny_data_dir), None, {}, None), recipe)
    rows = augmentation.row_augmenter(splits["train"])
    flipped = [(row["labels"], new["labels"]) for row in splits["train"].select(range(40))
               for _, new in rows.augment(row, augmentation.stats)]
    assert flipped and all(new == 1 - old for old, new in flipped)  # "good" -> "bad" and back


# ---- offline -------------------------------------------------------------------------------------------------
def test_offline_expands_train_only_and_is_deterministic_per_seed(tiny_model_dir, tiny_data_dir, tmp_path):
    plain = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path)
    plain.data.max_train_samples = 40
    reference, _ = build(plain)
    first, augmentation = build(augmented_recipe(tiny_model_dir, tiny_data_dir, tmp_path))
    again, _ = build(augmented_recipe(tiny_model_dir, tiny_data_dir, tmp_path))
    other, _ = build(augmented_recipe(tiny_model_dir, tiny_data_dir, tmp_path, seed=7))
    report = augmentation.report()["augmentation"]
    assert report["train_examples_before"] == 40 and report["train_examples_after"] == len(first["train"])
    assert len(first["train"]) == 40 + sum(report["produced"].values())
    assert 40 * 2 < len(first["train"]) <= 40 * 3  # two copies each, a few dropped as unchanged
    assert set(report["produced"]) == set(EDA_OPS)
    assert ids(first["train"]) == ids(again["train"])  # same seed, same rows
    assert ids(first["train"]) != ids(other["train"])
    assert set(map(tuple, ids(reference["train"]))) <= set(map(tuple, ids(first["train"])))  # originals kept
    for split in ("validation", "test"):
        assert ids(first[split]) == ids(reference[split]) and first[split]["labels"] == reference[split]["labels"]


def test_training_writes_samples_and_counts(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    recipe = augmented_recipe(tiny_model_dir, tiny_data_dir, out, record_samples=8)
    recipe.train.max_steps = 2
    metrics = nlptl.train(recipe)
    saved = json.loads((out / "metrics.json").read_text())["train"]["augmentation"]
    assert saved == metrics["train"]["augmentation"] and saved["mode"] == "offline"
    assert saved["train_examples_after"] == metrics["train"]["train_examples"] > 80
    samples = [json.loads(line) for line in (out / "augmentation_samples.jsonl").read_text().splitlines()]
    assert len(samples) == 8 and {s["op"] for s in samples} == set(EDA_OPS)  # two per operation
    assert all(s["before"]["text"] != s["after"]["text"] and s["before"]["label"] in ("neg", "pos") for s in samples)
    assert not list(out.glob(".*tmp"))


# ---- on the fly ----------------------------------------------------------------------------------------------
def collate_each(augmentation: AugmentStage, rows: list[dict], epoch: int) -> list[list[int]]:
    """Each row's (unpadded) input ids after the train collator, one batch for all rows."""
    augmentation.train_collator.set_epoch(epoch)
    batch = augmentation.train_collator(rows)
    return [r[m.bool()].tolist() for r, m in zip(batch["input_ids"], batch["attention_mask"], strict=True)]


def test_on_the_fly_differs_by_epoch_and_repeats_per_seed(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = augmented_recipe(tiny_model_dir, tiny_data_dir, tmp_path, mode="on_the_fly")
    splits, augmentation = build(recipe)
    train = splits["train"]
    assert len(train) == 40 and {"text", "labels", "example_id", "length"} <= set(train.column_names)
    rows = [train[i] for i in range(len(train))]
    epoch0, epoch1 = collate_each(augmentation, rows, 0), collate_each(augmentation, rows, 1)
    assert epoch0 != epoch1
    _, again = build(recipe)
    assert collate_each(again, rows, 1) == epoch1 and collate_each(again, rows, 0) == epoch0
    # A row comes out the same whichever process (batch) it lands in: seeded by (seed, epoch, example_id).
    assert collate_each(again, rows[20:], 1) + collate_each(again, rows[:20], 1) == epoch1[20:] + epoch1[:20]
    # About copies/(copies+1) = 2/3 of the rows are replaced by an augmented version.
    counts = augmentation.report()["augmentation"]
    assert counts["rows_seen"] == 40 * 2 and 0.4 < counts["rows_augmented"] / counts["rows_seen"] < 0.9
    validation = build_datasets(tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path), get_task(recipe.task),
                                load_tokenizer(recipe.model, {}))["validation"]
    assert ids(splits["validation"]) == ids(validation)


def test_on_the_fly_regroups_batches_and_splits_work_over_processes(tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = augmented_recipe(tiny_model_dir, tiny_data_dir, tmp_path, mode="on_the_fly")
    splits, single = build(recipe)
    sampler = LengthGroupedBatches(splits["train"]["length"], 8, seed=1,
                                   epoch_lengths=single.train_collator.epoch_lengths)
    sampler.set_epoch(3)
    batches = list(sampler)  # the sampler asks the collator for epoch 3's lengths: epoch 3 is augmented now
    assert single.train_collator.epoch == 3
    augmented = group_lengths(single.train_collator.model_rows)
    assert sampler.lengths_in(3) == augmented != splits["train"]["length"]  # augmented lengths
    plain = LengthGroupedBatches(augmented, 8, seed=1)
    plain.set_epoch(3)
    assert batches == list(plain)  # grouped by the augmented lengths
    shares: dict[int, dict] = {}

    def fake_gather(rank: int, local: dict) -> list[dict]:  # what gather_object returns once both have run
        shares[rank] = local
        return [shares[r] for r in sorted(shares)]

    ranks = [build(recipe)[1].train_collator for _ in range(2)]
    for rank, part in enumerate(ranks):
        part.share_work(rank, 2, partial(fake_gather, rank))
        part.set_epoch(3)
    assert ranks[1].model_rows == single.train_collator.model_rows  # rank 1 saw both shares
    assert ranks[0].rows_seen + ranks[1].rows_seen == single.train_collator.rows_seen == 40


def test_on_the_fly_training_sets_the_epoch(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    recipe = augmented_recipe(tiny_model_dir, tiny_data_dir, out, train_samples=32, mode="on_the_fly", copies=1)
    recipe.train.epochs = 2
    metrics = nlptl.train(recipe)
    report = metrics["train"]["augmentation"]
    assert report["rows_seen"] == 64 and report["rows_augmented"] > 0
    assert metrics["train"]["train_examples"] == 32 and metrics["test"]["num_examples"] == 75
    samples = [json.loads(line) for line in (out / "augmentation_samples.jsonl").read_text().splitlines()]
    assert samples and {s["epoch"] for s in samples} <= {0, 1} and all("example_id" in s for s in samples)


# ---- NER -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ner_dir(tmp_path_factory) -> Path:
    return write_ner_splits(tmp_path_factory.mktemp("ner-augment"), {"train": 48, "validation": 16, "test": 16})


def ner_augmented(tiny_model_dir: Path, ner_dir: Path, tmp_path: Path, **augment) -> nlptl.Recipe:
    recipe = ner_recipe(tiny_model_dir, ner_dir, tmp_path, label_names=NAMES)
    for key, value in {"ops": [*EDA, "mention"], "copies": 3, **augment}.items():
        setattr(recipe.augment, key, value)
    return recipe


def mentions(tokens: list[str], tags: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    return [(span.entity_type, tuple(tokens[span.start:span.end])) for span in entity_spans(tags)]


def test_ner_copies_keep_tokens_and_tags_aligned_and_entities(tiny_model_dir, ner_dir, tmp_path):
    recipe = ner_augmented(tiny_model_dir, ner_dir, tmp_path)
    task = get_task(recipe.task)
    augmentation = AugmentStage(recipe, task)
    train = task.prepare_labels(load_raw_splits(str(ner_dir), None, {}, None), recipe)["train"]
    rows = augmentation.row_augmenter(train)
    seen_ops = set()
    for row in train:
        before = mentions(row["tokens"], [NAMES[i] for i in row["labels"]])
        for op, new in rows.augment(row, augmentation.stats):
            seen_ops.add(op)
            tags = [NAMES[i] for i in new["labels"]]
            assert len(new["tokens"]) == len(tags)
            after = mentions(new["tokens"], tags)
            if op == MENTION_REPLACEMENT:  # other mentions of the same types, in the same order
                assert [t for t, _ in after] == [t for t, _ in before] and after != before
            else:  # EDA touches only O words: every mention keeps its words and type
                assert after == before
    assert seen_ops == {*EDA_OPS, MENTION_REPLACEMENT}
    made_above = sum(augmentation.stats.produced.values())
    expanded = augmentation.expand(train)
    assert len(expanded) == 48 + made_above and sum(augmentation.stats.produced.values()) == 2 * made_above
    assert all(len(t) == len(tags) for t, tags in zip(expanded["tokens"], expanded["labels"], strict=True))


def test_ner_pipeline_offline_and_on_the_fly(tiny_model_dir, ner_dir, tmp_path):
    plain, _ = build(ner_recipe(tiny_model_dir, ner_dir, tmp_path, label_names=NAMES))
    offline, _ = build(ner_augmented(tiny_model_dir, ner_dir, tmp_path))
    assert len(offline["train"]) > 2 * len(plain["train"])
    assert offline["test"]["input_ids"] == plain["test"]["input_ids"]
    splits, augmentation = build(ner_augmented(tiny_model_dir, ner_dir, tmp_path, mode="on_the_fly"))
    rows = [splits["train"][i] for i in range(16)]
    augmentation.train_collator.set_epoch(0)
    batch = augmentation.train_collator(rows)
    assert batch["labels"].shape == batch["input_ids"].shape
    scored = (batch["labels"] != -100).sum(dim=1)
    assert torch.all(scored > 0)  # every window scores its words
    with pytest.raises(NlptlError, match="antonym_replacement cannot be used for NER"):
        build(ner_augmented(tiny_model_dir, ner_dir, tmp_path, ops=["antonym"], antonym_label_map={"O": "O"}))


# ---- layering ------------------------------------------------------------------------------------------------
def test_the_data_layer_does_not_import_the_tasks():
    """The pipeline receives the task (and the augmentation stage); nothing in nlptl.data imports nlptl.tasks."""
    modules = [f"nlptl.data.{info.name}" for info in pkgutil.iter_modules(nlptl.data.__path__)]
    code = (f"import importlib, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
            "print(' '.join(m for m in sys.modules if m.startswith('nlptl.tasks')))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "nlptl.data.pipeline" in modules and loaded.stdout.split() == []
