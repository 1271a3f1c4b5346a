"""Load the raw splits of a data set: a Hub id, a local directory holding one file per split, or one file.

Tabular files go through a `datasets` builder; CoNLL text files (one token per line, tag in the last column)
through `nlptl.data.conll`, whose errors name the file and line.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from nlptl import mirrors
from nlptl.data.conll import read_conll_dataset
from nlptl.errors import NlptlError

# File extension -> (datasets builder, extra builder arguments)
BUILDERS: dict[str, tuple[str, dict]] = {
    ".parquet": ("parquet", {}),
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"delimiter": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
}
CONLL = "conll"
# CoNLL-style token-per-line files (not .conllu/.conllx: their tag is not in the last column)
CONLL_SUFFIXES = (".conll", ".iob", ".iob1", ".iob2", ".bio", ".txt")


def file_format(path: Path) -> str | None:
    """The builder name for a data file (`conll` for CoNLL text), or None when it is not a data file."""
    if path.suffix in CONLL_SUFFIXES:
        return CONLL
    return BUILDERS[path.suffix][0] if path.suffix in BUILDERS else None


def split_name(path: Path) -> str:
    """`train.parquet` and `train-00000-of-00002.parquet` both belong to the split `train`."""
    return path.name.split(".")[0].split("-")[0]


def data_files_of(directory: Path) -> list[Path]:
    """The data files directly in `directory`; `.txt` files count only when nothing else does (notes, READMEs)."""
    found = [p for p in sorted(directory.iterdir()) if p.is_file() and file_format(p)]
    others = [p for p in found if p.suffix != ".txt"]
    return others or found


def data_files_in(directory: Path) -> dict[str, list[str]]:
    """Group the data files of a directory (or its `data/` subfolder, as Hub snapshots have) by split."""
    candidates = data_files_of(directory)
    if not candidates and (directory / "data").is_dir():
        candidates = data_files_of(directory / "data")
    files: dict[str, list[str]] = {}
    for path in candidates:
        files.setdefault(split_name(path), []).append(str(path))
    return files


def builder_for(files: list[str], where: str) -> tuple[str, dict]:
    kinds = {file_format(Path(f)) for f in files}
    if len(kinds) != 1:
        raise NlptlError(f"{where}: mixes file formats ({', '.join(sorted(map(str, kinds)))}); "
                         "use one format per data set")
    if kinds == {CONLL}:
        return CONLL, {}
    return BUILDERS[Path(files[0]).suffix]


def load_conll(files: dict[str, list[str]]) -> datasets.DatasetDict:
    """CoNLL files per split -> `tokens`, string `ner_tags` and the file/line of each token."""
    return datasets.DatasetDict({split: read_conll_dataset(paths) for split, paths in files.items()})


def load_local(path: Path, cache_dir: str | None) -> datasets.DatasetDict:
    if path.is_dir():
        if (path / "dataset_dict.json").exists() or (path / "dataset_info.json").exists():
            loaded = datasets.load_from_disk(str(path))
            return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict(train=loaded)
        files = data_files_in(path)
        if not files:
            raise NlptlError(
                f"{path}: no data files found; expected one file per split such as train.parquet, "
                f"validation.csv, test.jsonl, train.conll ({', '.join((*BUILDERS, *CONLL_SUFFIXES))})"
            )
    elif file_format(path):
        files = {"train": [str(path)]}
    else:
        raise NlptlError(f"{path}: unsupported file type {path.suffix!r}; "
                         f"use one of {', '.join((*BUILDERS, *CONLL_SUFFIXES))}")
    builder, kwargs = builder_for([f for group in files.values() for f in group], str(path))
    if builder == CONLL:
        return load_conll(files)
    try:
        return datasets.load_dataset(builder, data_files=files, cache_dir=cache_dir, **kwargs)
    except (ValueError, OSError, datasets.exceptions.DatasetGenerationError) as err:
        raise NlptlError(f"cannot read data files in {path}: {str(err).splitlines()[0]}") from None


def load_raw_splits(source: str, config_name: str | None, recipe_mirrors: dict[str, str],
                    cache_dir: str | None) -> datasets.DatasetDict:
    """Every split the source has, untouched."""
    resolved = mirrors.resolve(source, recipe_mirrors)
    if mirrors.is_local(resolved):
        return load_local(Path(resolved), cache_dir)
    try:
        return datasets.load_dataset(resolved, config_name, cache_dir=cache_dir)
    except Exception as err:  # the Hub client raises many types; all mean "not reachable / not found"
        raise mirrors.hub_error("data set", source, err) from None
