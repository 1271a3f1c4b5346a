"""Read prediction inputs in fixed-size chunks, never the whole file at once.

Formats: parquet (row batches), csv/tsv (pandas `chunksize`, every cell kept as the exact string; headers checked
and `--column-names` applied as in training), jsonl and txt (line by line), a directory of split files or a
`save_to_disk` folder with `--split`, and a Hub data set (`datasets` streaming). Files are checked and errors
worded by the same functions as training's (`nlptl.data.files.problems`, `.header`).
Chunk `i` always holds rows `[i*size, (i+1)*size)`, so a resumed run can skip the
chunks it finished. Bytes that are not UTF-8 are replaced in the output (U+FFFD) and reported per row, so the
bad-row policy decides what happens to that row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nlptl import mirrors
from nlptl.data.files import header
from nlptl.data.files.formats import data_files_in, is_saved_dataset, separator
from nlptl.data.files.problems import BOM, UNDECODABLE, check_file, json_problem, missing_column, parse_error
from nlptl.errors import NlptlError

Batch = tuple[pa.Table, dict[int, str]]  # rows, and why some rows' text could not be read (by position)
FILE_FORMATS = (".parquet", ".csv", ".tsv", ".jsonl", ".txt")


@dataclass
class Chunk:
    index: int
    first_row: int  # 0-based number of the chunk's first row in the whole input
    table: pa.Table
    problems: dict[int, str] = field(default_factory=dict)


def repair(value: str) -> tuple[str, bool]:
    """A string read with `surrogateescape` -> (valid UTF-8 text, whether bytes had to be replaced)."""
    if value.isascii():
        return value, False
    try:
        value.encode("utf-8")
        return value, False
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), True


def file_stamp(paths: list[Path]) -> list[list]:
    """What identifies the input for a resume: path, size and modification time of each file."""
    return [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


class Source:
    """One input: its name for messages, row count when cheap to know, and a stream of row batches."""

    name: str
    num_rows: int | None = None

    def batches(self, rows: int) -> Iterator[Batch]:
        raise NotImplementedError

    def fingerprint(self) -> Any:
        raise NotImplementedError


class ParquetSource(Source):
    def __init__(self, paths: list[Path], name: str) -> None:
        self.paths, self.name = paths, name
        self.num_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)

    def batches(self, rows: int) -> Iterator[Batch]:
        for path in self.paths:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
                yield pa.Table.from_batches([batch]), {}

    def fingerprint(self) -> Any:
        return file_stamp(self.paths)


class CsvSource(Source):
    """Cells are read as strings exactly as written (no type guessing, empty stays empty), so the output
    repeats the input's columns unchanged."""

    def __init__(self, paths: list[Path], name: str, text_column: str, column_names: list[str] | None) -> None:
        self.paths, self.name, self.text_column, self.column_names = paths, name, text_column, column_names
        header.check_csv_files(paths, column_names, [text_column], header.PREDICT)

    def batches(self, rows: int) -> Iterator[Batch]:
        import pandas as pd

        for path in self.paths:
            names = {"names": self.column_names, "header": None} if self.column_names else {}
            try:
                reader = pd.read_csv(path, sep=separator(path), chunksize=rows, dtype=object, keep_default_na=False,
                                     encoding="utf-8-sig", encoding_errors="surrogateescape", **names)
                for frame in reader:
                    problems: dict[int, str] = {}
                    for column in frame.columns:
                        repaired = [repair(v) if isinstance(v, str) else (v, False) for v in frame[column]]
                        if any(bad for _, bad in repaired):
                            frame[column] = [v for v, _ in repaired]
                            if column == self.text_column:
                                problems.update({i: UNDECODABLE for i, (_, bad) in enumerate(repaired) if bad})
                    yield pa.Table.from_pandas(frame, preserve_index=False), problems
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
                raise parse_error(path, err, separator(path)) from None

    def fingerprint(self) -> Any:
        return file_stamp(self.paths)


