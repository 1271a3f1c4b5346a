"""What a data source is: one file, a directory with one file per split, or a `save_to_disk` folder; and the
format of each file (by its suffix)."""

from __future__ import annotations

from pathlib import Path

# suffix -> format; `csv` covers tsv (the separator differs), `json` covers JSON Lines and JSON arrays
FORMATS = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json"}
CONLL = "conll"
# CoNLL-style token-per-line files for training (not .conllu/.conllx: their tag is not in the last column)
CONLL_SUFFIXES = (".conll", ".iob", ".iob1", ".iob2", ".bio", ".txt")
SUFFIXES = (*FORMATS, *CONLL_SUFFIXES)


def separator(path: Path) -> str:
    return "\t" if path.suffix == ".tsv" else ","


def file_format(path: Path) -> str | None:
    """`parquet`, `csv`, `json`, `conll` (training reads `.txt` as CoNLL), or None for other files."""
    if path.suffix in CONLL_SUFFIXES:
        return CONLL
    return FORMATS.get(path.suffix)


def is_saved_dataset(path: Path) -> bool:
    """A folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk`."""
    return (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists()


def split_name(path: Path) -> str:
    """`train.parquet` and `train-00000-of-00002.parquet` both belong to the split `train`."""
    return path.name.split(".")[0].split("-")[0]


def data_files_of(directory: Path) -> list[Path]:
    """The data files directly in `directory`; `.txt` files count only when nothing else does (notes, READMEs)."""
    found = [p for p in sorted(directory.iterdir()) if p.is_file() and file_format(p)]
    others = [p for p in found if p.suffix != ".txt"]
    return others or found


def data_files_in(directory: Path) -> dict[str, list[Path]]:
    """The data files of a directory (or of its `data/` subfolder, as Hub snapshots have), by split."""
    candidates = data_files_of(directory)
    if not candidates and (directory / "data").is_dir():
        candidates = data_files_of(directory / "data")
    files: dict[str, list[Path]] = {}
    for path in candidates:
        files.setdefault(split_name(path), []).append(path)
    return files


def one_format(paths: list[Path], where: object) -> str:
    """The format all `paths` share; mixing formats in one data set is an error."""
    from nlptl.errors import NlptlError

    kinds = {p.suffix if p.suffix in (".csv", ".tsv") else (file_format(p) or p.suffix) for p in paths}
    if len(kinds) != 1:
        raise NlptlError(f"{where}: mixes file formats ({', '.join(sorted(kinds))}); use one format per data set")
    return file_format(paths[0]) or paths[0].suffix
