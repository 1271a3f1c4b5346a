"""The one reader: every bad data file fails the same way in `nlptl train` and `nlptl predict` (exit code 2, one
line naming the file and the line/row, no traceback, the output left as it was); BOM, CRLF and header-less files
with named columns work.

Each case of BAD_FILES is one entry of the issue-13 bad-input corpus per command it runs under.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import tiny_recipe
from predict_helpers import trained_tiny_run

from nlptl.cli import main as cli_main
from nlptl.data.files.load import load_raw_splits
from nlptl.recipe import recipe_to_yaml

TRAIN_ROWS = "".join(f"{'good' if i % 2 else 'bad'} film number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(12))
GOOD_CSV = ("text,label\n" + TRAIN_ROWS).encode()  # used as the train split where the bad file is another split


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def jsonl(*records: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


# name -> (files, extra train options, the error (regex) both commands show, predict's error if it differs;
#          None: the case does not apply to predict, e.g. labels)
BAD_FILES: dict[str, tuple[dict[str, bytes], list[str], str, str | None]] = {
    "headerless-tsv-split-files": (
        {"train.tsv": b"2\tWall St. Bears Claw Back Into the Black (Reuters)\n1\tCarlyle Looks Toward Commercial\n",
         "test.tsv": b"1\tFears for T N pension after talks with unions\n2\tThe Race is On: Second Private\n"}, [],
        r"test.tsv: the first row looks like data, not a header \('1' is a number\): set data.column_names .*"
        r"--data.column_names label,text", r"--column-names column1,text"),
    "headerless-csv-sentence-cell": (
        {"train.csv": csv("this movie was a waste of two hours of my life,neg", "great,pos", "awful,neg")}, [],
        r"train.csv: the first row looks like data, not a header \('this movie was a waste of two.*reads like a text",
        r"--column-names"),
    "column-names-wrong-count": (
        {"train.csv": csv("1,great film,x", "0,awful film,y")}, ["--data.column_names", "label,text"],
        r"train.csv has 3 columns but data.column_names names 2 \(label, text\)", None),
    "column-names-on-a-file-with-header": (
        {"train.csv": csv("label,text", "1,great film", "0,awful film")}, ["--data.column_names", "label,text"],
        r"train.csv: the first line is a header \(label, text\) but data.column_names is set", None),
    "undecodable-bytes-csv": (
        {"train.csv": b"text,label\ngood film,pos\ncaf\xe9 awful,neg\n"}, [],
        r"train.csv: line 3: bytes that are not UTF-8 \(0xe9 at character 4\); re-save the file as UTF-8",
        r"train.csv: row 2: undecodable bytes in column 'text'; re-save the file as UTF-8, or pass --bad-rows skip"),
    "undecodable-bytes-jsonl": (
        {"train.jsonl": b'{"text": "good film", "label": "pos"}\n{"text": "bad \xff film", "label": "neg"}\n'}, [],
        r"train.jsonl: line 2: bytes that are not UTF-8 \(0xff at character 15\)",
        r"train.jsonl: row 2: undecodable bytes in column 'text'"),
    "ragged-row": (
        {"train.csv": csv("text,label", "good film,pos", "bad, boring film,neg", "fine,pos")}, [],
        r"train.csv: line 3 has 3 fields where the first line has 2 \(a ragged row\); quote a cell that holds the "
        r"separator \(','\)", None),
    "ragged-row-tsv": (
        {"train.tsv": b"text\tlabel\ngood film\tpos\nbad film\tneg\textra\n"}, [],
        r"train.tsv: line 3 has 3 fields where the first line has 2 .*separator \(tab\)", None),
    "unclosed-quote": (
        {"train.csv": csv("text,label", "good film,pos", '"bad film,neg', "fine,pos")}, [],
        r'train.csv: line 3: a quote \(\"\) opened here is never closed', None),
    "empty-csv": ({"train.csv": b""}, [], r"train.csv is empty", None),
    "only-a-bom-and-blank-lines": ({"train.csv": b"\xef\xbb\xbf\r\n\n"}, [], r"train.csv is empty", None),
    "empty-jsonl": ({"train.jsonl": b"\n"}, [], r"train.jsonl is empty", None),
    "header-but-no-rows": (
        {"train.csv": csv("text,label")}, [], r"train.csv has a single line \(text, label\): a header with no rows",
        None),
    "empty-text": (
        {"train.csv": csv("text,label", "good film,pos", "  ,neg", "fine,pos")}, [],
        r"train.csv: row 2: empty text in column 'text'; fill it in or remove the row", None),
    "null-text-jsonl": (
        {"train.jsonl": jsonl({"text": "good", "label": "pos"}, {"text": None, "label": "neg"})}, [],
        r"train.jsonl: row 2: null text in column 'text'; fill it in or remove the row", None),
    "empty-label": (
        {"train.csv": csv("text,label", "good film,pos", "bad film,", "fine,pos")}, [],
        r"train.csv: row 2: empty label in column 'label'; fill it in or remove the row", None),
    "empty-label-in-test-split": (
        {"train.csv": GOOD_CSV, "test.csv": csv("text,label", "good film,pos", "ok film,pos", "bad film,")}, [],
        r"test.csv: row 3: empty label in column 'label'", None),
    "empty-label-in-second-shard": (
        {"train-00000-of-00002.csv": GOOD_CSV, "train-00001-of-00002.csv": csv("text,label", "good,pos", "bad,")}, [],
        r"train-00001-of-00002.csv: row 2: empty label in column 'label'", None),
    "mixed-label-types-jsonl": (
        {"train.jsonl": jsonl({"text": "good", "label": 1}, {"text": "bad", "label": "neg"},
                              {"text": "fine", "label": 1})}, [],
        r"train.jsonl: column 'label' mixes class ids and class names \(row 1: 1, row 2: 'neg'\)", None),
    "mixed-label-types-csv": (
        {"train.csv": csv("text,label", "good film,pos", "bad film,0", "fine,pos")}, [],
        r"train.csv: column 'label' mixes class ids and class names \(row 1: 'pos', row 2: '0'\)", None),
    "missing-text-column": (
        {"train.csv": csv("review,label", "good film,pos", "bad film,neg")}, [],
        r"train.csv has no column 'text' \(columns: review, label\); set data.text_column",
        r"train.csv has no column 'text' \(columns: review, label\); choose it with --text-column"),
    "missing-text-column-parquet": (
        {"train.parquet": b"parquet:review,label"}, [],
        r"train.parquet has no column 'text' \(columns: review, label\); set data.text_column",
        r"train.parquet has no column 'text' \(columns: review, label\); choose it with --text-column"),
    "missing-label-column": (
        {"train.csv": csv("text,stars", "good film,5", "bad film,1")}, [],
        r"train.csv: label column 'label' not in the train split \(columns: text, stars\); set data.label_column",
        None),
    "invalid-json-line": (
        {"train.jsonl": b'{"text": "good", "label": "pos"}\n{"text": "bad", "label": "neg"\n'}, [],
        r"train.jsonl: invalid JSON on line 2 \(Expecting ',' delimiter\); write one JSON object per line",
        r"train.jsonl: row 2: invalid JSON on line 2 \(Expecting ',' delimiter\); fix that line, or pass --bad-rows"),
    "split-files-with-different-headers": (
        {"train.csv": GOOD_CSV, "test.csv": csv("text,stars", "good film,pos")}, [],
        r"train.csv: its columns \(text, label\) differ from those of .*test.csv \(text, stars\)", None),
    "mixed-formats": (
        {"train.csv": GOOD_CSV, "test.jsonl": jsonl({"text": "good", "label": "pos"})}, [],
        r"mixes file formats \(.csv, json\)", None),
    "unsupported-file-type": ({"train.xlsx": b"PK"}, [], r"train.xlsx: unsupported file type '.xlsx'",
                              r"train.xlsx: unsupported input type '.xlsx'"),
}
PREDICT_CASES = ["headerless-tsv-split-files", "headerless-csv-sentence-cell", "undecodable-bytes-csv",
                 "undecodable-bytes-jsonl", "ragged-row", "ragged-row-tsv", "unclosed-quote", "empty-csv",
                 "only-a-bom-and-blank-lines", "empty-jsonl", "header-but-no-rows", "missing-text-column",
                 "missing-text-column-parquet", "invalid-json-line", "unsupported-file-type"]


def write_files(files: dict[str, bytes], where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if content.startswith(b"parquet:"):
            columns = content.decode().split(":")[1].split(",")
            pd.DataFrame({c: ["good film", "bad film"] for c in columns}).to_parquet(where / name)
        else:
            (where / name).write_bytes(content)
    return where


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (hidden ones included) with its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def one_line_error(capsys, pattern: str) -> str:
    """Exactly one `nlptl: error:` line, the last thing written, matching `pattern`; no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("nlptl: error:")]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err[-2000:]
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def exits_with_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli_main(argv)
    assert stop.value.code == 2


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    """The tiny recipe as a saved recipe.yaml, trained by `nlptl train FILE --data.source ...`."""
    path = tmp_path_factory.mktemp("reader-recipe") / "recipe.yaml"
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, path.parent / "unused", epochs=1)
    recipe.data.label_names = None
    path.write_text(recipe_to_yaml(recipe))
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    return trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)


