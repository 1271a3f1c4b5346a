"""Checkpoint folders (`accelerator.save_state` + the loop state) and the loop state that must survive a restart.

A checkpoint is written into a hidden staging folder and renamed to `checkpoints/step-NNNNNNN` only once every
file is in it, so a process killed mid-write (or a full disk) leaves a `.partial-*` folder that is never
resumed from: `--resume latest` takes the newest complete checkpoint. The loop state is JSON (`loop_state.json`,
written last): nothing in a checkpoint is unpickled beyond what `torch.load(weights_only=True)` allows.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nlptl.errors import NlptlError
from nlptl.io import write_json

CHECKPOINTS = "checkpoints"
LOOP_STATE = "loop_state.json"  # written last: its presence marks a complete checkpoint
LEGACY_LOOP_STATE = "custom_checkpoint_0.pkl"  # checkpoints of earlier nlptl versions (accelerate's custom state)
PARTIAL = ".partial-"  # staging folders of checkpoints being written
DELETING = ".deleting-"  # old checkpoints being removed

logger = logging.getLogger(__name__)


@dataclass
class LoopState:
    """Where the loop is; saved in every checkpoint so `--resume` continues exactly."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    batches_in_epoch: int = 0  # micro-batches of `epoch` already consumed
    best_metric: float | None = None
    best_checkpoint: str | None = None
    evals_without_improvement: int = 0
    samples_seen: int = 0
    first_losses: list[float] = field(default_factory=list)  # per-step training losses (learning_check)
    recent_losses: list[float] = field(default_factory=list)

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / CHECKPOINTS / f"step-{step:07d}"


def staging_dir(path: Path) -> Path:
    return path.parent / f"{PARTIAL}{path.name}"


def is_complete(path: Path) -> bool:
    return (path / LOOP_STATE).is_file() or (path / LEGACY_LOOP_STATE).is_file()


def list_checkpoints(output_dir: Path) -> list[Path]:
    """The complete checkpoints of a run, oldest first (staging and half-deleted folders are not listed)."""
    folder = output_dir / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step-") and is_complete(p))


def find_resume_checkpoint(resume: str, output_dir: Path) -> Path:
    """`latest` -> the newest complete checkpoint of this output dir; otherwise a checkpoint folder path."""
    if resume == "latest":
        found = list_checkpoints(output_dir)
        if not found:
            raise NlptlError(f"--resume: no complete checkpoint in {output_dir / CHECKPOINTS} (the run stopped "
                             "before its first one); start it again with --overwrite_output_dir true")
        return found[-1]
    path = Path(resume)
    if not path.is_dir() or not is_complete(path):
        example = checkpoint_dir(output_dir, 100)
        raise NlptlError(f"--resume {resume}: not a complete checkpoint folder (expected a folder like {example} "
                         f"holding {LOOP_STATE})")
    return path


def save_loop_state(path: Path, state: LoopState) -> None:
    write_json(path / LOOP_STATE, state.state_dict())


def load_loop_state(path: Path, state: LoopState) -> None:
    """The loop state of a checkpoint: JSON, or (earlier versions) a tensor-free torch file read with
    weights_only=True."""
    if (path / LOOP_STATE).is_file():
        state.load_state_dict(json.loads((path / LOOP_STATE).read_text()))
        return
    import torch

    state.load_state_dict(torch.load(path / LEGACY_LOOP_STATE, map_location="cpu", weights_only=True))


@contextmanager
def accelerate_view(path: Path) -> Iterator[Path]:
    """The folder to give `accelerator.load_state`: the checkpoint itself, or for an earlier version's checkpoint a
    view of it without the pickled loop state (accelerate would unpickle it with weights_only=False; nlptl reads it
    with weights_only=True)."""
    if not (path / LEGACY_LOOP_STATE).exists():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="nlptl-checkpoint-") as view:
        for item in path.iterdir():
            if item.name != LEGACY_LOOP_STATE:
                (Path(view) / item.name).symlink_to(item.resolve())
        yield Path(view)


def publish(staging: Path, path: Path) -> None:
    """Move a fully written staging folder to its final name (replacing an older folder of that name)."""
    if path.exists():
        remove(path)
    os.replace(staging, path)


def remove(path: Path) -> None:
    """Rename first, then delete: a kill mid-delete leaves a hidden folder, never a damaged `step-*` one."""
    doomed = path.parent / f"{DELETING}{path.name}"
    shutil.rmtree(doomed, ignore_errors=True)
    os.replace(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def rotate(output_dir: Path, keep: int, protect: str | None) -> None:
    """Delete old step checkpoints beyond `keep`, never the best one; clear leftovers of interrupted writes."""
    folder = output_dir / CHECKPOINTS
    for leftover in folder.glob(f"{PARTIAL}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in folder.glob(f"{DELETING}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    found = list_checkpoints(output_dir)
    for path in found[:-max(keep, 1)]:
        if protect and Path(protect).resolve() == path.resolve():
            continue
        remove(path)
