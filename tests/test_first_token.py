import copy

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertForTokenClassification

from nlptl.inference.first_token import FirstTokenLayer, last_layer_first_token_only


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
    assert last_layer_first_token_only(fast) and isinstance(fast.bert.encoder.layer[-1], FirstTokenLayer)
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
    assert not isinstance(tagger.bert.encoder.layer[-1], FirstTokenLayer)
