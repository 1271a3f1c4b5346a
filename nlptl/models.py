"""Load pretrained checkpoints and tokenizers by Hub id, mirror or local path, with one clear offline error."""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase

from nlptl import mirrors
from nlptl.errors import NlptlError
from nlptl.recipe import ModelConfig

DROPOUT_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout")


def _load(kind: str, loader: Any, cfg: ModelConfig, recipe_mirrors: dict[str, str], **kwargs: Any) -> Any:
    source = mirrors.resolve(cfg.name, recipe_mirrors)
    try:
        return loader(source, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code, **kwargs)
    except OSError as err:
        if mirrors.is_local(source):
            raise NlptlError(f"cannot load the {kind} from {source}: {str(err).splitlines()[0]}") from None
        raise mirrors.hub_error(f"model {kind}", cfg.name, err) from None


def load_tokenizer(cfg: ModelConfig, recipe_mirrors: dict[str, str]) -> PreTrainedTokenizerBase:
    tokenizer = _load("tokenizer", AutoTokenizer.from_pretrained, cfg, recipe_mirrors)
    if not getattr(tokenizer, "is_fast", False):
        raise NlptlError(f"{cfg.name}: nlptl needs a fast (Rust) tokenizer; this checkpoint has none")
    return tokenizer


def load_config(cfg: ModelConfig, recipe_mirrors: dict[str, str], **overrides: Any) -> PretrainedConfig:
    config = _load("config", AutoConfig.from_pretrained, cfg, recipe_mirrors, **overrides)
    if cfg.dropout is not None:
        for name in DROPOUT_FIELDS:
            if hasattr(config, name):
                setattr(config, name, cfg.dropout)
    return config


def load_labelled_model(model_class: Any, cfg: ModelConfig, recipe_mirrors: dict[str, str],
                        label_names: list[str]) -> Any:
    """A pretrained encoder with a fresh head for `label_names`, whose names are saved with the model."""
    return load_model(model_class, cfg, recipe_mirrors, num_labels=len(label_names),
                      id2label=dict(enumerate(label_names)),
                      label2id={name: i for i, name in enumerate(label_names)})


def load_model(model_class: Any, cfg: ModelConfig, recipe_mirrors: dict[str, str], **config_overrides: Any) -> Any:
    """`model_class.from_pretrained` (safetensors only) with the recipe's config overrides applied."""
    config = load_config(cfg, recipe_mirrors, **config_overrides)
    return _load("weights", model_class.from_pretrained, cfg, recipe_mirrors, config=config, use_safetensors=True)
