"""Typed recipe: every choice of a run, saved as YAML next to the outputs and read back the same way.

A recipe file builds one `Recipe` and calls `nlptl.main(recipe)`, which applies command-line overrides
(`nlptl.overrides`) before anything happens. The `# comment` after each field is its help: `nlptl train --help`
and docs/cli.md show it (`nlptl.fields`), so keep it to one line that says what the value does.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlptl.errors import NlptlError
from nlptl.fields import ClassWeights, LearningRate, set_field

__all__ = ["AugmentSettings", "DataConfig", "DistillConfig", "DomainConfig", "LearningRate", "MaskedLMConfig",
           "ModelConfig", "MultitaskConfig", "Recipe", "SemiConfig", "StrategyConfig", "TaskSpec", "TrainConfig",
           "load_recipe_file",
           "load_recipe_yaml", "recipe_from_dict", "recipe_to_dict", "recipe_to_yaml"]
LR_RULES = ("steepest", "valley", "minimum")  # how the range test's curve becomes a suggestion (lr_find.suggest_lr)


@dataclass
class ModelConfig:
    """Which pretrained checkpoint to start from."""

    name: str = "bert-base-uncased"  # Hub id or local directory
    revision: str | None = None  # branch, tag or commit of a Hub model; None: the default branch
    trust_remote_code: bool = False  # run the model repo's own Python code (only for checkpoints you trust)
    dropout: float | None = None  # overrides the checkpoint's hidden/attention dropout when set


@dataclass
class DataConfig:
    """Where the labelled text comes from and how it becomes model inputs."""

    source: str = "stanfordnlp/imdb"  # Hub id, local dir with one file per split, or one file
    config_name: str | None = None  # the Hub data set's configuration, if it has several
    column_names: list[str] | None = None  # names of a header-less csv/tsv's columns, in order (its first row is data)
    text_column: str = "text"  # column holding the text to classify
    text_pair_column: str | None = None  # second text of a pair (NLI, paraphrase), encoded after the first
    label_column: str = "label"  # column holding the class (an id or a string)
    label_names: list[str] | None = None  # default: the ClassLabel names, else the sorted values seen in train
    train_split: str = "train"  # split (file name stem in a directory) to train on
    validation_split: str = "validation"  # carved from train (seeded) when the source has no such split
    test_split: str = "test"  # evaluated once at the end when the source has it
    validation_size: float = 0.1  # fraction (<1) or count (>=1) carved from train when needed
    max_length: int = 256  # tokens per row; token tasks cut longer sentences into overlapping windows
    truncation: str = "head"  # head | tail | head_tail (Sun et al. 2019: keep the start and the end)
    head_tokens: int = 128  # head_tail: tokens kept from the start; the rest of max_length from the end
    long_text: str = "truncate"  # validation/test/predict: truncate (as data.truncation says) | window (pool windows)
    window_pooling: str = "mean"  # long_text window: mean | max of the windows' logits
    max_train_samples: int | None = None  # taken after a seeded shuffle
    unlabelled_split: str | None = None  # semi: unlabelled text: a split of data.source (IMDb: unsup) or a file
    max_eval_samples: int | None = None  # applies to validation and test
    cache_dir: str | None = None  # datasets cache (tokenized splits are cached there)
    num_proc: int | None = None  # processes for tokenization (Dataset.map); None: this process only
    # Token classification (task="token_classification"):
    tokens_column: str = "tokens"  # one list of words per sentence
    tags_column: str = "ner_tags"  # one tag per word: ids (names from the ClassLabel or label_names) or strings
    label_all_subtokens: bool = False  # also label continuation sub-tokens (I-X); default: first sub-token only
    stride: int | None = None  # overlap (tokens) of neighbouring windows (NER, long_text window); None: auto
    ner_strict: bool = False  # score only well-formed IOB2 entities (seqeval mode="strict"); default: conlleval-like
    ner_decoding: str = "constrained"  # constrained: best valid IOB2 sequence (Viterbi); argmax: each word alone
    # Multi-label classification and regression (task=multi_label_classification | regression):
    label_columns: list[str] | None = None  # instead of label_column: one 0/1 column per label, or one per target
    label_delimiter: str = ","  # multi-label: separates the label names in a text label ("sports,politics")
    standardize_targets: bool = True  # regression: train on (y - mean) / std of train; predictions in the data's units
    weight_column: str | None = None  # per-example loss weights (numbers >= 0, importance weights), rescaled to mean 1


@dataclass
class TrainConfig:
    """The optimisation loop."""

    epochs: float = 3.0  # passes over the training set (fractions allowed)
    max_steps: int | None = None  # stop after this many optimizer steps (overrides epochs)
    min_steps: int | None = None  # at least this many optimizer steps: more epochs when the training set is small
    batch_size: int = 32  # per process, per micro-batch
    eval_batch_size: int = 64  # per process, for validation and test
    grad_accum: int = 1  # micro-batches per optimizer step (effective batch = batch_size * grad_accum * processes)
    lr: LearningRate = 2e-5  # "auto": a short LR range test first (`nlptl lr-find`); 2e-5 suits bert-base, not MiniLM
    lr_find_steps: int = 20  # range test: optimizer steps at most (one batch each), exponentially spaced rates
    lr_find_range: tuple[float, float] = (1e-5, 1e-1)  # range test: first and last learning rate
    lr_find_batch_size: int | None = None  # range test rows per step; None: batch_size // 4 (see lr_find)
    lr_find_rule: str = "minimum"  # minimum (lowest loss / 10) | steepest | valley: nlptl.training.lr_find.suggest_lr
    weight_decay: float = 0.01  # AdamW decoupled weight decay (not on biases and LayerNorm)
    warmup_ratio: float = 0.06  # share of the optimizer steps over which the rate rises linearly from 0
    scheduler: str = "linear"  # linear | cosine | constant
    adam_betas: tuple[float, float] = (0.9, 0.999)  # AdamW beta1, beta2
    adam_eps: float = 1e-8  # AdamW epsilon
    max_grad_norm: float | None = 1.0  # clip the gradient norm to this; None: no clipping
    embedding_update: str = "auto"  # auto | sparse (only the rows a batch used; CPU, one process) | dense (every row)
    mixed_precision: str = "auto"  # auto | no | bf16 | fp16
    group_by_length: bool = True  # batch rows of similar length together (less padding); false: plain random
    group_window: int = 50  # group_by_length: batches per sorting window (smaller: batches more varied, more padding)
    eval_every: int | None = None  # optimizer steps between evaluations; None: once per epoch
    metric_for_best: str | None = None  # None: the task's main metric (accuracy; entity f1 for token tasks)
    greater_is_better: bool = True  # metric_for_best: higher is better (false for a loss)
    early_stopping_patience: int | None = None  # evaluations without improvement before stopping
    keep_checkpoints: int = 2  # most recent step checkpoints kept (the best one is always kept)
    log_every: int = 50  # optimizer steps between training loss logs
    log_with: list[str] = field(default_factory=lambda: ["tensorboard"])  # tensorboard, wandb, mlflow
    class_weights: ClassWeights = "none"  # none | balanced (inverse frequency on train) | {label: weight} in the loss
    regression_loss: str = "mse"  # regression: mse | huber (delta 1, on standardized targets)
    tune_thresholds: bool = False  # multi-label: per-label thresholds that maximise F1 on validation (else 0.5)


@dataclass
class StrategyConfig:
    """How the pretrained weights are transferred: which parameters train, and at which rate."""

    # full | feature_extraction | partial_freezing | gradual_unfreezing | layerwise_lr | lora | from_scratch | distill
    name: str = "full"
    cache_features: bool = False  # feature_extraction: encode each text once, then train the head on stored features
    freeze_layers: int = 0  # partial_freezing: bottom encoder layers frozen (the embeddings always are)
    unfreeze_every_steps: int | None = None  # gradual_unfreezing: one more group per N steps; None: per epoch
    lr_decay: float = 0.9  # layerwise_lr: a layer's lr is lr * lr_decay ** (layers above it)
    lora_r: int = 8  # lora: rank of the low-rank update matrices
    lora_alpha: float = 16.0  # lora: scale of the update (alpha / r)
    lora_dropout: float = 0.1  # lora: dropout on the adapter input
    lora_target_modules: list[str] | None = None  # default: the attention query/value projections of the model type


@dataclass
class DistillConfig:
    """Knowledge distillation (strategy.name=distill): a fine-tuned teacher's soft labels train a smaller student."""

    teacher: str | None = None  # fine-tuned model dir or Hub id; default: model.name
    student_layers: int | None = None  # cut the student from the teacher (evenly spaced layers); None: model.name
    alpha: float = 0.5  # weight of the soft (teacher) loss; 1 - alpha goes to the labels
    temperature: float = 2.0  # softens teacher and student distributions in the soft loss


