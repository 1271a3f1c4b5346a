"""Typed recipe: every choice of a run, overridable from the command line and saved as YAML next to the outputs.

A recipe file builds one `Recipe` and calls `nlptl.run(recipe)`; `run` applies command-line overrides
(`--train.lr 3e-5`, or the short flags users know from the Hugging Face examples) before anything happens.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlptl.errors import NlptlError

LearningRate = float | str  # a number, or "auto": an LR range test on the run's data picks it (nlptl.training.lr_find)
LR_RULES = ("steepest", "valley", "minimum")  # how the range test's curve becomes a suggestion (lr_find.suggest_lr)


@dataclass
class ModelConfig:
    """Which pretrained checkpoint to start from."""

    name: str = "bert-base-uncased"  # Hub id or local directory
    revision: str | None = None
    trust_remote_code: bool = False
    dropout: float | None = None  # overrides the checkpoint's hidden/attention dropout when set


@dataclass
class DataConfig:
    """Where the labelled text comes from and how it becomes model inputs."""

    source: str = "stanfordnlp/imdb"  # Hub id, local dir with one file per split, or one file
    config_name: str | None = None  # the Hub data set's configuration, if it has several
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    label_names: list[str] | None = None  # default: the ClassLabel names, else the sorted values seen in train
    train_split: str = "train"
    validation_split: str = "validation"  # carved from train (seeded) when the source has no such split
    test_split: str = "test"
    validation_size: float = 0.1  # fraction (<1) or count (>=1) carved from train when needed
    max_length: int = 256  # tokens per row; token tasks cut longer sentences into overlapping windows
    truncation: str = "head"  # head | tail | head_tail (Sun et al. 2019: keep the start and the end)
    head_tokens: int = 128  # head_tail: tokens kept from the start; the rest of max_length from the end
    max_train_samples: int | None = None  # taken after a seeded shuffle
    max_eval_samples: int | None = None  # applies to validation and test
    cache_dir: str | None = None  # datasets cache (tokenized splits are cached there)
    num_proc: int | None = None
    # Token classification (task="token_classification"):
    tokens_column: str = "tokens"  # one list of words per sentence
    tags_column: str = "ner_tags"  # one tag per word: ids (names from the ClassLabel or label_names) or strings
    label_all_subtokens: bool = False  # also label continuation sub-tokens (I-X); default: first sub-token only
    stride: int | None = None  # overlap (tokens) between windows of a sentence longer than max_length; None: auto
    ner_strict: bool = False  # score only well-formed IOB2 entities (seqeval mode="strict"); default: conlleval-like
    ner_decoding: str = "constrained"  # constrained: best valid IOB2 sequence (Viterbi); argmax: each word alone


@dataclass
class TrainConfig:
    """The optimisation loop."""

    epochs: float = 3.0
    max_steps: int | None = None  # stop after this many optimizer steps (overrides epochs)
    min_steps: int | None = None  # at least this many optimizer steps: more epochs when the training set is small
    batch_size: int = 32  # per process, per micro-batch
    eval_batch_size: int = 64
    grad_accum: int = 1
    lr: LearningRate = 2e-5  # "auto": a short LR range test first (`nlptl lr-find`); 2e-5 suits bert-base, not MiniLM
    lr_find_steps: int = 20  # range test: optimizer steps at most (one batch each), exponentially spaced rates
    lr_find_range: tuple[float, float] = (1e-5, 1e-1)  # range test: first and last learning rate
    lr_find_batch_size: int | None = None  # range test rows per step; None: batch_size // 4 (see lr_find)
    lr_find_rule: str = "minimum"  # minimum (lowest loss / 10) | steepest | valley: nlptl.training.lr_find.suggest_lr
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    scheduler: str = "linear"  # linear | cosine | constant
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "auto"  # auto | no | bf16 | fp16
    group_by_length: bool = True
    group_window: int = 50  # group_by_length: batches per sorting window (smaller: batches more varied, more padding)
    eval_every: int | None = None  # optimizer steps between evaluations; None: once per epoch
    metric_for_best: str | None = None  # None: the task's main metric (accuracy; entity f1 for token tasks)
    greater_is_better: bool = True
    early_stopping_patience: int | None = None  # evaluations without improvement before stopping
    keep_checkpoints: int = 2  # most recent step checkpoints kept (the best one is always kept)
    log_every: int = 50
    log_with: list[str] = field(default_factory=lambda: ["tensorboard"])  # tensorboard, wandb, mlflow


@dataclass
class StrategyConfig:
    """How the pretrained weights are transferred: which parameters train, and at which rate."""

    # full | feature_extraction | partial_freezing | gradual_unfreezing | layerwise_lr | lora | from_scratch | distill
    name: str = "full"
    cache_features: bool = False  # feature_extraction: encode each text once, then train the head on stored features
    freeze_layers: int = 0  # partial_freezing: bottom encoder layers frozen (the embeddings always are)
    unfreeze_every_steps: int | None = None  # gradual_unfreezing: one more group per N steps; None: per epoch
    lr_decay: float = 0.9  # layerwise_lr: a layer's lr is lr * lr_decay ** (layers above it)
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.1
    lora_target_modules: list[str] | None = None  # default: the attention query/value projections of the model type


@dataclass
class DistillConfig:
    """Knowledge distillation (strategy.name=distill): a fine-tuned teacher's soft labels train a smaller student."""

    teacher: str | None = None  # fine-tuned model dir or Hub id; default: model.name
    student_layers: int | None = None  # cut the student from the teacher (evenly spaced layers); None: model.name
    alpha: float = 0.5  # weight of the soft (teacher) loss; 1 - alpha goes to the labels
    temperature: float = 2.0


