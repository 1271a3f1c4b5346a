"""The bad-input corpus's harness: run a command in-process the way a user would, and check that it failed the
way the project promises: exit code 2, one or two lines of error, no traceback, the culprit named, and the
watched folder byte-for-byte as before (nothing written, nothing lost).

    failure = expect_clean_failure(["train", str(recipe)], capsys, watch=tmp_path, names=["train.lrr"])

`watch` is the folder whose bytes must not change (the output dir, or the parent an output would have gone
into); `kept` lists names that may appear under it because the message tells the user to resume from them.
Unwritable places are simulated without chmod (tests run as root, which chmod does not stop): by a path under a
regular file, or by `read_only()` / `disk_full()` patches.
"""

from __future__ import annotations

import builtins
import errno
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from nlptl.cli import main as cli_main

ERROR_PREFIX = "nlptl: error:"


@dataclass
class Failure:
    code: object
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """The error message: from the `nlptl: error:` line to the end (log lines before it are not the error)."""
        lines = self.stderr.rstrip("\n").splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(ERROR_PREFIX)]
        return lines[starts[-1]:] if starts else lines

    @property
    def message(self) -> str:
        return " ".join(self.error_lines)


def snapshot(folder: Path, kept: Sequence[str] = ()) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under `folder`, by relative path; names in `kept` skipped."""
    if not folder.exists():
        return {}
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in kept for part in relative.parts):
            continue
        found[relative.as_posix()] = None if path.is_dir() else path.read_bytes()
    return found


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str],
            call: Callable[[list[str]], object] = cli_main) -> Failure:
    """Run `nlptl ARGV` in-process; the exit code (None if it returned) and what it printed to stderr."""
    capsys.readouterr()
    code: object = None
    try:
        call(argv)
    except SystemExit as stop:
        code = stop.code
    return Failure(code, capsys.readouterr().err)


def expect_clean_failure(argv: list[str], capsys: pytest.CaptureFixture[str], *, watch: Path,
                         names: Sequence[str], kept: Sequence[str] = (),
                         call: Callable[[list[str]], object] = cli_main) -> Failure:
    """Run and assert the promise of every user error (see the module doc); returns the failure."""
    before = snapshot(watch, kept)
    failure = run_cli(argv, capsys, call)
    assert failure.code == 2, f"exit code {failure.code!r}, stderr:\n{failure.stderr[-3000:]}"
    assert "Traceback" not in failure.stderr, failure.stderr[-3000:]
    assert failure.error_lines and failure.error_lines[0].startswith(ERROR_PREFIX), failure.stderr[-3000:]
    assert 1 <= len(failure.error_lines) <= 2, failure.error_lines
    for name in names:
        assert str(name) in failure.message, f"{name!r} not named in: {failure.message}"
    after = snapshot(watch, kept)
    assert after.keys() == before.keys(), f"files appeared or vanished: {sorted(after.keys() ^ before.keys())}"
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"files changed: {changed}"
    return failure


def _under(path: object, folder: Path) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(folder.resolve())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@contextmanager
def read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Iterator[None]:
    """Writes under `folder` fail with EROFS, as on a read-only mount (creating, opening for writing, renaming,
    deleting); reading works. Python-level: C++/Rust writers (torch.save, safetensors) are not intercepted."""
    def refuse(path: object) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))  # type: ignore[arg-type]

    real_open, real_os_open = builtins.open, os.open
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, str | bytes | os.PathLike) and any(c in mode for c in "wax+") and _under(file, folder):
            raise refuse(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & write_flags and _under(path, folder):
            raise refuse(path)
        return real_os_open(path, flags, *args, **kwargs)

    def guard(patch: pytest.MonkeyPatch, name: str, arguments: int) -> None:
        real = getattr(os, name)

        def guarded(*args, **kwargs):
            for path in args[:arguments]:
                if _under(path, folder):
                    raise refuse(path)
            return real(*args, **kwargs)
        patch.setattr(os, name, guarded)

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", guarded_open)
        patch.setattr(os, "open", guarded_os_open)
        for name, arguments in (("mkdir", 1), ("replace", 2), ("rename", 2), ("unlink", 1), ("remove", 1),
                                ("rmdir", 1)):
            guard(patch, name, arguments)
        yield


def disk_full(after_bytes: int = 100) -> Callable[..., object]:
    """A stand-in for `open(...)` whose files take `after_bytes` bytes and then raise ENOSPC, as a full disk."""
    real_open = builtins.open

    class FullFile:
        def __init__(self, handle) -> None:
            self.handle, self.left = handle, after_bytes

        def write(self, data):
            if len(data) > self.left:
                self.handle.write(data[:self.left])
                self.left = 0
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.left -= len(data)
            return self.handle.write(data)

        def __getattr__(self, name: str):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

    def full_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return FullFile(handle) if any(c in mode for c in "wax+") else handle

    return full_open
