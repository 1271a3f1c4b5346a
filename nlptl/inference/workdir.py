"""Resumable progress of one prediction run: a hidden folder next to the output with a manifest and one
parquet part per finished chunk.

A part is written whole (temp file + rename), so after a crash every part present is complete and a resumed
run redoes only the missing chunks. The manifest records everything that shapes the output (input files,
model, settings); resuming with anything different is refused rather than mixing two runs in one file.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nlptl.errors import NlptlError
from nlptl.io import atomic_path, write_json

logger = logging.getLogger("nlptl")
PART = re.compile(r"part-(\d{8})\.parquet")


class WorkDir:
    def __init__(self, output: Path) -> None:
        self.path = output.parent / f".{output.name}.nlptl-predict"
        self.manifest_path = self.path / "manifest.json"

    def start(self, manifest: dict[str, Any], resume: bool, overwrite: bool) -> None:
        """Create the folder, or check that the run being resumed is this same run."""
        manifest = json.loads(json.dumps(manifest))  # the form it has once read back from disk
        if self.path.exists():
            if resume:
                self.check_same(manifest)
                logger.info("resuming: %d finished chunk(s) in %s", len(self.finished()), self.path)
                return
            if not overwrite:
                raise NlptlError(f"an interrupted prediction run left {self.path}; continue it with --resume, "
                                 "or start over with --overwrite")
            shutil.rmtree(self.path)
        elif resume:
            logger.info("nothing to resume in %s; starting from the first row", self.path)
        self.path.mkdir(parents=True)
        write_json(self.manifest_path, manifest)

    def check_same(self, manifest: dict[str, Any]) -> None:
        try:
            saved = json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            raise NlptlError(f"{self.path} has no readable manifest.json; start over with --overwrite") from None
        changed = sorted(key for key in manifest.keys() | saved.keys() if manifest.get(key) != saved.get(key))
        if changed:
            raise NlptlError(f"cannot resume: {', '.join(changed)} differ(s) from the interrupted run in {self.path}; "
                             "resume with the same input, model and options, or start over with --overwrite")

    def part(self, index: int) -> Path:
        return self.path / f"part-{index:08d}.parquet"

    def finished(self) -> set[int]:
        return {int(m.group(1)) for p in self.path.iterdir() if (m := PART.fullmatch(p.name))}

    def write_part(self, index: int, table: pa.Table) -> None:
        with atomic_path(self.part(index)) as tmp:
            pq.write_table(table, tmp)

    def parts(self, count: int) -> list[Path]:
        """The parts of chunks 0..count-1 in order; a missing one means a process failed."""
        missing = [i for i in range(count) if not self.part(i).exists()]
        if missing:
            raise NlptlError(f"{len(missing)} chunk(s) have no result in {self.path} (first: {missing[0]}); "
                             "a process stopped early: rerun with --resume")
        return [self.part(i) for i in range(count)]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