@dataclass
class MaskedLMConfig:
    """Masked-LM training (task=masked_lm), e.g. domain-adaptive pre-training on unlabelled text."""

    probability: float = 0.15  # share of tokens masked (80% [MASK], 10% random, 10% kept)


@dataclass
class AugmentSettings:
    """Label-preserving augmentation of the train split (never validation/test), for small labelled sets."""

    # synonym, swap, delete, insert (EDA), antonym, contextual, mention (NER), or full names; empty: off
    ops: list[str] = field(default_factory=list)
    alpha: float = 0.1  # share of words an operation changes (EDA's alpha)
    copies: int = 1  # augmented copies per example (EDA suggests 4 for ~500 examples)
    mode: str = "offline"  # offline: expand train once | on_the_fly: fresh copies every epoch, same mix
    seed: int | None = None  # None: the recipe's seed
    antonym_label_map: dict[str, str] = field(default_factory=dict)  # antonym flips the label: {positive: negative}
    mlm_model_dir: str | None = None  # contextual: a local checkpoint with a masked-LM head
    record_samples: int = 20  # before/after pairs written to augmentation_samples.jsonl


@dataclass
class Recipe:
    """One fine-tuning run."""

    name: str = "run"
    task: str = "sequence_classification"  # sequence_classification | token_classification | masked_lm
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    mlm: MaskedLMConfig = field(default_factory=MaskedLMConfig)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    output_dir: str = ""  # default: runs/<name>
    overwrite_output_dir: bool = False
    resume: str | None = None  # "latest" (newest checkpoint in output_dir) or a checkpoint path
    seed: int = 42
    mirrors: dict[str, str] = field(default_factory=dict)  # Hub name -> local copy (see nlptl.mirrors)
    push_to_hub: str | None = None  # Hub repo id: push model, tokenizer, reports and a model card after training
    hub_private: bool = False  # create the pushed repo as private
    hub_license: str = "apache-2.0"  # model card license; BERT, MiniLM, RoBERTa are Apache-2.0: use your base model's
    hub_language: list[str] = field(default_factory=lambda: ["en"])  # model card languages (ISO 639-1 codes)

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}")


