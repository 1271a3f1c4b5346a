"""Entities in raw text from a fine-tuned token-classification model, with character offsets.

Texts are split into words (by default as BERT does: whitespace, then punctuation apart, close to CoNLL's
tokenization), cut into the same overlapping windows as in training (`token_alignment`), so a long text loses
no words, and each word's tag comes from its first sub-token in the window that owns it. Chunking into
entities is seqeval's (`ner_decode`), the same the `seqeval_ner` metric counts.

    from nlptl.inference.ner import predict_entities
    predict_entities("runs/conll2003_ner", ["Angela Merkel visited Paris."])
    # [[EntitySpan(type='PER', ..., text='Angela Merkel', start_char=0, end_char=13), EntitySpan(type='LOC', ...)]]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers.pre_tokenizers import BertPreTokenizer, PreTokenizer
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from nlptl.errors import NlptlError
from nlptl.inference.engine import sorted_forward
from nlptl.inference.trained import default_max_length, saved_recipe
from nlptl.models import load_config, load_model, load_tokenizer
from nlptl.recipe import DataConfig, ModelConfig
from nlptl.tasks import checkpoint_task
from nlptl.tasks.ner_decode import DECODINGS, EntitySpan, decode_entities, decode_tags, split_words_with_offsets
from nlptl.tasks.token_alignment import SENTENCE_ID_COLUMN, WORD_IDS_COLUMN, stitch_word_scores, tokenize_and_align
from nlptl.tasks.token_classification import TokenClassificationTask


def load_token_model(model_dir: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Tokenizer and model of a token-classification checkpoint; any other head is a clear error (loading it
    as a token classifier would silently give a random head)."""
    cfg = ModelConfig(name=str(model_dir))
    config = load_config(cfg, {})
    if checkpoint_task(config) != TokenClassificationTask.name:
        architectures = list(getattr(config, "architectures", None) or [])
        raise NlptlError(f"{model_dir}: not a token-classification checkpoint (architectures: "
                         f"{architectures or 'none'}); pass the output dir of a token_classification run")
    model = load_model(TokenClassificationTask.model_class, cfg, {})
    return model.eval(), load_tokenizer(cfg, {})


def predict_windows(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, windows: dict[str, list],
                    batch_size: int) -> list[np.ndarray]:
    """Log-probabilities (positions, labels) of every window, run by the engine's length-sorted batches."""
    predictions: list[np.ndarray] = [np.empty((0, 0)) for _ in windows["input_ids"]]
    for rows, log_probs in sorted_forward(model, tokenizer, windows, batch_size,
                                          lambda logits: logits.float().log_softmax(dim=-1).cpu()):
        for row, row_scores in zip(rows, log_probs.numpy(), strict=True):
            predictions[row] = row_scores[:len(windows["input_ids"][row])]
    return predictions


def predict_entities(model: str | Path | PreTrainedModel, texts: Sequence[str], *,
                     tokenizer: PreTrainedTokenizerBase | None = None, batch_size: int = 32,
                     max_length: int | None = None, stride: int | None = None,
                     pre_tokenizer: PreTokenizer | None = None, strict: bool | None = None,
                     decoding: str | None = None) -> list[list[EntitySpan]]:
    """Entity spans (with `start_char`/`end_char` into each text) for every text.

    `model` is a trained model dir (the output dir of a token_classification run; its recipe.yaml supplies
    max_length, stride, ner_strict and ner_decoding unless given here) or an already loaded model plus its
    `tokenizer`. `decoding`: "constrained" (best valid IOB2 sequence, the default) or "argmax".
    """
    trained: DataConfig | None = None
    if isinstance(model, str | Path):
        recipe = saved_recipe(model)
        trained = recipe.data if recipe else None
        model, tokenizer = load_token_model(model)
    elif tokenizer is None:
        raise NlptlError("predict_entities: pass the tokenizer along with a loaded model (or pass a model dir)")
    if batch_size < 1:
        raise NlptlError(f"batch_size={batch_size}: must be at least 1")
    max_length = max_length or (trained and trained.max_length) or default_max_length(tokenizer, model.config)
    trained = trained or DataConfig()
    stride = stride if stride is not None else trained.stride
    strict = trained.ner_strict if strict is None else strict
    decoding = decoding or trained.ner_decoding
    if decoding not in DECODINGS:
        raise NlptlError(f"decoding={decoding!r}: choose one of {', '.join(DECODINGS)}")
    splitter = pre_tokenizer or BertPreTokenizer()
    split = [split_words_with_offsets(text or "", splitter) for text in texts]
    words = [sentence_words for sentence_words, _ in split]
    if not words:
        return []
    windows = tokenize_and_align({"tokens": words}, list(range(len(words))), tokenizer=tokenizer,
                                 max_length=max_length, stride=stride)
    per_window = predict_windows(model, tokenizer, windows, batch_size)
    per_word = stitch_word_scores(per_window, windows[WORD_IDS_COLUMN], windows[SENTENCE_ID_COLUMN],
                                  [len(sentence_words) for sentence_words in words])
    config: Any = model.config  # id2label has int keys once loaded
    names = [str(config.id2label[i]) for i in range(config.num_labels)]
    return [
        decode_entities(sentence_words, [names[i] for i in decode_tags(scores, names, decoding)], offsets=offsets,
                        text=text or "", strict=strict)
        for (sentence_words, offsets), scores, text in zip(split, per_word, texts, strict=True)
    ]
