"""An `nlptl tune` worker process for tests/test_tune.py, with one deterministic fault or rendezvous instead of
racing a real one against the clock (a fast machine finishes a tiny trial between two polls):

    python tests/tune_worker.py kill-after-checkpoint TRIAL_DIR_NAME -- TUNE_ARGS...
        SIGKILLs itself right after the first checkpoint of that trial is published.
    python tests/tune_worker.py meet N FOLDER -- TUNE_ARGS...
        its first trial waits until N workers have each started one (files in FOLDER), so all of them run trials.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def kill_after_checkpoint(trial: str) -> None:
    import nlptl.training.trainer as trainer

    publish = trainer.publish

    def publish_then_die(staging: Path, path: Path) -> None:
        publish(staging, path)
        if path.parent.parent.name == trial:  # TRIAL/checkpoints/step-N
            os.kill(os.getpid(), signal.SIGKILL)

    trainer.publish = publish_then_die


def meet(workers: int, folder: Path) -> None:
    import nlptl.run

    train = nlptl.run.train
    met = []

    def train_after_meeting(recipe, **kwargs):
        if not met:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / str(os.getpid())).touch()
            deadline = time.monotonic() + 600
            while len(list(folder.iterdir())) < workers and time.monotonic() < deadline:
                time.sleep(0.05)
            met.append(True)
        return train(recipe, **kwargs)

    nlptl.run.train = train_after_meeting


if __name__ == "__main__":
    split = sys.argv.index("--")
    mode, args, tune_args = sys.argv[1], sys.argv[2:split], sys.argv[split + 1:]
    if mode == "kill-after-checkpoint":
        kill_after_checkpoint(args[0])
    else:
        meet(int(args[0]), Path(args[1]))
    from nlptl.cli import main

    main(["tune", *tune_args])
