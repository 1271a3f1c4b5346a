"""The local seqeval_ner evaluate module: loads offline and matches hand-computed entity scores."""

from pathlib import Path

import evaluate
import pytest

import nlptl

MODULE_DIR = Path(nlptl.__file__).parent / "evaluation" / "modules" / "seqeval_ner"

REFERENCES = [
    ["B-PER", "I-PER", "O", "B-LOC", "O"],
    ["B-ORG", "I-ORG", "O", "B-PER", "O"],
]
PREDICTIONS = [
    ["B-PER", "I-PER", "O", "B-ORG", "O"],  # PER right, LOC predicted as ORG
    ["I-ORG", "I-ORG", "O", "B-PER", "I-PER"],  # ORG starts with I- (only lenient counts it), PER too long
]


@pytest.fixture(scope="module")
def metric() -> evaluate.EvaluationModule:
    return evaluate.load(str(MODULE_DIR.resolve()))


def test_lenient_scores_match_hand_count(metric) -> None:
    # Gold: PER(0-1), LOC(3), ORG(5-6), PER(8). Predicted: PER(0-1), ORG(3), ORG(5-6), PER(8-9).
    # Correct: PER(0-1), ORG(5-6) -> precision 2/4, recall 2/4.
    scores = metric.compute(predictions=PREDICTIONS, references=REFERENCES)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(7 / 10)  # wrong tags: B-ORG@3, I-ORG@5, I-PER@9
    assert scores["per_type"] == {
        "LOC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 1},
        "ORG": {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "number": 1},
        "PER": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "number": 2},
    }


def test_strict_iob2_drops_ill_formed_entities(metric) -> None:
    # Strict IOB2 does not accept an entity opened by I-ORG: only PER(0-1) is correct, out of 3 predicted.
    scores = metric.compute(predictions=PREDICTIONS, references=REFERENCES, mode="strict", scheme="IOB2")
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == pytest.approx(1 / 4)
    assert scores["f1"] == pytest.approx(2 / 7)
    assert scores["per_type"]["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 1}
    assert metric.compute(predictions=PREDICTIONS, references=REFERENCES, mode="strict") == scores


def test_perfect_and_entity_free_inputs(metric) -> None:
    perfect = metric.compute(predictions=REFERENCES, references=REFERENCES)
    assert (perfect["precision"], perfect["recall"], perfect["f1"], perfect["accuracy"]) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )
    empty = metric.compute(predictions=[["O", "O"]], references=[["O", "O"]])
    assert empty == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 1.0, "per_type": {}}


def test_incremental_batches_equal_one_call(metric) -> None:
    for predictions, references in zip(PREDICTIONS, REFERENCES, strict=True):
        metric.add_batch(predictions=[predictions], references=[references])
    assert metric.compute() == metric.compute(predictions=PREDICTIONS, references=REFERENCES)


def test_bad_options_are_rejected(metric) -> None:
    with pytest.raises(ValueError, match="mode"):
        metric.compute(predictions=PREDICTIONS, references=REFERENCES, mode="exact")
    with pytest.raises(ValueError, match="scheme"):
        metric.compute(predictions=PREDICTIONS, references=REFERENCES, mode="strict", scheme="BIO")
