"""NER prediction runs through the engine's length-sorted, padded batches and gives what one window at a time,
unpadded, gives: the same log-probabilities and the same entities, in input order."""

import random

import numpy as np
import pytest
import torch
from conftest import FILLER, NEGATIVE, POSITIVE
from transformers import BertForTokenClassification, BertTokenizerFast

from nlptl.inference.ner import predict_entities, predict_windows
from nlptl.tasks.token_alignment import tokenize_and_align

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.fixture(scope="module")
def ner_model(tiny_model_dir):
    torch.manual_seed(3)  # a random head: every tag is predicted somewhere, so the entities depend on each score
    model = BertForTokenClassification.from_pretrained(tiny_model_dir, num_labels=len(TAGS),
                                                       id2label=dict(enumerate(TAGS)),
                                                       label2id={t: i for i, t in enumerate(TAGS)})
    return model.eval(), BertTokenizerFast.from_pretrained(tiny_model_dir)


def texts(count: int = 12) -> list[str]:
    rng = random.Random(5)
    words = [*POSITIVE, *NEGATIVE, *FILLER, "."]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))) for _ in range(count)]


def test_windows_in_sorted_batches_score_as_one_window_at_a_time(ner_model):
    model, tokenizer = ner_model
    sentences = [text.split() for text in texts()]
    windows = tokenize_and_align({"tokens": sentences}, list(range(len(sentences))), tokenizer=tokenizer,
                                 max_length=12, stride=2)
    assert len({len(ids) for ids in windows["input_ids"]}) > 1  # rows of several lengths: padding is exercised
    batched = predict_windows(model, tokenizer, windows, batch_size=3)
    with torch.no_grad():
        alone = [model(input_ids=torch.tensor([ids])).logits[0].log_softmax(-1).numpy()
                 for ids in windows["input_ids"]]
    assert [scores.shape for scores in batched] == [scores.shape for scores in alone]
    assert all(np.allclose(b, a, atol=1e-5) for b, a in zip(batched, alone, strict=True))


def test_entities_do_not_depend_on_the_batch_size(ner_model):
    model, tokenizer = ner_model
    one = predict_entities(model, texts(), tokenizer=tokenizer, batch_size=1, max_length=12, stride=2)
    for batch_size in (3, 32):
        assert predict_entities(model, texts(), tokenizer=tokenizer, batch_size=batch_size, max_length=12,
                                stride=2) == one
    assert sum(map(len, one)) > 10 and {span.type for row in one for span in row} == {"PER", "LOC"}