@dataclass
class MaskedLMConfig:
    """Masked-LM training (task=masked_lm), e.g. domain-adaptive pre-training on unlabelled text."""

    probability: float = 0.15  # share of tokens masked (80% [MASK], 10% random, 10% kept)


UDA_OPS = ("synonym", "swap", "delete", "insert")  # meaning-keeping EDA operations (antonym flips the meaning)


@dataclass
class SemiConfig:
    """Learning from unlabelled text while learning the task (semi-supervised)."""

    method: str | None = None  # self_training: pseudo-labels join train | uda: consistency on augmented copies
    rounds: int = 1  # self_training: teacher -> student rounds (each student teaches the next round)
    threshold: float | None = 0.9  # keep a pseudo-label whose probability is at least this (None: top_k decides)
    top_k: int | None = None  # at most this many pseudo-labels per class, most confident first
    balance: bool = True  # the same number of pseudo-labels for every class (as many as the rarest class has)
    soft_labels: bool = False  # self_training: learn the teacher's probabilities (cross-entropy to them), not its class
    max_unlabelled: int | None = 10000  # unlabelled texts used (a seeded sample; self-training: per round); None: all
    teacher: str | None = None  # a trained run that labels round 1 (default: one trained on the labelled data)
    # uda (consistency training, Xie et al. 2020): every step adds a KL term between the predictions on unlabelled
    # texts and on augmented copies of them
    uda_weight: float = 1.0  # weight of the consistency term against the labelled loss
    uda_ratio: int = 1  # unlabelled texts per labelled row in each micro-batch
    uda_temperature: float = 0.85  # sharpening of the targets (softmax temperature; 1: none)
    uda_confidence: float = 0.45  # only unlabelled texts predicted at least this confidently count (0: all)
    uda_ops: list[str] = field(default_factory=lambda: list(UDA_OPS))  # how the copies are made (EDA operations)
    uda_alpha: float = 0.2  # share of words each augmentation changes
    tsa: str | None = None  # training signal annealing of the labelled loss: linear | exp | log (None: off)


