"""`nlptl evaluate RUN DATA`: score a trained model on a labelled data set, with the reports training writes.

The data is read by training's reader (`nlptl.data.files`: a local file or folder, a `save_to_disk` folder, a
Hub name or mirror). Labels are mapped to the model's own classes by name, from `config.json`'s id2label,
never re-derived from the data, so a file that lists its classes in another order still scores correctly; a
label the model does not know stops the run naming file, row and value. Texts go through `Predictor` (the
same encoding, truncation or window pooling, sorting and precision choice as `nlptl predict`); NER sentences
through training's own windows and its metric code. With `max_samples` the same seeded shuffle as training's
`data.max_eval_samples` picks the rows, so a run's test sample can be scored again exactly.

Under `accelerate launch` each process scores its share of the rows (`split_between_processes`, no padding
rows) and the main process gathers them by row number: every example is counted once.

Outputs (a new folder, default RUN/eval-DATA-SPLIT; never over an existing one without `overwrite`):
metrics.json ({split: metrics, "evaluation": what was scored how}), confusion_matrix.png, roc_curve.png,
precision_recall.png, reliability.png, per_class.json and per_class.md (NER: entity_f1.png and the per-type
report).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import torch
from accelerate.utils import gather_object

from nlptl import mirrors
from nlptl.data.conll import conll_location
from nlptl.data.files.load import check_texts, load_raw_splits
from nlptl.data.files.origin import files_of, where
from nlptl.data.files.problems import missing_column
from nlptl.data.labels import UNLABELLED, WHOLE_NUMBER, check_label_values
from nlptl.data.tags import tag_feature
from nlptl.data.targets import multi_hot, regression_targets
from nlptl.errors import NlptlError
from nlptl.inference.predictor import MULTI_LABEL, SEQUENCE, TEXT_KINDS, Predictor, saved_head
from nlptl.inference.trained import saved_recipe
from nlptl.io import check_writable, replace_dir, write_json
from nlptl.recipe import DataConfig, Recipe
from nlptl.tasks.classification import SequenceClassificationTask
from nlptl.tasks.multi_label import MultiLabelClassificationTask
from nlptl.tasks.regression import RegressionTask
from nlptl.tasks.token_classification import TokenClassificationTask
from nlptl.training.distributed import partial_state

logger = logging.getLogger("nlptl")
CHUNK = 2048  # texts encoded and scored together (bounds memory on a large test set)


def column(ds: datasets.Dataset, name: str) -> list:
    """A column as a plain list, decoded in one batch (a datasets Column is slow per item)."""
    return ds.select_columns([name])[:][name]


def default_output_dir(run: Path, data: str, split: str) -> Path:
    """RUN/eval-<data name>-<split>: the file stem or folder name, or a Hub id with `/` as `_`."""
    local = Path(data)
    name = (local.stem if local.is_file() else local.name) if local.exists() else data.replace("/", "_")
    return run / f"eval-{name}-{split}"


def check_output_dir(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())) and not overwrite:
        raise NlptlError(f"{output_dir} already exists; choose another --output-dir or replace it with --overwrite")
    check_writable(output_dir.parent, "--output-dir folder", "choose another --output-dir")


def pick_split(raw: datasets.DatasetDict, split: str, data: str) -> datasets.Dataset:
    """The split asked for; a single file (read as one split) is that split whatever its name."""
    if split in raw:
        return raw[split]
    if len(raw) == 1 and Path(data).is_file():
        return next(iter(raw.values()))
    raise NlptlError(f"{data} has no split {split!r} (it has: {', '.join(raw)}); choose one with --split")


def sample(ds: datasets.Dataset, max_samples: int | None, seed: int) -> datasets.Dataset:
    """The rows training's `data.max_eval_samples` would take with this seed (seeded shuffle, then a prefix)."""
    if max_samples is not None and max_samples < 1:
        raise NlptlError(f"--max-samples {max_samples}: must be at least 1")
    if max_samples is None or max_samples >= len(ds):
        return ds
    return ds.shuffle(seed=seed).select(range(max_samples)).flatten_indices()


