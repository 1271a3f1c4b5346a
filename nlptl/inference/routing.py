"""Which kind of fine-tuned model a checkpoint is, read from its config, so prediction picks the right head
and decoding without being told. Token-classification models go to the NER decoding in
`nlptl.inference.ner` (`predict_entities`)."""

from __future__ import annotations

import inspect
from typing import Any

from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    PretrainedConfig,
)

from nlptl.errors import NlptlError

SEQUENCE, TOKEN = "sequence_classification", "token_classification"
MODEL_CLASSES = {SEQUENCE: AutoModelForSequenceClassification, TOKEN: AutoModelForTokenClassification}


def model_kind(config: PretrainedConfig, name: str) -> str:
    architectures = list(getattr(config, "architectures", None) or [])
    if any(a.endswith("ForTokenClassification") for a in architectures):
        return TOKEN
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        return SEQUENCE
    raise NlptlError(
        f"{name}: its config.json names the architectures {architectures or 'none'}; prediction needs a "
        "fine-tuned sequence- or token-classification checkpoint (the output dir of `nlptl train`)"
    )


def predict_entities(model: Any, tokenizer: Any, texts: list[str], batch_size: int, max_length: int,
                     trained: dict[str, Any]) -> list:
    """Entity spans per text from the NER decoding (`trained`: the data section of the model's recipe.yaml,
    for the window stride, strict IOB2 scoring and the decoding); arguments are passed by the names it declares."""
    try:
        from nlptl.inference.ner import predict_entities as decode
    except ImportError:
        raise NlptlError("this is a token-classification (NER) model, and this nlptl install has no NER "
                         "prediction (nlptl.inference.ner); update nlptl") from None
    offered = {"model": model, "tokenizer": tokenizer, "texts": texts, "batch_size": batch_size,
               "max_length": max_length, "stride": trained.get("stride"), "strict": trained.get("ner_strict"),
               "decoding": trained.get("ner_decoding")}
    accepted = inspect.signature(decode).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return decode(**offered)
    return decode(**{key: value for key, value in offered.items() if key in accepted})