@dataclass
class DomainConfig:
    """Adapting to a target domain of which only unlabelled text is at hand."""

    method: str | None = None  # dann (gradient reversal, Ganin et al. 2016) | importance_weighting (density ratios)
    target_source: str | None = None  # the target domain's texts: Hub id, local dir or file; None: data.source
    target_split: str | None = None  # split of target_source with target texts, or a file (labels, if any, never read)
    target_text_column: str | None = None  # text column of the target texts; None: data.text_column
    max_target: int | None = 10000  # target texts used (a seeded sample); None: all
    weight: float = 1.0  # weight of the domain classifier's loss against the task loss
    lambda_max: float = 1.0  # dann: gradient reversal scale reached by the end (rises as 2/(1+exp(-10p)) - 1)
    max_weight: float = 10.0  # importance_weighting: ratios clipped to [1/max_weight, max_weight], then mean 1


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
class TaskSpec:
    """One task of a multi-task recipe: its own kind, data section, head and loss weight; the encoder is shared."""

    name: str = "task"  # names the head: `nlptl predict RUN --task NAME`, metrics validation/<name>/<metric>
    task: str = "sequence_classification"  # sequence_classification | token_classification
    data: DataConfig = field(default_factory=DataConfig)
    loss_weight: float = 1.0  # this task's summed loss is multiplied by it


