"""Atomic writes: a reader (or a crash) never sees a half-written output file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nlptl.errors import NlptlError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; outputs should read like any other file
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_writable(folder: Path, what: str, fix: str) -> None:
    """Write (then remove) a probe file in `folder`, or in its nearest existing parent when it is still to be
    created (nothing is created): an unwritable or full place is a clear error before any work is done, not a
    traceback after it."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, f"{existing} is a file, not a directory")
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".nlptl-write-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise NlptlError(f"cannot write to the {what} {folder}: {os_reason(err)}; {fix}") from None


def os_reason(err: OSError) -> str:
    """An OSError in a few words, without the path that the message names anyway."""
    return err.strerror or str(err) or type(err).__name__


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def append_jsonl(path: Path, record: dict) -> None:
    """One line per call; a line is written whole by a single write."""
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")


@contextmanager
def atomic_dir_contents(target: Path) -> Iterator[Path]:
    """Yield a scratch directory; on success each file in it is moved into `target` by rename."""
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target, prefix=".staging-"))
    try:
        yield scratch
        for item in sorted(scratch.rglob("*")):
            if item.is_file():
                destination = target / item.relative_to(scratch)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, destination)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def link_or_copy(source: str, destination: str) -> None:
    """A hard link where the file system allows (model weights are large and never edited in place), else a copy."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def copy_tree_linked(source: Path, destination: Path, skip: tuple[str, ...] = ()) -> None:
    """Copy a folder (files hard-linked where possible, `skip` glob patterns left out), replacing `destination`
    whole: a reader sees the old folder or the new one."""
    staging = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")  # two writers never share one
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(*skip), copy_function=link_or_copy)
    replace_dir(staging, destination)


def replace_dir(source: Path, destination: Path) -> None:
    """Move a finished folder into place, replacing an older one (another writer's too)."""
    for _ in range(3):
        shutil.rmtree(destination, ignore_errors=True)
        try:
            source.rename(destination)
            return
        except OSError:
            continue  # another process put its folder there in between: replace that one
    source.rename(destination)
