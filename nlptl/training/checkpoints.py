"""Checkpoint folders (`accelerator.save_state`) and the loop state that must survive a restart."""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nlptl.errors import NlptlError

CHECKPOINTS = "checkpoints"


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


def list_checkpoints(output_dir: Path) -> list[Path]:
    folder = output_dir / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step-"))


def find_resume_checkpoint(resume: str, output_dir: Path) -> Path:
    """`latest` -> the newest checkpoint of this output dir; otherwise a checkpoint folder path."""
    if resume == "latest":
        found = list_checkpoints(output_dir)
        if not found:
            raise NlptlError(f"--resume: no checkpoint in {output_dir / CHECKPOINTS}; run without --resume")
        return found[-1]
    path = Path(resume)
    if not any(path.glob("custom_checkpoint_*")):
        example = checkpoint_dir(output_dir, 100)
        raise NlptlError(f"--resume {resume}: not a checkpoint folder (expected a folder like {example})")
    return path


def rotate(output_dir: Path, keep: int, protect: str | None) -> None:
    """Delete old step checkpoints beyond `keep`, never the best one."""
    found = list_checkpoints(output_dir)
    for path in found[:-max(keep, 1)]:
        if protect and Path(protect).resolve() == path.resolve():
            continue
        shutil.rmtree(path, ignore_errors=True)