MULTITASK_SAMPLING = ("proportional", "uniform", "temperature")


@dataclass
class MultitaskConfig:
    """Several tasks on one shared encoder (task=multitask); each batch holds one task's rows."""

    tasks: list[TaskSpec] = field(default_factory=list)  # the tasks (set in the recipe file or recipe.yaml)
    sampling: str = "proportional"  # proportional (to train batches) | uniform | temperature: which task each batch is
    temperature: float = 2.0  # sampling=temperature: p(task) ~ batches ** (1 / temperature)


@dataclass
class Recipe:
    """One fine-tuning run."""

    name: str = "run"  # names the run: output dir runs/<name>, tracker project
    # {sequence,multi_label,token}_classification | regression | masked_lm | multitask
    task: str = "sequence_classification"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    mlm: MaskedLMConfig = field(default_factory=MaskedLMConfig)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    semi: SemiConfig = field(default_factory=SemiConfig)
    domain: DomainConfig = field(default_factory=DomainConfig)
    multitask: MultitaskConfig = field(default_factory=MultitaskConfig)
    output_dir: str = ""  # default: runs/<name>
    overwrite_output_dir: bool = False  # replace a run already in output_dir (default: refuse)
    resume: str | None = None  # latest: newest checkpoint in output_dir (--resume), or a path (--resume-from)
    seed: int = 42  # data order, head initialisation, dropout, carved validation split
    mirrors: dict[str, str] = field(default_factory=dict)  # Hub name -> local copy (see nlptl.mirrors)
    push_to_hub: str | None = None  # Hub repo id: push model, tokenizer, reports and a model card after training
    hub_private: bool = False  # create the pushed repo as private
    hub_license: str = "apache-2.0"  # model card license; BERT, MiniLM, RoBERTa are Apache-2.0: use your base model's
    hub_language: list[str] = field(default_factory=lambda: ["en"])  # model card languages (ISO 639-1 codes)

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}")


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
    sections = [f.name for f in dataclasses.fields(Recipe) if dataclasses.is_dataclass(getattr(recipe, f.name))]
    try:
        for key, value in data.items():
            if isinstance(value, dict) and key in sections:
                for sub_key, sub_value in value.items():
                    if (key, sub_key) == ("multitask", "tasks"):
                        sub_value = task_specs(sub_value)
                    set_field(recipe, f"{key}.{sub_key}", sub_value)
            elif key == "mirrors":
                recipe.mirrors = {str(k): str(v) for k, v in (value or {}).items()}
            else:
                set_field(recipe, key, value)
    except NlptlError as err:
        raise NlptlError(f"{source}: {err}") from None
    return recipe


def task_specs(items: Any) -> list[TaskSpec]:
    """multitask.tasks from YAML: one mapping of TaskSpec fields per task (data.* as a nested mapping)."""
    if not isinstance(items, list):
        raise NlptlError(f"recipe field 'multitask.tasks': expected a list of tasks, got {items!r}")
    specs = []
    for position, item in enumerate(items):
        if isinstance(item, TaskSpec):
            specs.append(item)
            continue
        if not isinstance(item, dict):
            raise NlptlError(f"multitask.tasks[{position}]: expected a mapping (name, task, data, loss_weight)")
        spec = TaskSpec()
        for key, value in item.items():
            pairs = value.items() if key == "data" and isinstance(value, dict) else [(None, value)]
            for sub_key, sub_value in pairs:
                try:
                    set_field(spec, key if sub_key is None else f"{key}.{sub_key}", sub_value)
                except NlptlError as err:
                    raise NlptlError(f"multitask.tasks[{position}]: {err}") from None
        specs.append(spec)
    return specs


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