def label_ids(ds: datasets.Dataset, label_column: str, split: str, labels: list[str], ids_given: bool) -> list[int]:
    """Each row's class as the model's id, by name. Integer labels are ids into the model's classes when the run
    named its classes (data.label_names), else names ('0', '1'); a ClassLabel column is read by its names."""
    if label_column not in ds.column_names:
        raise NlptlError(f"{files_of(ds, split)}: label column {label_column!r} not in the data (columns: "
                         f"{', '.join(ds.column_names)}); choose it with --label-column")
    feature = ds.features[label_column]
    if not isinstance(feature, datasets.ClassLabel):
        check_label_values(ds, label_column, split)
    values = column(ds, label_column)
    to_id = {name: i for i, name in enumerate(labels)}
    result = []
    for row, value in enumerate(values):
        if isinstance(feature, datasets.ClassLabel):
            name: Any = feature.names[value] if value not in UNLABELLED else value
        elif ids_given and (isinstance(value, int) or (isinstance(value, str) and WHOLE_NUMBER.fullmatch(value))):
            name = labels[int(value)] if 0 <= int(value) < len(labels) else value
        else:
            name = str(value)
        if name not in to_id:
            raise NlptlError(f"{where(ds, row, split)}: label {value!r} is not a class of the model ({labels}); "
                             "fix the data or evaluate a model trained with that class")
        result.append(to_id[name])
    return result


def pair_column_for(predictor: Predictor, given: str | None, ds: datasets.Dataset, split: str) -> str | None:
    """The second-text column: as asked, else the one the model was trained with; a pair model needs one."""
    column = given or predictor.pair_column
    if column is None:
        return None
    if column not in ds.column_names:
        how = "--text-pair-column" if given else "the column the model was trained with (data.text_pair_column)"
        raise NlptlError(f"{files_of(ds, split)}: no text pair column {column!r} ({how}; columns: "
                         f"{', '.join(ds.column_names)}); name it with --text-pair-column")
    return column


def shard(count: int) -> list[int]:
    """This process's rows (contiguous, uneven shares: no row is repeated to even them out)."""
    state = partial_state()
    with state.split_between_processes(list(range(count))) as mine:
        return list(mine)


def gathered(pairs: list[tuple[int, Any]], count: int) -> list[Any]:
    """Every process's (row, value) pairs, in row order; each row once."""
    by_row: dict[int, Any] = {}
    for row, value in gather_object(pairs):
        by_row.setdefault(row, value)
    if len(by_row) != count:
        raise RuntimeError(f"gathered {len(by_row)} of {count} rows")  # a bug, not a user error
    return [by_row[row] for row in range(count)]


def score_texts(ds: datasets.Dataset, split: str, text_column: str, pair_column: str | None, progress: bool,
                predictor: Predictor,
                score: Callable[[list[str], list[str] | None], torch.Tensor]) -> list[list[float]]:
    """`score(texts, pairs)` of every row (this process's share, gathered from all), in row order."""
    from tqdm.auto import tqdm

    texts = column(ds, text_column)
    pairs = column(ds, pair_column) if pair_column else None
    predictor.check_pairs(texts, pairs)
    rows = shard(len(texts))
    scored: list[tuple[int, list[float]]] = []
    for start in tqdm(range(0, len(rows), CHUNK), desc=f"evaluating {split}", unit="chunk",
                      disable=not (progress and partial_state().is_main_process)):
        chunk = rows[start:start + CHUNK]
        values = score([texts[i] for i in chunk], [pairs[i] for i in chunk] if pairs is not None else None)
        scored += list(zip(chunk, values.tolist(), strict=True))
    return gathered(scored, len(texts))


def score_classification(predictor: Predictor, ds: datasets.Dataset, split: str, text_column: str,
                         pair_column: str | None, references: list[int], progress: bool) -> dict[str, Any]:
    scored = score_texts(ds, split, text_column, pair_column, progress, predictor, predictor.probabilities)
    task = SequenceClassificationTask()
    task.label_names = predictor.labels
    metrics = task.compute_metrics(scored, references, split, None)
    metrics["reports"] = task
    return metrics


def target_rows(predictor: Predictor, ds: datasets.Dataset, split: str, data: DataConfig,
                label_column: str) -> list[list[float]]:
    """Each row's targets in the model's label order: a multi-label row's 0/1 vector, a regression row's values."""
    columns = data.label_columns
    if predictor.kind == MULTI_LABEL:
        if columns and list(columns) != predictor.labels:
            raise NlptlError(f"the model's labels {predictor.labels} differ from its recipe's data.label_columns "
                             f"{columns}; evaluate with the run's own recipe.yaml next to the model")
        return multi_hot(ds, split, label_column, columns, data.label_delimiter, predictor.labels)[0]
    return regression_targets(ds, split, label_column, columns if columns else None)[0]


