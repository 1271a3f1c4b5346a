"""Load pretrained checkpoints and tokenizers by Hub id, mirror or local path, with one clear offline error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase

from nlptl import mirrors
from nlptl.errors import NlptlError
from nlptl.recipe import ModelConfig

DROPOUT_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout")


def looks_like_path(name: str) -> bool:
    """A name no Hub id can be (absolute, ./ ../ ~, or more than one /): a missing local folder, not a Hub name."""
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or "\\" in name


def _load(kind: str, loader: Any, cfg: ModelConfig, recipe_mirrors: dict[str, str], **kwargs: Any) -> Any:
    source = mirrors.resolve(cfg.name, recipe_mirrors)
    if not mirrors.is_local(source) and looks_like_path(cfg.name):
        raise NlptlError(f"model {cfg.name}: no such directory; pass the folder of a saved model (holding "
                         "config.json), e.g. the output dir of `nlptl train`, or a Hub id like namespace/name")
    if mirrors.is_local(source):
        check_local_model(Path(source), cfg)
    try:
        # trust_remote_code is the recipe's (default False): a checkpoint's own Python code never runs unasked
        return loader(source, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code, **kwargs)
    except OSError as err:
        if mirrors.is_local(source):
            raise NlptlError(f"cannot load the {kind} from {source}: {str(err).splitlines()[0]}") from None
        raise mirrors.hub_error(f"model {kind}", cfg.name, err) from None
    except ValueError as err:
        if "trust_remote_code" in str(err) and not cfg.trust_remote_code:
            raise custom_code_error(cfg.name) from None
        if mirrors.is_local(source):
            raise NlptlError(f"cannot load the {kind} from {source}: {str(err).strip().splitlines()[0]}") from None
        raise


def custom_code_error(name: str) -> NlptlError:
    return NlptlError(f"{name} contains custom code (auto_map in config.json) that would run on loading; nlptl runs "
                      "it only when the recipe sets model.trust_remote_code true (for code you have read and trust)")


def check_local_model(folder: Path, cfg: ModelConfig) -> None:
    """A local model folder holds config.json, and asks for no code of its own unless the recipe trusts it."""
    if not folder.is_dir():
        return
    config = folder / "config.json"
    if not config.is_file():
        raise NlptlError(f"{folder} has no config.json, so it is not a saved model; pass the output dir of "
                         "`nlptl train` or a folder written by save_pretrained")
    if not cfg.trust_remote_code:
        try:
            asks_for_code = "auto_map" in json.loads(config.read_text())
        except (OSError, ValueError):
            return  # transformers names the unreadable file
        if asks_for_code:
            raise custom_code_error(cfg.name)


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
