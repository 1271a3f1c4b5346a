"""Training splits: a Hub id, a local directory with one file per split, one file, or a `save_to_disk` folder.

`datasets` loads and caches tabular files; CoNLL text files go through `nlptl.data.conll`. Before loading,
every file is checked (readable, not empty, csv/tsv header or `data.column_names`); a failed load is read again
file by file with the same parser to say which file and line failed and why; after loading, texts are checked
(`check_texts`: no empty text, in the splits used) and each split remembers its files for later messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nlptl import mirrors
from nlptl.data.conll import read_conll_dataset
from nlptl.data.files import header, origin
from nlptl.data.files.formats import (
    CONLL,
    SUFFIXES,
    data_files_in,
    file_format,
    is_saved_dataset,
    one_format,
    separator,
)
from nlptl.data.files.problems import (
    check_file,
    encoding_error,
    first_line,
    json_error,
    missing_column,
    parse_error,
    quiet_datasets,
    row_problem,
)
from nlptl.errors import NlptlError


def local_files(path: Path) -> dict[str, list[Path]]:
    """The files of a local source by split (one file alone is the train split)."""
    if path.is_dir():
        files = data_files_in(path)
        if not files:
            raise NlptlError(f"{path}: no data files found; expected one file per split such as train.parquet, "
                             f"validation.csv, test.jsonl, train.conll ({', '.join(SUFFIXES)})")
        return files
    if not file_format(path):
        raise NlptlError(f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(SUFFIXES)}")
    return {"train": [path]}


def csv_options(path: Path, column_names: list[str] | None) -> dict[str, Any]:
    """pandas options of the csv builder: cells kept as written ("NA" and "None" stay text), names if given."""
    options: dict[str, Any] = {"sep": separator(path), "keep_default_na": False}
    if column_names:
        options.update(column_names=list(column_names), header=None)
    return options


def load_local(path: Path, cache_dir: str | None, column_names: list[str] | None, text_columns: list[str],
               label_column: str | None) -> datasets.DatasetDict:
    if path.is_dir() and is_saved_dataset(path):
        try:
            loaded = datasets.load_from_disk(str(path))
        except (OSError, ValueError) as err:
            raise NlptlError(f"cannot read the saved data set {path}: {first_line(err)}") from None
        return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict(train=loaded)
    files = local_files(path)
    every = [p for group in files.values() for p in group]
    fmt = one_format(every, path)
    for file in every:
        check_file(file)
    if fmt == CONLL:
        return datasets.DatasetDict({split: read_conll_dataset(paths) for split, paths in files.items()})
    options: dict[str, Any] = {}
    if fmt == "csv":
        header.check_csv_files(every, column_names, text_columns, header.TRAIN, label_column)
        options = csv_options(every[0], column_names)
    try:
        with quiet_datasets():
            loaded = datasets.load_dataset(fmt, data_files={s: [str(p) for p in ps] for s, ps in files.items()},
                                           cache_dir=cache_dir, **options)
    except Exception as err:  # datasets wraps what the parser raised; read file by file to say where
        raise explain_failure(err, every, fmt, options) from None
    for split, ds in loaded.items():
        try:
            ds.data.table.validate(full=True)  # pyarrow's JSON reader lets bytes that are not UTF-8 through
        except pa.ArrowInvalid:
            raise next(filter(None, map(encoding_error, files[split])), None) or NlptlError(
                f"{', '.join(map(str, files[split]))}: the data read is not valid; write the file again") from None
        origin.remember(ds, origin.Origin(files[split], lambda p: count_rows(p, fmt, options, cache_dir)))
    return loaded


def count_rows(path: Path, fmt: str, options: dict[str, Any], cache_dir: str | None) -> int:
    if fmt == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with quiet_datasets():
        return len(datasets.load_dataset(fmt, data_files=[str(path)], split="train", cache_dir=cache_dir, **options))


def explain_failure(err: Exception, paths: list[Path], fmt: str, options: dict[str, Any]) -> NlptlError:
    """Read each file again with the parser `datasets` used, to name the file and line that failed."""
    import pandas as pd

    for path in paths:
        if fmt == "csv":
            if problem := encoding_error(path):
                return problem
            try:
                pandas_options = {k: v for k, v in options.items() if k != "column_names"}
                names = options.get("column_names")
                for _ in pd.read_csv(path, chunksize=10_000, dtype=str, names=names, **pandas_options):
                    pass
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as parse_err:
                return parse_error(path, parse_err, options["sep"])
        elif fmt == "json":
            if (problem := encoding_error(path)) or (problem := json_error(path)):
                return problem
        elif fmt == "parquet":
            try:
                pq.ParquetFile(path)
            except Exception as parquet_err:  # pyarrow raises several types for a file that is not parquet
                return NlptlError(f"{path}: not a readable parquet file ({first_line(parquet_err)}); "
                                  "write it again with pandas .to_parquet() or pyarrow")
    message = first_line(err)
    if "corresponds to no data" in message:
        return NlptlError(f"{', '.join(map(str, paths))}: a split file has no rows; add rows or remove the file")
    if "cast" in message.lower():
        return NlptlError(f"{', '.join(map(str, paths))}: the split files do not share one set of columns and "
                          f"value types ({message[:200]}); give every split file the same columns")
    return NlptlError(f"cannot read the data files {', '.join(map(str, paths))}: {message[:300]}")


def first_empty(table: pa.Table, column: str) -> tuple[int, str] | None:
    """(index, 'null text' | 'empty text') of the first row without text in `column`, or None."""
    values = table.column(column)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    missing = pc.is_null(values)
    bad = pc.or_(missing, pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), False))
    found = pc.index(bad, True).as_py()
    if found < 0:
        return None
    return found, "null text" if missing[found].as_py() else "empty text"


def check_columns(splits: datasets.DatasetDict, text_column: str, tokens_column: str) -> None:
    """Every split used has the text column (or, for token classification, the tokens column)."""
    for split, ds in splits.items():
        if text_column not in ds.column_names and tokens_column not in ds.column_names:
            raise missing_column(origin.files_of(ds, split), text_column, ds.column_names,
                                 "set data.text_column (data.tokens_column for token classification)")


def check_texts(splits: datasets.DatasetDict, text_columns: list[str | None]) -> None:
    """Every row of the splits used has text in the text column(s) it has; a split with no rows, or a row with
    no text, is an error naming the file and row."""
    for split, ds in splits.items():
        if len(ds) == 0:
            raise NlptlError(f"{origin.files_of(ds, split)}: no rows in the {split} split; add rows or remove it")
        for column in text_columns:
            if column and column in ds.column_names and (found := first_empty(ds.data.table, column)):
                index, reason = found
                raise NlptlError(row_problem(origin.where(ds, index, split), reason, column))


def load_raw_splits(source: str, config_name: str | None, recipe_mirrors: dict[str, str], cache_dir: str | None,
                    column_names: list[str] | None = None, text_columns: list[str | None] | None = None,
                    label_column: str | None = None) -> datasets.DatasetDict:
    """Every split the source has, as written, checked: see the module doc."""
    needed = [column for column in (text_columns or []) if column]
    resolved = mirrors.resolve(source, recipe_mirrors)
    if mirrors.is_local(resolved):
        splits = load_local(Path(resolved), cache_dir, column_names, needed, label_column)
    else:
        if column_names:
            raise NlptlError(f"data.column_names applies to header-less csv/tsv files, not to the Hub data set "
                             f"{source}; remove it")
        try:
            with quiet_datasets():
                splits = datasets.load_dataset(resolved, config_name, cache_dir=cache_dir)
        except Exception as err:  # the Hub client raises many types; all mean "not reachable / not found"
            raise mirrors.hub_error("data set", source, err) from None
    return splits