class JsonlSource(Source):
    """One JSON object per line; blank lines are not records. A line that is not a JSON object becomes a row
    of nulls with the reason, so the bad-row policy sees it."""

    def __init__(self, paths: list[Path], name: str, text_column: str) -> None:
        self.paths, self.name, self.text_column = paths, name, text_column
        self.seen_text = False

    def batches(self, rows: int) -> Iterator[Batch]:
        records: list[dict] = []
        problems: dict[int, str] = {}
        for path in self.paths:
            with open(path, "rb") as handle:
                first = True
                for line_number, raw in enumerate(handle, start=1):
                    raw = raw.removeprefix(BOM) if line_number == 1 else raw
                    if not raw.strip():
                        continue
                    if first and raw.lstrip().startswith(b"["):
                        raise NlptlError(f"{path} looks like one JSON array; prediction reads JSON Lines "
                                         "(one object per line): convert it, e.g. with pandas .to_json(lines=True)")
                    first = False
                    record, problem = self.parse(raw, line_number)
                    if problem:
                        problems[len(records)] = problem
                    records.append(record)
                    if len(records) == rows:
                        yield self.table(records, path), problems
                        records, problems = [], {}
            if records:
                yield self.table(records, path), problems
                records, problems = [], {}

    def parse(self, raw: bytes, line_number: int) -> tuple[dict, str | None]:
        record, problem = json_problem(raw, line_number)
        if record is None:
            return {}, problem
        for key, value in record.items():
            if isinstance(value, str):
                record[key], bad = repair(value)
                if bad and key == self.text_column:
                    problem = UNDECODABLE
        return record, problem

    def table(self, records: list[dict], path: Path) -> pa.Table:
        keys = list(dict.fromkeys(key for record in records for key in record))  # every key, first-seen order
        if self.text_column not in keys:
            if not self.seen_text:
                raise missing_column(self.name, self.text_column, keys, f"no key of that name in its first "
                                     f"{len(records)} records; choose it with --text-column")
            keys.append(self.text_column)  # a block where no record has it: its rows have null text
        self.seen_text = True
        try:
            return pa.Table.from_pydict({key: [record.get(key) for record in records] for key in keys})
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise NlptlError(f"{path}: a key holds values of different types, e.g. numbers and strings "
                             f"({str(err).splitlines()[0][:120]}); make each key hold one type") from None

    def fingerprint(self) -> Any:
        return file_stamp(self.paths)


class TextLinesSource(Source):
    """Plain text, one text per line (every line is a row, empty lines included, so row N is line N)."""

    def __init__(self, path: Path, text_column: str) -> None:
        self.path, self.name, self.text_column = path, str(path), text_column

    def batches(self, rows: int) -> Iterator[Batch]:
        texts: list[str] = []
        problems: dict[int, str] = {}
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle):
                raw = raw.removeprefix(BOM) if number == 0 else raw
                text, bad = repair(raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "surrogateescape"))
                if bad:
                    problems[len(texts)] = UNDECODABLE
                texts.append(text)
                if len(texts) == rows:
                    yield pa.table({self.text_column: texts}), problems
                    texts, problems = [], {}
        if texts:
            yield pa.table({self.text_column: texts}), problems

    def fingerprint(self) -> Any:
        return file_stamp([self.path])


class DatasetSource(Source):
    """A `datasets` split: a `save_to_disk` folder (memory-mapped) or a Hub data set (streamed)."""

    def __init__(self, dataset: Any, name: str, stamp: Any) -> None:
        self.dataset, self.name, self.stamp = dataset, name, stamp
        self.num_rows = getattr(dataset, "num_rows", None)

    def batches(self, rows: int) -> Iterator[Batch]:
        for batch in self.dataset.iter(batch_size=rows):
            yield (batch if isinstance(batch, pa.Table) else pa.Table.from_pydict(dict(batch))), {}

    def fingerprint(self) -> Any:
        return self.stamp


def file_source(paths: list[Path], name: str, text_column: str, column_names: list[str] | None = None) -> Source:
    suffixes = {p.suffix for p in paths}
    if len(suffixes) != 1:
        raise NlptlError(f"{name}: mixes file formats ({', '.join(sorted(suffixes))}); use one format")
    suffix = suffixes.pop()
    if column_names and suffix not in (".csv", ".tsv"):
        raise NlptlError(f"--column-names applies to header-less .csv/.tsv files, not to {name}; remove it")
    for path in paths:
        check_file(path)
    if suffix == ".parquet":
        return ParquetSource(paths, name)
    if suffix in (".csv", ".tsv"):
        return CsvSource(paths, name, text_column, column_names)
    if suffix in (".jsonl", ".json"):
        return JsonlSource(paths, name, text_column)
    if suffix == ".txt" and len(paths) == 1:
        return TextLinesSource(paths[0], text_column)
    raise NlptlError(f"{name}: unsupported input type {suffix!r}; use one of {', '.join(FILE_FORMATS)}, "
                     "a directory with --split, or a Hub data set with --split")


