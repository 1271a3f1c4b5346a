"""The Optuna study behind `nlptl tune`: its storage, sampler and pruner, and its recovery after a kill.

The study lives in a storage, not in the process: a SQLite file in the tune folder by default, or any Optuna
RDB URL (`postgresql://...`, `mysql://...`) that several `nlptl tune` processes on several machines share.
Every worker counts the study's finished trials, so `--trials N` is the study's total however many workers
there are and however often it was restarted. A trial interrupted by a kill (its worker's process is gone,
or on another machine its heartbeat stopped) is marked failed and queued again with the same settings; the
retry continues from the interrupted run's last checkpoint.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from nlptl.errors import NlptlError

logger = logging.getLogger(__name__)
FINISHED = ("COMPLETE", "PRUNED")
PRUNERS = ("median", "halving", "none")
HEARTBEAT_S, GRACE_S = 60, 180  # a trial whose worker stopped beating for GRACE_S is failed and retried
MAX_RETRIES = 3
SCHEMA_ATTEMPTS = 5  # workers started together race to create the storage's tables


def default_storage(root: Path) -> str:
    return f"sqlite:///{(root / 'study.db').resolve()}"


def make_storage(url: str) -> Any:
    """An RDB storage with heartbeats (a dead worker's trial is retried), or Optuna's own for other URLs."""
    import optuna

    if not url.startswith(("sqlite:", "postgresql", "mysql")):
        return optuna.storages.get_storage(url)
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            return rdb_storage(url)
        except (ImportError, ModuleNotFoundError) as err:
            raise NlptlError(f"--storage {url}: the database driver is not installed ({err})") from None
        except Exception as err:  # sqlalchemy's errors: unreachable server, bad credentials, bad URL
            if attempt + 1 < SCHEMA_ATTEMPTS and ("already exists" in str(err) or "UNIQUE constraint" in str(err)):
                time.sleep(0.5 + random.random())  # two workers created the tables at once: the other one won
                continue
            raise NlptlError(f"--storage {url}: cannot open the study storage ({str(err).splitlines()[0]})") from None
    raise AssertionError("unreachable")


def rdb_storage(url: str) -> Any:
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(MAX_RETRIES),
                          engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else None)


def make_pruner(name: str, startup_trials: int) -> Any:
    """median: stop a trial whose evaluation is worse than the median of earlier trials at the same step;
    halving: successive halving (asynchronous), which keeps the top share at each rung."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise NlptlError(f"--pruner {name}: choose from {', '.join(PRUNERS)}")


def open_study(storage: Any, name: str, direction: Any, pruner: Any, seed: int) -> Any:
    """Create the study or join it. The sampler's seed moves on with the study's size, so a restarted worker
    does not propose the trials it proposed before; workers started at the same moment need their own --seed."""
    import optuna

    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=direction, pruner=pruner,
                                    load_if_exists=True)
    except ValueError as err:  # joining a study of the other direction
        raise NlptlError(f"--study {name}: {err}; use another --study name or the study's own --direction") from None
    if study.direction.name.lower() != direction:
        raise NlptlError(f"--study {name} was created to {study.direction.name.lower()} its metric; "
                         f"rerun with --direction {study.direction.name.lower()[:3]} or use another --study")
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=5)
    return study


def claim(trial: Any) -> None:
    """Mark a running trial as this process's, so a later `nlptl tune` can tell that it was killed."""
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_interrupted(study: Any, storage: Any) -> list[int]:
    """Fail and requeue this machine's RUNNING trials whose process is gone (a killed `nlptl tune`); returns
    their numbers. Trials of other machines are left to the heartbeat."""
    from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    host, recovered = socket.gethostname(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") != host or not isinstance(pid, int) or process_alive(pid):
            continue
        try:
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # another worker recovered it first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            RetryHeartbeatStaleTrialCallback(MAX_RETRIES)(study, trial)
        recovered.append(trial.number)
    if recovered:
        logger.info("trial(s) %s were interrupted (their process is gone): marked failed and queued again",
                    ", ".join(map(str, recovered)))
    return recovered


def finished_count(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=tuple(TrialState[s] for s in FINISHED)))
