"""`predict_file`: label every row of a file (or data set split) and write it out with its original columns.

The input is read chunk by chunk; each finished chunk is saved as a part in a hidden work dir next to the
output, and the output is assembled from the parts in input order at the end (temp file + rename), so an
interrupted run continues with `resume=True` without losing or repeating a row. Under `accelerate launch`
each process takes every N-th chunk and the main process assembles the output.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from tqdm.auto import tqdm

from nlptl.data.files.stream import Chunk, open_source, read_chunks
from nlptl.errors import NlptlError
from nlptl.inference.badrows import check_policy, screen
from nlptl.inference.predictor import Predictor
from nlptl.inference.workdir import WorkDir
from nlptl.inference.writers import output_format, write_output
from nlptl.io import check_writable, os_reason
from nlptl.training.distributed import partial_state

logger = logging.getLogger("nlptl")
SKIP_REASON = "skip_reason"
TEXT_COLUMNS = ("label", "entities", "labels", "scores", SKIP_REASON)  # every other added column is a float


@dataclass
class PredictSummary:
    output: Path
    rows: int  # rows in the output
    predicted_rows: int  # rows this process computed in this call (not those a resumed run had finished)
    skipped_rows: int  # bad rows this process kept with a skip_reason
    resumed_chunks: int
    seconds: float  # the whole call, model loading included
    loop_seconds: float  # reading, predicting and writing parts

    @property
    def rows_per_second(self) -> float:
        return self.predicted_rows / self.loop_seconds if self.loop_seconds else float("nan")


def added_columns(predictor: Predictor, all_scores: bool, bad_rows: str, prefix: str) -> list[str]:
    names = predictor.output_names(all_scores)
    return [prefix + name for name in [*names, *([SKIP_REASON] if bad_rows == "skip" else [])]]


def column_type(name: str, prefix: str) -> pa.DataType:
    return pa.string() if name[len(prefix):] in TEXT_COLUMNS else pa.float64()


def predict_chunk(predictor: Predictor, chunk: Chunk, text_column: str, all_scores: bool, bad_rows: str,
                  prefix: str, where: str) -> tuple[pa.Table, int]:
    """The chunk's rows with the prediction columns appended, and how many rows were skipped."""
    values = chunk.table.column(text_column).to_pylist()
    texts, keep, reasons = screen(values, chunk.problems, chunk.first_row, bad_rows, where, text_column)
    predicted = predictor.columns(texts, all_scores)
    table = chunk.table
    for name, column in predicted.items():
        full: list[Any] = [None] * table.num_rows
        for row, position in enumerate(keep):
            full[position] = column[row]
        table = table.append_column(prefix + name, pa.array(full, type=column_type(prefix + name, prefix)))
    if bad_rows == "skip":
        table = table.append_column(prefix + SKIP_REASON, pa.array(reasons, type=pa.string()))
    return table, table.num_rows - len(keep)


def check_columns(existing: list[str], added: list[str], where: str) -> None:
    clash = [name for name in added if name in existing]
    if clash:
        raise NlptlError(f"{where} already has the column(s) {', '.join(clash)}; give the prediction columns a "
                         "prefix with --prefix (e.g. --prefix pred_ writes pred_label, pred_score)")