def score_targets(predictor: Predictor, ds: datasets.Dataset, split: str, text_column: str,
                  pair_column: str | None, references: list[list[float]], progress: bool) -> dict[str, Any]:
    """Multi-label (at the model's saved thresholds) and regression scores, as training computes them."""
    scored = score_texts(ds, split, text_column, pair_column, progress, predictor, predictor.outputs)
    task: MultiLabelClassificationTask | RegressionTask
    if predictor.kind == MULTI_LABEL:
        task = MultiLabelClassificationTask()
        task.thresholds = predictor.thresholds
    else:
        task = RegressionTask()  # the saved head outputs the data's units: no scale to undo
    task.label_names = predictor.labels
    metrics = task.compute_metrics(scored, references, split, None)
    metrics["reports"] = task
    return metrics


def ner_labels(ds: datasets.Dataset, data: DataConfig, split: str, labels: list[str]) -> list[list[int]]:
    """Each sentence's tags as the model's ids, by name (IOB1 is rewritten to IOB2 as in training)."""
    from nlptl import iob2

    for needed in (data.tokens_column, data.tags_column):
        if needed not in ds.column_names:
            raise NlptlError(f"{files_of(ds, split)}: no column {needed!r} (columns: {', '.join(ds.column_names)}); "
                             "the model reads data.tokens_column / data.tags_column of its recipe")
    feature = tag_feature(ds.features, data.tags_column, split)
    to_id = {name: i for i, name in enumerate(labels)}
    result = []
    for row, (words, tags) in enumerate(zip(column(ds, data.tokens_column), column(ds, data.tags_column),
                                            strict=True)):
        tags, words = list(tags or ()), list(words or ())
        if len(tags) != len(words):
            raise NlptlError(f"{where(ds, row, split)}: {len(words)} words but {len(tags)} tags; each word needs one")
        names = [feature.names[t] if isinstance(feature, datasets.ClassLabel) else
                 labels[t] if isinstance(t, int) and 0 <= t < len(labels) else str(t) for t in tags]
        for word, name in enumerate(names):
            if name not in to_id:
                place = conll_location(ds[row], word) or where(ds, row, split)  # CoNLL text: file:line
                raise NlptlError(f"{place}: tag {tags[word]!r} (word {word + 1}, {words[word]!r}) is "
                                 f"not a tag of the model ({labels}); fix the data")
        result.append([to_id[name] for name in iob2.iob1_to_iob2(names)])
    return result


def score_ner(predictor: Predictor, ds: datasets.Dataset, split: str, recipe: Recipe) -> dict[str, Any]:
    """Training's windows, the engine's batches, training's stitching and seqeval metrics."""
    from nlptl.inference.ner import predict_windows

    task = TokenClassificationTask()
    task.label_names = predictor.labels
    task.strict, task.decoding = recipe.data.ner_strict, recipe.data.ner_decoding
    labels = ner_labels(ds, recipe.data, split, predictor.labels)
    sentences = {recipe.data.tokens_column: column(ds, recipe.data.tokens_column), "labels": labels}
    windows = task.encoder(predictor.tokenizer, recipe)(sentences, list(range(len(labels))))
    rows = shard(len(windows["input_ids"]))
    inputs = {key: [windows[key][i] for i in rows] for key in predictor.tokenizer.model_input_names if key in windows}
    scores = predict_windows(predictor.model, predictor.tokenizer, inputs, predictor.batch_size) if rows else []
    predictions = gathered(list(zip(rows, scores, strict=True)), len(windows["input_ids"]))
    metrics = task.compute_metrics(predictions, windows["labels"], split, datasets.Dataset.from_dict(windows))
    metrics["reports"] = task
    return metrics


