"""`Predictor`: a fine-tuned checkpoint ready to label texts.

Which kind of fine-tuned model a checkpoint is comes from its config (the task objects say how a checkpoint of
their kind is recognised), so prediction picks the right head and decoding without being told: token
classification goes to the NER decoding (`nlptl.inference.ner`). Settings the model was trained with
(max_length, truncation, head_tokens, text column) are read from the `recipe.yaml` that `nlptl train` saves next
to the weights, so prediction sees texts cut the way training did; arguments override them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import PretrainedConfig

from nlptl import mirrors
from nlptl.allocator import keep_freed_memory
from nlptl.data.windows import mean_by_text, pool_windows
from nlptl.ensemble.model import is_ensemble, load_ensemble
from nlptl.errors import NlptlError
from nlptl.first_token import last_layer_first_token_only
from nlptl.inference.badrows import check_policy, screen
from nlptl.inference.engine import EncodeSettings, class_probabilities, encode_texts, head_outputs
from nlptl.inference.int8 import QUANTIZED, quantize_linear_int8
from nlptl.inference.ner import predict_entities
from nlptl.inference.onnx_backend import ONNX_FILE, OnnxModel, check_backend
from nlptl.inference.trained import default_max_length, saved_recipe
from nlptl.models import load_config, load_model, load_tokenizer
from nlptl.multitask.model import SavedHead, find_head, load_head
from nlptl.precision import DTYPES, LayerShape, inference_precision
from nlptl.recipe import DataConfig, ModelConfig
from nlptl.tasks import TASKS, checkpoint_task
from nlptl.tasks.classification import SequenceClassificationTask
from nlptl.tasks.multi_label import THRESHOLDS, MultiLabelClassificationTask
from nlptl.tasks.regression import RegressionTask
from nlptl.tasks.token_classification import TokenClassificationTask
from nlptl.training.distributed import partial_state

logger = logging.getLogger(__name__)
SEQUENCE = SequenceClassificationTask.name
MULTI_LABEL = MultiLabelClassificationTask.name
REGRESSION = RegressionTask.name
TEXT_KINDS = (SEQUENCE, MULTI_LABEL, REGRESSION)  # one prediction per text (the other kind: per word, NER)
PREDICTED = (*TEXT_KINDS, TokenClassificationTask.name)  # the kinds `nlptl predict` labels files with


def saved_head(source: str, task: str | None) -> SavedHead | None:
    """The head `task` of a multi-task run (None for a single-task model asked for no task)."""
    if mirrors.is_local(source):
        return find_head(source, task)
    if task is not None:
        raise NlptlError(f"--task {task}: multi-task runs are read from a local output dir, not {source}")
    return None


def model_kind(config: PretrainedConfig, name: str) -> str:
    """The task kind of a fine-tuned checkpoint that prediction can run; anything else is a clear error."""
    kind = checkpoint_task(config)
    if kind not in PREDICTED:
        architectures = list(getattr(config, "architectures", None) or [])
        raise NlptlError(
            f"{name}: its config.json names the architectures {architectures or 'none'}; prediction needs a "
            "fine-tuned sequence classification, multi-label, regression or token-classification checkpoint (the "
            "output dir of `nlptl train`)"
        )
    return kind


class Predictor:
    """Labels texts with a fine-tuned checkpoint (a local dir, a mirror, or a Hub id)."""

    def __init__(self, model: str | Path, *, batch_size: int = 32, max_length: int | None = None,
                 truncation: str | None = None, head_tokens: int | None = None, long_text: str | None = None,
                 stride: int | None = None, window_pooling: str | None = None, precision: str = "auto",
                 device: str | torch.device | None = None, recipe_mirrors: dict[str, str] | None = None,
                 backend: str = "torch", task: str | None = None) -> None:
        """`task`: the head of a multi-task run to predict with (its name in the run's multitask.json)."""
        if batch_size < 1:
            raise NlptlError(f"--batch-size {batch_size}: must be at least 1")
        self.name = str(model)
        cfg = ModelConfig(name=self.name)
        recipe_mirrors = recipe_mirrors or {}
        self.source = mirrors.resolve(self.name, recipe_mirrors)
        self.head = saved_head(self.source, task)
        head_dir = str(self.head.folder) if self.head else self.source  # a head's own config.json and recipe.yaml
        self.tokenizer = load_tokenizer(cfg, recipe_mirrors)
        config = load_config(ModelConfig(name=head_dir) if self.head else cfg, recipe_mirrors)
        self.kind = model_kind(config, self.name)
        recipe = saved_recipe(head_dir) if mirrors.is_local(self.source) else None
        self.trained: DataConfig | None = recipe.data if recipe else None  # how the model was trained, if known
        trained = self.trained or DataConfig()
        self.default_text_column = trained.text_column
        self.pair_column = trained.text_pair_column  # the model reads (text, pair) when set
        self.settings = EncodeSettings(
            max_length=max_length or (self.trained and self.trained.max_length)
            or default_max_length(self.tokenizer, config),
            truncation=truncation or trained.truncation,
            head_tokens=head_tokens if head_tokens is not None else trained.head_tokens,
            long_text=long_text or trained.long_text, stride=stride if stride is not None else trained.stride,
            pooling=window_pooling or trained.window_pooling,
        )
        self.settings.check(self.tokenizer)
        self.batch_size = batch_size
        self.backend = check_backend(backend)
        self.precision = precision
        self.task = TASKS[self.kind]()  # turns logits into what the kind predicts (softmax, sigmoid, value)
        self.saved_thresholds: dict = getattr(config, THRESHOLDS, None) or {}  # multi-label: chosen by training
        if self.backend == "onnx" and self.head:
            raise NlptlError("--backend onnx runs an `nlptl export` folder; a multi-task run's head runs with torch")
        if self.backend == "onnx":  # an `nlptl export` folder: ONNX Runtime on the CPU, the graph's own precision
            if precision != "auto":
                raise NlptlError(f"--precision {precision} is for the torch backend; an ONNX folder runs in the format "
                                 "it was exported in (`nlptl export --quantize int8` writes an int8 one)")
            self.model: Any = OnnxModel(self.source, config)
            self.device, self.dtype = self.model.device, self.model.dtype
            self.labels = [str(self.model.config.id2label[i]) for i in range(self.model.config.num_labels)]
            return
        self.device = torch.device(device) if device is not None else partial_state().device
        shape = LayerShape.of(config, batch_size, self.settings.max_length)
        self.precision_choice = inference_precision(precision, self.device, shape)
        self.dtype = DTYPES[self.precision_choice.used]
        logger.info("prediction in %s (%s)", self.precision_choice.used, self.precision_choice.reason)
        if self.device.type == "cpu":
            keep_freed_memory()  # no page faults on every batch (process-wide: the heap stays at its peak)
        kind = TASKS[self.kind]
        if self.head:  # one head of a multi-task run, on the run's shared encoder
            self.model = load_head(self.head, kind.model_class)
        else:  # an `nlptl ensemble` folder, or a model
            self.model = (load_ensemble(self.source, kind.model_class) if is_ensemble(self.source)
                          else load_model(kind.model_class, cfg, recipe_mirrors))
        self.model.to(device=self.device, dtype=self.dtype).eval()
        if kind.first_token_head:
            last_layer_first_token_only(self.model)  # the last layer computes only what the head reads
        if self.quantized():
            quantize_linear_int8(self.model)
        self.labels = [str(self.model.config.id2label[i]) for i in range(self.model.config.num_labels)]

    def quantized(self) -> bool:
        """Whether the torch model runs as dynamic int8 (`--precision int8`; an ONNX graph has its own format)."""
        return self.backend == "torch" and self.precision_choice.used == "int8"

    def describe(self) -> dict[str, Any]:
        """What shapes the predictions (recorded in a resumable run's manifest)."""
        weights = Path(self.source) / (ONNX_FILE if self.backend == "onnx" else "model.safetensors")
        stamp = [weights.stat().st_size, weights.stat().st_mtime_ns] if weights.is_file() else None
        return {"model": str(Path(self.source).resolve()) if mirrors.is_local(self.source) else self.name,
                "weights": stamp, "backend": self.backend, "kind": self.kind, "labels": self.labels,
                **({"task": self.head.name} if self.head else {}),
                "dtype": QUANTIZED if self.quantized() else str(self.dtype), "batch_size": self.batch_size,
                **dataclasses.asdict(self.settings)}

    def score_columns(self) -> list[str]:
        return [f"score_{label}" for label in self.labels]

    def check_pairs(self, texts: Sequence[Any], pairs: Sequence[Any] | None) -> None:
        """A pair model given single texts (or the other way round) is an error, never a silent guess."""
        if pairs is None and self.pair_column:
            raise NlptlError(f"{self.name} was trained on text pairs (data.text_pair_column "
                             f"{self.pair_column!r}); give the second text of every pair")
        if pairs is not None and self.trained is not None and not self.pair_column:
            raise NlptlError(f"{self.name} was trained on single texts (its recipe has no data.text_pair_column); "
                             "give no second texts")
        if pairs is not None and len(pairs) != len(texts):
            raise NlptlError(f"{len(texts)} texts but {len(pairs)} second texts: give one second text per text")

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> torch.Tensor:
        """Class probabilities of a sequence classifier, (texts, classes) fp32 in input order: each text cut as
        `settings` say (truncated, or windows whose logits are pooled). `nlptl evaluate` scores these."""
        encoded, owners = encode_texts(self.tokenizer, texts, self.settings, pairs)
        return pool_windows(class_probabilities(self.model, self.tokenizer, encoded, self.batch_size), owners,
                            len(texts), self.settings.pooling)

    def columns(self, texts: list[str], all_scores: bool = False, pairs: list[str] | None = None) -> dict[str, list]:
        """Prediction columns for texts that are all usable: label and score (and one score per class),
        or `entities` (JSON) for a token-classification model. `pairs`: second texts of a pair model."""
        if not texts:  # a chunk of bad rows only (tokenizers cannot encode an empty batch)
            return {name: [] for name in self.output_names(all_scores)}
        if self.kind in (MULTI_LABEL, REGRESSION):
            return self.text_columns(texts, all_scores, pairs)
        if self.kind != SEQUENCE:
            trained = self.trained or DataConfig()
            spans = predict_entities(self.model, texts, tokenizer=self.tokenizer, batch_size=self.batch_size,
                                     max_length=self.settings.max_length, stride=trained.stride,
                                     strict=trained.ner_strict, decoding=trained.ner_decoding)
            return {"entities": [json.dumps(to_plain(s), ensure_ascii=False) for s in spans]}
        probabilities = self.probabilities(texts, pairs)
        scores, ids = probabilities.max(dim=-1)
        result: dict[str, list] = {"label": [self.labels[i] for i in ids.tolist()], "score": scores.tolist()}
        if all_scores:
            for column, values in zip(self.score_columns(), probabilities.T.tolist(), strict=True):
                result[column] = values
        return result

    @property
    def thresholds(self) -> list[float]:
        """A multi-label model's decision threshold per label (0.5 unless training tuned it)."""
        return [float(self.saved_thresholds.get(label, 0.5)) for label in self.labels]

    def output_names(self, all_scores: bool = False) -> list[str]:
        """The columns `columns` returns (and `nlptl predict` adds to a file)."""
        if self.kind == MULTI_LABEL:
            return ["labels", "scores", *(self.score_columns() if all_scores else [])]
        if self.kind == REGRESSION:
            return ["value"] if len(self.labels) == 1 else [f"value_{label}" for label in self.labels]
        return ["label", "score", *(self.score_columns() if all_scores else [])] if self.kind == SEQUENCE else [
            "entities"]

    def outputs(self, texts: list[str], pairs: list[str] | None = None) -> torch.Tensor:
        """A multi-label model's label probabilities (sigmoid) or a regression model's values, (texts, outputs)
        fp32 in input order; windows (--long-text window) are averaged. `nlptl evaluate` scores these."""
        encoded, owners = encode_texts(self.tokenizer, texts, self.settings, pairs)
        values = head_outputs(self.model, self.tokenizer, encoded, self.batch_size, self.task.predict)
        return mean_by_text(values, owners, len(texts))

    def text_columns(self, texts: list[str], all_scores: bool, pairs: list[str] | None) -> dict[str, list]:
        """Multi-label: `labels` (JSON list of the labels at or above their thresholds) and `scores` (JSON, their
        probabilities), plus score_<label> for every label with all_scores. Regression: `value` (one target) or
        value_<target>."""
        values = self.outputs(texts, pairs)
        if self.kind == REGRESSION:
            return dict(zip(self.output_names(), values.T.tolist(), strict=True))
        chosen = [[i for i, (p, t) in enumerate(zip(row, self.thresholds, strict=True)) if p >= t]
                  for row in values.tolist()]
        result: dict[str, list] = {
            "labels": [json.dumps([self.labels[i] for i in ids], ensure_ascii=False) for ids in chosen],
            "scores": [json.dumps({self.labels[i]: row[i] for i in ids}, ensure_ascii=False)
                       for ids, row in zip(chosen, values.tolist(), strict=True)]}
        if all_scores:
            result.update(zip(self.score_columns(), values.T.tolist(), strict=True))
        return result

    def predict(self, texts: Sequence[str | None], all_scores: bool = False, bad_rows: str = "error",
                pairs: Sequence[str | None] | None = None) -> list[dict[str, Any]]:
        """One dict per text: {"label", "score"} (+ "scores" by class), or {"entities"} for NER models; a
        multi-label model: {"labels", "scores"} (the labels at or above their thresholds, with their
        probabilities; all_scores: every label's), a regression model: {"value"} (several targets: {"values"}).
        With bad_rows="skip", unusable texts (None, empty) get {"label": None, "skip_reason": ...}.
        `pairs`: the second text of each pair, for a model trained with data.text_pair_column."""
        check_policy(bad_rows)
        self.check_pairs(texts, pairs)
        usable, keep, reasons = screen(list(texts), {}, 0, bad_rows, "texts")
        columns = self.columns(usable, all_scores, None if pairs is None else [pairs[i] or "" for i in keep])
        results: list[dict[str, Any]] = [{"label": None, "score": None, "skip_reason": r} for r in reasons]
        for row, position in enumerate(keep):
            values = {key: column[row] for key, column in columns.items()}
            if "entities" in values:
                results[position] = {"entities": json.loads(values["entities"])}
                continue
            if self.kind == REGRESSION:
                results[position] = ({"value": values["value"]} if "value" in values else
                                     {"values": {label: values[f"value_{label}"] for label in self.labels}})
                continue
            if self.kind == MULTI_LABEL:
                results[position] = {"labels": json.loads(values["labels"]), "scores": json.loads(values["scores"])}
                if all_scores:
                    results[position]["scores"] = {label: values[c] for label, c in zip(
                        self.labels, self.score_columns(), strict=True)}
                continue
            results[position] = {"label": values["label"], "score": values["score"]}
            if all_scores:
                results[position]["scores"] = {label: values[c] for label, c in zip(self.labels, self.score_columns(),
                                                                                    strict=True)}
        return results


def to_plain(value: Any) -> Any:
    """Entity spans (dataclasses, tuples) as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value