def predict_file(model: str | Path | Predictor, input_path: str, output: str | Path, *,
                 text_column: str | None = None, split: str | None = None, config_name: str | None = None,
                 batch_size: int = 32, chunk_size: int = 4096, all_scores: bool = False, bad_rows: str = "error",
                 resume: bool = False, overwrite: bool = False, precision: str = "auto",
                 max_length: int | None = None, truncation: str | None = None, head_tokens: int | None = None,
                 long_text: str | None = None, stride: int | None = None, window_pooling: str | None = None,
                 prefix: str = "",
                 recipe_mirrors: dict[str, str] | None = None, column_names: list[str] | None = None,
                 progress: bool = True, backend: str = "torch", task: str | None = None) -> PredictSummary:
    """Predict every row of `input_path` into `output` (.csv/.tsv/.jsonl/.parquet); see the module doc."""
    started = time.perf_counter()
    output = Path(output)
    output_format(output)
    check_policy(bad_rows)
    if output.exists() and not overwrite and resume and not WorkDir(output).path.exists():
        raise NlptlError(f"{output} is complete (its run finished; nothing to resume): use it, or predict it again "
                         "with --overwrite")
    if output.exists() and not overwrite:
        raise NlptlError(f"{output} already exists; choose another --output or replace it with --overwrite")
    check_writable(output.parent, "--output folder", "choose another --output")
    predictor = model if isinstance(model, Predictor) else Predictor(
        model, batch_size=batch_size, max_length=max_length, truncation=truncation, head_tokens=head_tokens,
        long_text=long_text, stride=stride, window_pooling=window_pooling, precision=precision,
        recipe_mirrors=recipe_mirrors, backend=backend, task=task)
    text_column = text_column or predictor.default_text_column
    source = open_source(input_path, split, text_column, config_name, recipe_mirrors, column_names)
    added = added_columns(predictor, all_scores, bad_rows, prefix)
    state = partial_state()
    work = WorkDir(output)
    manifest = {"input": source.name, "input_files": source.fingerprint(), "text_column": text_column,
                **({"column_names": column_names} if column_names else {}),
                "chunk_size": chunk_size, "all_scores": all_scores, "bad_rows": bad_rows, "prefix": prefix,
                "predictor": predictor.describe()}
    if state.is_main_process:
        work.start(manifest, resume, overwrite)
    state.wait_for_everyone()
    finished = work.finished()
    total = math.ceil(source.num_rows / state.num_processes) if source.num_rows is not None else None
    bar = tqdm(total=total, unit="rows", unit_scale=True, desc="predicting", smoothing=0.1,
               disable=True if not (progress and state.is_main_process) else None)
    chunks = predicted = skipped = resumed = 0
    loop_started = time.perf_counter()
    try:
        for chunk in read_chunks(source, chunk_size, text_column):
            chunks += 1
            check_columns(chunk.table.column_names, added, source.name)
            if chunk.index % state.num_processes != state.process_index:
                continue
            if chunk.index in finished:
                resumed += 1
            else:
                table, bad = predict_chunk(predictor, chunk, text_column, all_scores, bad_rows, prefix, source.name)
                work.write_part(chunk.index, table)
                predicted += table.num_rows
                skipped += bad
            bar.update(chunk.table.num_rows)
    except NlptlError:
        if state.is_main_process:
            work.remove()  # a fixed input or other options could not resume these parts anyway
        raise
    except OSError as err:  # a full disk: the finished parts stay, so the run can continue
        raise NlptlError(f"cannot write the results of {source.name} to {work.path}: {os_reason(err)}; free disk "
                         "space, then rerun with --resume") from None
    finally:
        bar.close()
    loop_seconds = time.perf_counter() - loop_started
    state.wait_for_everyone()
    rows = 0
    if state.is_main_process:
        empty = pa.schema([(name, column_type(name, prefix)) for name in added])
        try:
            rows = write_output(work.parts(chunks), output, empty)
        except OSError as err:
            raise NlptlError(f"cannot write {output}: {os_reason(err)}; free disk space, then rerun with --resume "
                             f"(the predictions are kept in {work.path})") from None
        work.remove()
    state.wait_for_everyone()
    summary = PredictSummary(output, rows, predicted, skipped, resumed, time.perf_counter() - started, loop_seconds)
    logger.info("%d rows -> %s in %.1f s (%d predicted in this run, %.1f rows/s; %d skipped; %d chunk(s) resumed)",
                rows, output, summary.seconds, predicted, summary.rows_per_second, skipped, resumed)
    return summary