# Short flags users know from the Hugging Face examples, mapped to dotted recipe fields.
SHORT_FLAGS: dict[str, str] = {
    "--model": "model.name",
    "--data": "data.source",
    "--output-dir": "output_dir",
    "--epochs": "train.epochs",
    "--max-train-samples": "data.max_train_samples",
    "--max-eval-samples": "data.max_eval_samples",
    "--seed": "seed",
    "--resume": "resume",
    "--strategy": "strategy.name",
    "--augment": "augment.ops",
}
SECTIONS = ("model", "data", "train", "strategy", "distill", "mlm", "augment")  # the dataclass-valued Recipe fields


def field_paths(obj: Any, prefix: str = "") -> dict[str, tuple[Any, dataclasses.Field]]:
    """All leaf fields of a (nested) dataclass by dotted name, with the object that holds each."""
    paths: dict[str, tuple[Any, dataclasses.Field]] = {}
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = prefix + f.name
        if dataclasses.is_dataclass(value):
            paths.update(field_paths(value, name + "."))
        else:
            f.type = hints[f.name]
            paths[name] = (obj, f)
    return paths


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def parse_learning_rate(value: Any, name: str) -> float | str:
    """A positive-or-zero number or `auto`; anything else is a clear error naming the field."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        lr = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        lr = math.nan
    if not lr >= 0 or math.isinf(lr):
        raise NlptlError(f"--{name}: cannot read {value!r} as a learning rate: give a number (e.g. 1e-4) or auto")
    return lr


def parse_value(text: str, tp: Any, name: str) -> Any:
    """Convert one command-line string to the field's declared type, or say which field is wrong."""
    if tp == LearningRate:
        return parse_learning_rate(text, name)
    base, optional = _strip_optional(tp)
    if optional and text.lower() in ("none", "null", ""):
        return None
    origin = typing.get_origin(base)
    try:
        if base is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if base in (int, float, str):
            return base(text)
        if origin is list:
            (item,) = typing.get_args(base)
            return [parse_value(part.strip(), item, name) for part in text.split(",") if part.strip()]
        if origin is tuple:
            items = typing.get_args(base)
            parts = [p.strip() for p in text.split(",")]
            if len(parts) != len(items):
                raise ValueError(text)
            return tuple(parse_value(p, t, name) for p, t in zip(parts, items, strict=True))
        if origin is dict:
            pairs = [p for p in text.split(",") if p.strip()]
            result = {}
            for pair in pairs:
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ValueError(pair)
                result[key.strip()] = value.strip()
            return result
    except ValueError as err:
        raise NlptlError(f"--{name}: cannot read {text!r} as {_type_name(base)}") from err
    raise NlptlError(f"--{name}: fields of type {_type_name(base)} cannot be set from the command line")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_value(value: Any, tp: Any, name: str) -> Any:
    """Validate a value from YAML against the field type (YAML already gives ints, lists, dicts)."""
    if tp == LearningRate:
        return parse_learning_rate(value, name)
    base, optional = _strip_optional(tp)
    if value is None:
        if optional:
            return None
        raise NlptlError(f"recipe field {name!r} cannot be empty")
    if isinstance(value, str) and base is not str:
        return parse_value(value, tp, name)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(base) is tuple and isinstance(value, list):
        return tuple(value)
    expected = typing.get_origin(base) or base
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise NlptlError(f"recipe field {name!r}: expected {_type_name(base)}, got {value!r}")
    return value


def set_field(recipe: Recipe, name: str, value: Any) -> None:
    """Set one dotted field, checking the name and the type."""
    paths = field_paths(recipe)
    if name not in paths:
        close = [p for p in paths if p.split(".")[-1] == name.split(".")[-1]]
        hint = f" Did you mean {', '.join(close)}?" if close else " Known fields: " + ", ".join(sorted(paths))
        raise NlptlError(f"unknown recipe field {name!r}.{hint}")
    holder, f = paths[name]
    if isinstance(value, str) and f.type is not str:
        value = parse_value(value, f.type, name)
    else:
        value = _check_value(value, f.type, name)
    setattr(holder, f.name, value)