def evaluate(run: str | Path, data: str, *, split: str = "test", output_dir: str | Path | None = None,
             text_column: str | None = None, label_column: str | None = None, text_pair_column: str | None = None,
             config_name: str | None = None, batch_size: int = 64, max_samples: int | None = None,
             seed: int | None = None, max_length: int | None = None, truncation: str | None = None,
             head_tokens: int | None = None, long_text: str | None = None, stride: int | None = None,
             window_pooling: str | None = None, precision: str | None = None, overwrite: bool = False,
             progress: bool = True, recipe_mirrors: dict[str, str] | None = None,
             task: str | None = None) -> dict[str, Any]:
    """Score the model in `run` on `split` of `data` and write the reports; returns metrics.json's content.
    `task`: the head of a multi-task run to score.

    `precision`: None runs in the precision the run trained in (fp32 unless it trained in bf16), so a run's
    test accuracy is reproduced; `seed` (default: the run's) picks the `max_samples` rows."""
    started = time.perf_counter()
    run_dir = Path(mirrors.resolve(str(run), recipe_mirrors or {}))
    head = saved_head(str(run_dir), task)
    recipe = saved_recipe(head.folder if head else run_dir) if mirrors.is_local(str(run_dir)) else None
    out = Path(output_dir) if output_dir else default_output_dir(run_dir, data, split)
    state = partial_state()
    check_output_dir(out, overwrite)  # every process: none may go on to wait for one that stopped
    predictor = Predictor(run_dir, batch_size=batch_size, max_length=max_length, truncation=truncation,
                          head_tokens=head_tokens, long_text=long_text, stride=stride, window_pooling=window_pooling,
                          precision=precision or trained_precision(run_dir), recipe_mirrors=recipe_mirrors, task=task)
    trained = recipe.data if recipe else DataConfig()
    text_column = text_column or predictor.default_text_column
    label_column = label_column or trained.label_column
    if predictor.kind not in TEXT_KINDS and text_pair_column:
        raise NlptlError("--text-pair-column applies to sequence classification; this is a token-classification model")
    with state.main_process_first():
        raw = load_raw_splits(data, config_name, recipe_mirrors or {}, trained.cache_dir,
                              text_columns=[text_column, text_pair_column] if predictor.kind in TEXT_KINDS else [],
                              label_column=label_column if predictor.kind in TEXT_KINDS else None)
    ds = pick_split(raw, split, data)
    seed = seed if seed is not None else (recipe.seed if recipe else 42)
    if predictor.kind in TEXT_KINDS:
        pair_column = pair_column_for(predictor, text_pair_column, ds, split)
        if text_column not in ds.column_names:
            raise missing_column(files_of(ds, split), text_column, ds.column_names, "choose it with --text-column")
        check_texts(datasets.DatasetDict({split: ds}), [text_column, pair_column])
        if predictor.kind == SEQUENCE:
            references: list = label_ids(ds, label_column, split, predictor.labels, ids_given=bool(trained.label_names))
        else:
            references = target_rows(predictor, ds, split, trained, label_column)
        chosen = sample(ds.add_column("__reference", references), max_samples, seed)
        score = score_classification if predictor.kind == SEQUENCE else score_targets
        metrics = score(predictor, chosen, split, text_column, pair_column, column(chosen, "__reference"), progress)
        settings = predictor.settings
        handling = SequenceClassificationTask().long_text(dataclasses.replace(
            trained, max_length=settings.max_length, truncation=settings.truncation, head_tokens=settings.head_tokens,
            long_text=settings.long_text, stride=settings.stride, window_pooling=settings.pooling,
            text_pair_column=pair_column))  # what training's scoring records for the same settings
        columns = {"text_column": text_column, "text_pair_column": pair_column, "label_column": label_column}
    else:
        ner_recipe = Recipe(data=dataclasses.replace(trained, max_length=predictor.settings.max_length))
        metrics = score_ner(predictor, sample(ds, max_samples, seed), split, ner_recipe)
        handling = TokenClassificationTask().long_text(ner_recipe.data)  # always windows, in training too
        columns = {"tokens_column": trained.tokens_column, "tags_column": trained.tags_column}
    task = metrics.pop("reports")
    metrics["long_text"] = handling
    result = {split: metrics, "evaluation": {
        "model": str(run_dir), "data": data, "split": split, "examples": metrics["num_examples"],
        "max_samples": max_samples, "seed": seed if max_samples else None, **columns,
        "precision": getattr(getattr(predictor, "precision_choice", None), "used", predictor.precision),
        "processes": state.num_processes, "seconds": round(time.perf_counter() - started, 2)}}
    if state.is_main_process:
        write_outputs(out, result, task, split)
        shown = {k: metrics[k] for k in ("accuracy", "f1", "roc_auc", "ece", "f1_micro", "f1_macro", "mse", "mae",
                                         "pearson", "spearman") if k in metrics}
        logger.info("%s %s (%d examples): %s -> %s", data, split, metrics["num_examples"], shown, out)
    state.wait_for_everyone()
    return result


def trained_precision(run_dir: Path) -> str:
    """fp32, or bf16 when the run trained in bf16 (its precision.json): the choice that reproduces its scores."""
    try:
        used = json.loads((run_dir / "precision.json").read_text()).get("used")
    except (OSError, ValueError, AttributeError):
        used = None
    return "bf16" if used == "bf16" else "fp32"


def write_outputs(out: Path, result: dict, task: Any, split: str) -> None:
    """Everything written into a staging folder, then moved into place whole: an existing folder is replaced
    only when all is written."""
    staging = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write_json(staging / "metrics.json", result)
        task.write_reports({split: result[split]}, staging)
        replace_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
