"""One-line errors about data files, each naming the file, the line or row, and the fix.

Parsing stays with pandas (csv/tsv), pyarrow (parquet) and the json module; this module turns what they and
`datasets` raise into `NlptlError`s. Lines count from 1 with the header as line 1 (pandas counts a quoted
cell that spans several lines as one); rows count data rows from 1, the header not included.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nlptl.errors import NlptlError

BOM = b"\xef\xbb\xbf"
UTF8_FIX = "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT)"
NULL, EMPTY, UNDECODABLE = "null text", "empty text", "undecodable bytes"  # row problems (also skip_reason)
ROW_FIXES = {UNDECODABLE: "re-save the file as UTF-8"}  # other row problems: fix or remove the row
FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def check_file(path: Path) -> None:
    """A readable file with something in it (a BOM and blank lines are nothing)."""
    if not path.is_file():
        raise NlptlError(f"{path} is not a file")
    try:
        with open(path, "rb") as handle:
            start = handle.read(1 << 16)
    except OSError as err:
        raise NlptlError(f"cannot read {path}: {err.strerror}; check its permissions") from None
    if not start.removeprefix(BOM).strip() and path.stat().st_size < (1 << 16):
        raise NlptlError(f"{path} is empty; put the data in it (csv/tsv: a header line, then one row per line) "
                         "or remove the file")


def undecodable(path: Path) -> tuple[int, int, int] | None:
    """(line, character, byte) of the first bytes in `path` that are not UTF-8, or None."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return number, len(raw[:err.start].decode("utf-8", "replace")) + 1, raw[err.start]
    return None


def encoding_error(path: Path) -> NlptlError | None:
    found = undecodable(path)
    if found is None:
        return None
    line, character, byte = found
    return NlptlError(f"{path}: line {line}: bytes that are not UTF-8 (0x{byte:02x} at character {character}); "
                      + UTF8_FIX)


def parse_error(path: Path, err: Exception, sep: str = ",") -> NlptlError:
    """A pandas csv/tsv parser error, said with its line and what to do."""
    message = str(err).strip()
    if match := FIELDS.search(message):
        expected, line, saw = match.groups()
        name = "tab" if sep == "\t" else repr(sep)
        return NlptlError(f"{path}: line {line} has {saw} fields where the first line has {expected} (a ragged row); "
                          f"quote a cell that holds the separator ({name}), or add/remove fields on that line")
    if match := QUOTE.search(message):
        return NlptlError(f"{path}: line {int(match.group(1)) + 1}: a quote (\") opened here is never closed; "
                          'close it, and write a quote inside a quoted cell as two quotes ("")')
    if "No columns to parse" in message:
        return NlptlError(f"{path} is empty; put the data in it or remove the file")
    return NlptlError(f"{path}: cannot parse it ({message.splitlines()[0] if message else type(err).__name__})")


def json_problem(raw: bytes, line: int) -> tuple[dict | None, str | None]:
    """One JSON Lines line -> (record, None) or (None, what is wrong with it)."""
    try:
        record = json.loads(raw.decode("utf-8", "surrogateescape"))
    except json.JSONDecodeError as err:
        return None, f"invalid JSON on line {line} ({err.msg})"
    if not isinstance(record, dict):
        return None, f"line {line} is not a JSON object"
    return record, None


def json_error(path: Path) -> NlptlError | None:
    """The first line of a JSON Lines file (or the place in a JSON array) that cannot be read."""
    with open(path, "rb") as handle:
        start = handle.read(1 << 12).removeprefix(BOM).lstrip()
    if start.startswith(b"["):
        try:
            json.loads(path.read_bytes().removeprefix(BOM).decode("utf-8"))
        except json.JSONDecodeError as err:
            return NlptlError(f"{path}: line {err.lineno}: invalid JSON ({err.msg}); fix that line")
        return None
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.removeprefix(BOM) if number == 1 else raw
            if raw.strip():
                _, problem = json_problem(raw, number)
                if problem:
                    return NlptlError(f"{path}: {problem}; write one JSON object per line")
    return None


def row_problem(where: str, reason: str, column: str | None = None) -> str:
    """`FILE: row N: empty text in column 'text'; fill it in or remove the row` (callers may add a policy)."""
    in_column = f" in column {column!r}" if column and "JSON" not in reason and "line" not in reason else ""
    fix = "fix that line" if "line" in reason else ROW_FIXES.get(reason, "fill it in or remove the row")
    return f"{where}: {reason}{in_column}; {fix}"


def missing_column(where: object, column: str, columns: list[str], fix: str) -> NlptlError:
    return NlptlError(f"{where} has no column {column!r} (columns: {', '.join(map(str, columns)) or 'none'}); {fix}")


def cause_chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def first_line(err: BaseException) -> str:
    """The most specific message in an exception chain (datasets wraps the parser's error)."""
    messages = [str(e).strip().splitlines()[0] for e in cause_chain(err) if str(e).strip()]
    return messages[-1] if messages else type(err).__name__


@contextmanager
def quiet_datasets() -> Iterator[None]:
    """`datasets` logs a failed file at ERROR level before raising; the translated error says it once."""
    logger = logging.getLogger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)

