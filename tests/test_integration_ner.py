"""The real pretrained MiniLM on a slice of the shared CoNLL-2003 data: NER learns well above a trivial baseline."""

import pytest

import nlptl
from nlptl.inference.ner import predict_entities

pytestmark = pytest.mark.integration
CONLL_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def test_short_run_learns_entities(minilm_dir, shared_data, tmp_path):
    # 1000 sentences, one epoch: batch 8 gives the small model enough steps (125) at lr 2e-4 (~0.55-0.6 F1;
    # predicting O everywhere scores 0). The uncased MiniLM cannot see capitals, so it stays far from BERT's 0.9.
    out = tmp_path / "run"
    recipe = nlptl.Recipe(
        name="conll_slice", task="token_classification", output_dir=str(out),
        model=nlptl.ModelConfig(name=minilm_dir),
        data=nlptl.DataConfig(source=str(shared_data / "conll2003"), label_names=CONLL_TAGS, max_length=64,
                              max_train_samples=1000, max_eval_samples=300),
        train=nlptl.TrainConfig(epochs=1, batch_size=8, eval_batch_size=64, lr=2e-4, log_with=[]),
    )
    metrics = nlptl.train(recipe)
    test = metrics["test"]
    assert test["num_examples"] == 300 and metrics["validation"]["num_examples"] == 300
    assert test["f1"] > 0.4, test
    assert set(test["per_type"]) == {"PER", "ORG", "LOC", "MISC"}
    text = "Peter Blackburn said the European Commission met in Brussels on Monday."
    (spans,) = predict_entities(out, [text])
    assert spans and all(text[s.start_char:s.end_char] == s.text for s in spans)