def existing_output_dir(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("kept as it is\n")
    (out / "predictions.csv").write_text("text,label\nold,pos\n")
    return out, snapshot(out)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_train_names_the_file_and_line_and_changes_nothing(case, recipe_file, tmp_path, capsys):
    files, options, message, _ = BAD_FILES[case]
    data = write_files(files, tmp_path / "data")
    source = data / next(iter(files)) if len(files) == 1 else data
    out, before = existing_output_dir(tmp_path)
    exits_with_2(["train", str(recipe_file), "--data.source", str(source), "--output-dir", str(out), *options])
    one_line_error(capsys, message)
    assert snapshot(out) == before


@pytest.mark.parametrize("case", PREDICT_CASES)
def test_predict_names_the_file_and_row_and_changes_nothing(case, run_dir, tmp_path, capsys):
    files, _, message, predict_message = BAD_FILES[case]
    data = write_files(files, tmp_path / "data")
    source = data / next(iter(files))
    out, before = existing_output_dir(tmp_path)
    exits_with_2(["predict", str(run_dir), str(source), "--output", str(out / "predictions.csv"), "--overwrite",
                  "--no-progress", "--prefix", "pred_"])
    one_line_error(capsys, predict_message or message)
    assert snapshot(out) == before


@pytest.mark.parametrize("command", ["train", "predict"])
def test_a_model_path_that_does_not_exist_is_no_such_directory(command, recipe_file, tiny_data_dir, tmp_path,
                                                               capsys):
    out, before = existing_output_dir(tmp_path)
    if command == "train":
        exits_with_2(["train", str(recipe_file), "--model.name", "/nonexistent/dir", "--output-dir", str(out)])
    else:
        exits_with_2(["predict", "/nonexistent/dir", str(tiny_data_dir / "test.parquet"), "--output",
                      str(out / "predictions.csv"), "--overwrite"])
    one_line_error(capsys, r"no such directory: /nonexistent/dir \(a local path")
    assert snapshot(out) == before


@pytest.mark.parametrize("command", ["train", "predict"])
def test_a_data_path_that_does_not_exist_is_no_such_file(command, recipe_file, run_dir, tmp_path, capsys):
    out, before = existing_output_dir(tmp_path)
    missing = str(tmp_path / "nothing" / "train.csv")
    if command == "train":
        exits_with_2(["train", str(recipe_file), "--data.source", missing, "--output-dir", str(out)])
    else:
        exits_with_2(["predict", str(run_dir), missing, "--output", str(out / "predictions.csv"), "--overwrite"])
    one_line_error(capsys, rf"no such file: {re.escape(missing)}")
    assert snapshot(out) == before


# --- what works: BOM, CRLF, header-less files with named columns -------------------------------------------------

def test_bom_and_crlf_are_read_as_plain_utf8(tmp_path):
    (tmp_path / "train.csv").write_bytes(b"\xef\xbb\xbftext,label\r\ngood film,pos\r\nbad film,neg\r\n")
    (tmp_path / "more.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "fine", "label": "pos"}\r\n')
    train = load_raw_splits(str(tmp_path / "train.csv"), None, {}, str(tmp_path / "cache"), text_columns=["text"])
    assert train["train"].column_names == ["text", "label"]  # not "\ufefftext"
    assert train["train"]["label"] == ["pos", "neg"]  # not "neg\r"
    more = load_raw_splits(str(tmp_path / "more.jsonl"), None, {}, str(tmp_path / "cache"), text_columns=["text"])
    assert more["train"]["text"] == ["fine"]


def test_cells_are_kept_as_written(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\nNA,pos\nNone,neg\n")
    splits = load_raw_splits(str(tmp_path / "train.csv"), None, {}, str(tmp_path / "cache"), text_columns=["text"])
    assert splits["train"]["text"] == ["NA", "None"]  # pandas would have made both missing


def test_headerless_tsv_trains_with_column_names(recipe_file, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [f"{'pos' if i % 2 else 'neg'}\t{'good' if i % 2 else 'bad'} film number {i}" for i in range(40)]
    (data / "train.tsv").write_text("\n".join(rows[:32]) + "\n")
    (data / "test.tsv").write_text("\n".join(rows[32:]) + "\n")
    out = tmp_path / "run"
    cli_main(["train", str(recipe_file), "--data.source", str(data), "--data.column_names", "label,text",
              "--output-dir", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["num_examples"] == 8


def test_predict_reads_bom_crlf_and_headerless_files_with_column_names(run_dir, tmp_path):
    from nlptl.inference.files import predict_file

    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfid,text\r\n1,good film\r\n2,bad film\r\n")
    (tmp_path / "plain.tsv").write_bytes(b"1\tgood film\n2\tbad film\n")
    (tmp_path / "bom.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "good film"}\r\n{"text": "bad film"}\r\n')
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfgood film\r\nbad film\r\n")
    results = {}
    for name, names in (("bom.csv", None), ("plain.tsv", ["id", "text"]), ("bom.jsonl", None), ("bom.txt", None)):
        out = tmp_path / f"{name}.jsonl"
        predict_file(run_dir, str(tmp_path / name), out, column_names=names, progress=False)
        results[name] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in results["bom.csv"]] == ["good film", "bad film"] and "id" in results["bom.csv"][0]
    assert [r["id"] for r in results["plain.tsv"]] == ["1", "2"]
    labels = {name: [r["label"] for r in rows] for name, rows in results.items()}
    assert len({tuple(v) for v in labels.values()}) == 1  # the same two texts, the same labels everywhere
