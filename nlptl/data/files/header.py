"""csv/tsv headers: does the first line name the columns, or is it data?

A header-less file has its first row read as column names, so the columns the recipe (or `--text-column`)
names are missing. Then the first row is examined: a number, a sentence, or a value that recurs further down
is data, not a column name, and the error says to name the columns with `data.column_names` /
`--column-names`. With the names given, a first row equal to them is a header the names would turn into data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nlptl.data.files.formats import separator
from nlptl.data.files.problems import missing_column, parse_error
from nlptl.errors import NlptlError

HEAD_ROWS = 50  # rows read to judge the header


@dataclass(frozen=True)
class Options:
    """How the user names the columns where the error is shown (recipe fields vs predict flags)."""

    column_names: str  # e.g. data.column_names
    set_names: str  # how to write it, given the names: e.g. --data.column_names {names}
    text_column: str  # e.g. set data.text_column


TRAIN = Options("data.column_names", "--data.column_names {names}", "set data.text_column")
PREDICT = Options("--column-names", "--column-names {names}", "choose it with --text-column")


def read_head(path: Path) -> list[list[str]]:
    """The first rows as the strings written, the first line included (undecodable bytes replaced here; the
    full read reports them)."""
    sep = separator(path)
    try:
        frame = pd.read_csv(path, sep=sep, header=None, nrows=HEAD_ROWS, dtype=str, keep_default_na=False,
                            encoding="utf-8-sig", encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise parse_error(path, err, sep) from None
    return frame.values.tolist()


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return bool(cell.strip())


def data_like(first: list[str], rest: list[list[str]]) -> str | None:
    """Why the first row reads as data rather than column names, or None."""
    for index, cell in enumerate(first):
        if is_number(cell):
            return f"{cell!r} is a number"
        if len(cell) > 30 and " " in cell.strip():
            return f"{cell[:30] + '...'!r} reads like a text"
        if cell.strip() and any(index < len(row) and row[index] == cell for row in rest):
            return f"{cell!r} is also a value further down"
    return None


def suggested_names(rows: list[list[str]], needed: list[str], label: str | None) -> list[str]:
    """Names for a header-less file: the column with the longest cells is the text, the next one the label."""
    width = len(rows[0])
    length = [sum(len(row[i]) for row in rows if i < len(row)) for i in range(width)]
    names = [f"column{i + 1}" for i in range(width)]
    order = sorted(range(width), key=lambda i: -length[i])
    for name, index in zip([*needed, *([label] if label else [])], [*order[:len(needed)], *order[::-1]],
                           strict=False):
        if names[index].startswith("column"):
            names[index] = name
    return names


def check_csv_files(paths: list[Path], column_names: list[str] | None, needed: list[str], options: Options,
                    label: str | None = None) -> list[str]:
    """The column names every file has, after checking the header (or the given names) of each file."""
    heads = {path: read_head(path) for path in paths}
    found: dict[Path, list[str]] = {}
    for path, rows in heads.items():
        if not rows:
            raise NlptlError(f"{path} is empty; put the data in it or remove the file")
        if column_names:
            found[path] = checked_names(path, rows, column_names, options)
            continue
        if len(rows) == 1:
            raise NlptlError(f"{path} has a single line ({', '.join(rows[0])}): a header with no rows, or one row "
                             f"with no header; add the rows (or name the columns with {options.column_names})")
        found[path] = [str(cell) for cell in rows[0]]
    for path, columns in found.items():
        for column in needed:
            if column not in columns:
                raise header_error(path, heads, column, columns, needed, options, label, bool(column_names))
    first, *others = paths
    for path in others:
        if set(found[path]) != set(found[first]):
            raise NlptlError(f"{path}: its columns ({', '.join(found[path])}) differ from those of {first} "
                             f"({', '.join(found[first])}); give every split file the same header line")
    return found[first]


def checked_names(path: Path, rows: list[list[str]], names: list[str], options: Options) -> list[str]:
    if len(rows[0]) != len(names):
        raise NlptlError(f"{path} has {len(rows[0])} columns but {options.column_names} names {len(names)} "
                         f"({', '.join(names)}); name every column, in order")
    if [cell.strip().lower() for cell in rows[0]] == [name.lower() for name in names]:
        raise NlptlError(f"{path}: the first line is a header ({', '.join(rows[0])}) but {options.column_names} "
                         f"is set too, so it would be read as data; remove {options.column_names}")
    return list(names)


def header_error(path: Path, heads: dict[Path, list[list[str]]], column: str, columns: list[str],
                 needed: list[str], options: Options, label: str | None, named: bool) -> NlptlError:
    rows = heads[path]
    reason = None if named else data_like(rows[0], rows[1:])
    others = [p for p in heads if p != path and heads[p] and len(heads[p][0]) == len(rows[0])]
    if reason is None and not named and others and heads[others[0]][0] != rows[0]:
        reason = f"the first lines of {path.name} and {others[0].name} differ"
    if reason is None:
        return missing_column(path, column, columns, f"{options.text_column}, or name the columns with "
                                                     f"{options.column_names} if the file has no header line")
    names = ",".join(suggested_names(rows, needed, label))
    return NlptlError(f"{path}: the first row looks like data, not a header ({reason}): set {options.column_names} "
                      f"to name the columns in order, e.g. {options.set_names.format(names=names)}")
