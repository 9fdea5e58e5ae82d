"""The state of Slurm runs in the run registry, from the queue (one squeue call for all of them).

A Slurm run's state comes from its job while the job is in the queue (PENDING -> "starting" with the
reason kept on the view, RUNNING/COMPLETING -> "running"), then from the exit code the batch script
wrote, then from the record (stopped); a job that left the queue without an exit code is "lost"
(cancelled by someone else, node failure, time limit before the script could write it).
The queue is read at most every ``min_interval`` seconds per process (the controller is shared).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.core.runs.runctl import derive_slurm_state
from ftmllm_tui.core.slurm.query import Job, SlurmError, available, read_jobs

_lock = threading.Lock()
_cache: dict[tuple[str, ...], tuple[float, dict[str, Job] | None, str | None]] = {}


def queue_jobs(job_ids: Iterable[str], *, env: Mapping[str, str] | None = None,
               min_interval: float = 5.0) -> tuple[dict[str, Job] | None, str | None]:
    """({job id: Job} of the given jobs still queued, None) or (None, why the queue is unreadable)."""
    ids = tuple(sorted(set(job_ids)))
    if not ids:
        return {}, None
    now = time.monotonic()
    with _lock:
        hit = _cache.get(ids)
        if hit is not None and now - hit[0] < min_interval:
            return hit[1], hit[2]
    if not available(env):
        res: tuple[dict[str, Job] | None, str | None] = (None, "Slurm runs are recorded but squeue is not "
                                                         "on PATH here: run this on the cluster's login node")
    else:
        try:
            res = (read_jobs(ids, env=env), None)
        except SlurmError as e:
            if "invalid job id" in str(e).lower():  # every one of them ended long ago
                res = ({}, None)
            else:
                res = (None, str(e))
    with _lock:
        _cache[ids] = (time.monotonic(), res[0], res[1])
    return res


def forget_cache() -> None:
    with _lock:
        _cache.clear()


def derive_state(rec: RunRecord, *, exit_code: int | None, job: Job | None, queue_ok: bool,
                 local_alive: bool = False) -> str:
    return derive_slurm_state(rec, exit_code=exit_code, job_state=job.state if job else None, queue_ok=queue_ok,
                              local_alive=local_alive)