def apply_overrides(recipe: Recipe, argv: list[str]) -> Recipe:
    """Apply `--dotted.name value` and short flags to a copy of the recipe."""
    recipe = dataclasses.replace(recipe)
    for attr in SECTIONS:
        setattr(recipe, attr, dataclasses.replace(getattr(recipe, attr)))
    recipe.mirrors = dict(recipe.mirrors)
    parser = argparse.ArgumentParser(prog=f"recipe {recipe.name}", add_help=True, allow_abbrev=False)
    for flag, dest in SHORT_FLAGS.items():
        kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS, "help": f"sets {dest}"}
        if flag == "--resume":
            kwargs.update(nargs="?", const="latest")
        parser.add_argument(flag, **kwargs)
    for name in field_paths(recipe):
        if f"--{name}" not in SHORT_FLAGS:
            parser.add_argument(f"--{name}", dest=name, default=argparse.SUPPRESS)
    try:
        parsed, unknown = parser.parse_known_args(argv)
    except SystemExit as stop:
        if stop.code == 0:
            raise
        raise NlptlError(f"bad command-line arguments: {' '.join(argv)}") from None
    if unknown:
        raise NlptlError(
            f"unknown option(s) {' '.join(unknown)}; recipe fields are set as --section.field VALUE "
            f"(e.g. --train.lr 3e-5) or with {', '.join(SHORT_FLAGS)}"
        )
    for name, value in vars(parsed).items():
        set_field(recipe, name, value)
    return recipe


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return list(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(recipe))


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe_to_dict(recipe), sort_keys=False)


def recipe_from_dict(data: dict[str, Any], source: str = "recipe") -> Recipe:
    """Rebuild a recipe from its dict form, rejecting unknown fields so typos do not pass silently."""
    recipe = Recipe()
    for key, value in data.items():
        if isinstance(value, dict) and key in SECTIONS:
            for sub_key, sub_value in value.items():
                set_field(recipe, f"{key}.{sub_key}", sub_value)
        elif key == "mirrors":
            recipe.mirrors = {str(k): str(v) for k, v in (value or {}).items()}
        else:
            try:
                set_field(recipe, key, value)
            except NlptlError as err:
                raise NlptlError(f"{source}: {err}") from None
    return recipe


def load_recipe_yaml(path: str | Path) -> Recipe:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise NlptlError(f"cannot read recipe {path}: {err.strerror or err}") from None
    except yaml.YAMLError as err:  # one line: where, and what the parser expected
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise NlptlError(f"cannot read recipe {path}: {where}{getattr(err, 'problem', None) or err}; "
                         "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise NlptlError(f"{path}: a recipe YAML file must hold a mapping of fields")
    return recipe_from_dict(data, source=str(path))


def error_location(err: Exception, file: Path) -> str:
    """`line N: TypeError: ...` for an exception raised by (or a syntax error in) the recipe file."""
    line = err.lineno if isinstance(err, SyntaxError) else None
    traceback = err.__traceback__
    while traceback is not None:
        if Path(traceback.tb_frame.f_code.co_filename).resolve() == file.resolve():
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    detail = (err.msg if isinstance(err, SyntaxError) else str(err)).strip().splitlines()
    return f"{f'line {line}: ' if line else ''}{type(err).__name__}: {detail[0] if detail else ''}"


def load_recipe_file(path: str | Path) -> Recipe:
    """The `recipe` object of a recipe .py file (its `if __name__ == "__main__"` block is not run)."""
    file = Path(path)
    if not file.is_file():
        raise NlptlError(f"recipe file {path} not found")
    if file.suffix in (".yaml", ".yml"):
        return load_recipe_yaml(file)
    if file.suffix != ".py":
        raise NlptlError(f"recipe {path}: expected a .py recipe file or a recipe.yaml")
    spec = importlib.util.spec_from_file_location(f"nlptl_recipe_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise NlptlError(f"recipe file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except NlptlError:
        raise
    except Exception as err:  # the recipe's own code failed: say where, not a traceback into importlib
        raise NlptlError(f"recipe file {path} failed to load: {error_location(err, file)}") from None
    recipe = getattr(module, "recipe", None)
    if not isinstance(recipe, Recipe):
        raise NlptlError(f"recipe file {path} defines no `recipe = Recipe(...)`")
    return recipe