def directory_source(path: Path, split: str | None, text_column: str, column_names: list[str] | None) -> Source:
    if is_saved_dataset(path):
        import datasets

        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded[pick_split(list(loaded), split, path)]
        stamp = file_stamp(sorted(p for p in path.rglob("*.arrow")))
        return DatasetSource(loaded.with_format("arrow"), f"{path} [{split or 'the only split'}]", stamp)
    files = data_files_in(path)
    if not files:
        raise NlptlError(f"{path}: no data files found; expected files named after their split "
                         f"(test.parquet, test-00000-of-00002.parquet, test.csv, test.jsonl...)")
    chosen = pick_split(list(files), split, path)
    return file_source(files[chosen], f"{path} [{chosen}]", text_column, column_names)


def pick_split(splits: list[str], split: str | None, where: Any) -> str:
    if split is None:
        if len(splits) == 1:
            return splits[0]
        raise NlptlError(f"{where} holds the splits {', '.join(splits)}; choose one with --split")
    if split not in splits:
        raise NlptlError(f"{where} has no split {split!r}; it has {', '.join(splits)}")
    return split


def hub_source(name: str, split: str | None, config_name: str | None) -> Source:
    import datasets

    if split is None:
        raise NlptlError(f"{name} is not a local file or directory; for a Hub data set choose a split with --split")
    try:
        stream = datasets.load_dataset(name, config_name, split=split, streaming=True)
    except Exception as err:  # the Hub client raises many types; all mean "not reachable / not found"
        raise mirrors.hub_error("data set", name, err) from None
    return DatasetSource(stream, f"{name} [{split}]", [name, config_name, split])


def open_source(input_path: str, split: str | None = None, text_column: str = "text",
                config_name: str | None = None, recipe_mirrors: dict[str, str] | None = None,
                column_names: list[str] | None = None) -> Source:
    """The input named on the command line: a file, a directory (with --split), or a Hub data set."""
    resolved = mirrors.resolve(input_path, recipe_mirrors)  # a path that does not exist is an error there
    path = Path(resolved)
    if path.is_dir():
        return directory_source(path, split, text_column, column_names)
    if path.exists():
        if split is not None:
            raise NlptlError(f"--split {split} applies to a directory or Hub data set, not to the file {path}")
        return file_source([path], str(path), text_column, column_names)
    if column_names:
        raise NlptlError(f"--column-names applies to header-less .csv/.tsv files, not to the Hub data set "
                         f"{input_path}; remove it")
    return hub_source(input_path, split, config_name)


def read_chunks(source: Source, size: int, text_column: str) -> Iterator[Chunk]:
    """Chunks of exactly `size` rows (the last may be shorter), whatever batch sizes the reader produced."""
    if size < 1:
        raise NlptlError(f"--chunk-size {size}: must be at least 1")
    pieces: list[pa.Table] = []
    problems: dict[int, str] = {}
    held = first_row = index = 0
    checked = False
    for table, found in source.batches(size):
        if not checked and table.num_rows:
            if text_column not in table.column_names:
                raise missing_column(source.name, text_column, table.column_names, "choose it with --text-column")
            checked = True
        offset = 0
        while offset < table.num_rows:
            take = min(size - held, table.num_rows - offset)
            pieces.append(table.slice(offset, take))
            problems.update({held + p - offset: why for p, why in found.items() if offset <= p < offset + take})
            held += take
            offset += take
            if held == size:
                yield Chunk(index, first_row, concat(pieces), problems)
                index, first_row = index + 1, first_row + held
                pieces, problems, held = [], {}, 0
    if held:
        yield Chunk(index, first_row, concat(pieces), problems)


def concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()
