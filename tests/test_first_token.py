import copy

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

from nlptl.first_token import first_token_only, last_layer_first_token_only


def classifier(attn: str) -> BertForSequenceClassification:
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, num_labels=3, attn_implementation=attn)
    torch.manual_seed(0)
    return BertForSequenceClassification(config).eval()


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_first_token_last_layer_gives_the_same_logits(attn, dtype):
    full = classifier(attn).to(dtype)
    fast = copy.deepcopy(full)
    assert last_layer_first_token_only(fast) and first_token_only(fast.bert.encoder.layer[-1])
    ids = torch.randint(5, 50, (4, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # padded rows: the first token must not attend to padding
    mask[3, 2:] = 0
    ids[mask == 0] = 0
    with torch.inference_mode():
        for batch in ({"input_ids": ids, "attention_mask": mask}, {"input_ids": ids[:1, :7]}):
            expected, got = full(**batch).logits.float(), fast(**batch).logits.float()
            tolerance = 1e-5 if dtype == torch.float32 else 3e-2
            assert torch.allclose(expected, got, atol=tolerance, rtol=0), (expected, got)


def test_token_classifiers_and_other_layouts_are_left_alone():
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=3)
    tagger = BertForTokenClassification(config)  # every token's output is used
    assert not last_layer_first_token_only(tagger) and not last_layer_first_token_only(tagger.bert)
    assert not first_token_only(tagger.bert.encoder.layer[-1])


def test_training_through_the_first_token_path_gives_the_same_loss_and_gradients():
    """Without dropout (so both paths draw nothing random) the shortcut is exact for training too."""
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, num_labels=3, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    full = BertForSequenceClassification(config).train()
    fast = copy.deepcopy(full)
    assert last_layer_first_token_only(fast)
    ids = torch.randint(5, 50, (4, 12))
    mask = torch.ones_like(ids)
    mask[2, 5:] = 0
    labels = torch.tensor([0, 1, 2, 1])
    for model in (full, fast):
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    for (name, a), (_, b) in zip(full.named_parameters(), fast.named_parameters(), strict=True):
        expected = a.grad if a.grad is not None else torch.zeros_like(a)
        got = b.grad if b.grad is not None else torch.zeros_like(b)
        assert torch.allclose(expected, got, atol=1e-6, rtol=1e-4), name


def test_attention_dropout_still_applies_in_training():
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.5)
    model = BertForSequenceClassification(config)
    last_layer_first_token_only(model)
    ids = torch.randint(5, 50, (2, 10))
    model.train()
    torch.manual_seed(1)
    first = model(input_ids=ids).logits
    torch.manual_seed(2)
    assert not torch.allclose(first, model(input_ids=ids).logits)  # the dropout mask differs per draw
    model.eval()
    assert torch.allclose(model(input_ids=ids).logits, model(input_ids=ids).logits)


def test_the_saved_model_is_the_plain_one(tmp_path):
    model = classifier("sdpa")
    keys = list(model.state_dict())
    last_layer_first_token_only(model)
    assert list(model.state_dict()) == keys
    model.save_pretrained(tmp_path)
    reloaded = BertForSequenceClassification.from_pretrained(tmp_path)
    assert not first_token_only(reloaded.bert.encoder.layer[-1])
