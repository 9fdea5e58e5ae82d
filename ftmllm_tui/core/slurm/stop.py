"""Stop a Slurm run through Slurm: only Slurm can reach processes on compute nodes, and it enforces
that users cancel only their own jobs.

* pending job: ``scancel JOB``;
* running job: ``scancel --signal=INT --full JOB`` (SIGINT to every process of every step on every
  node, the batch shell included: torchrun forwards it to its workers as on one machine), wait
  ``grace_int`` for the job to leave the queue, then ``scancel JOB`` (Slurm's own SIGTERM, KillWait,
  SIGKILL) and wait until it is gone;
* stop and save: first ``srun --jobid=JOB --overlap`` one task per node running
  ``ftmllm-tui stop RUN --save-only`` there, which sends SIGABRT to the run's trainer processes
  (found by FTMLLM_RUN_ID) so LLaMA-Factory stops at the next step and saves; then the normal stop.

Every scancel is one audit line (time, actor, run, job, signal, outcome).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from ftmllm_tui.core.runs.kill import Audit
from ftmllm_tui.core.runs.registry import Registry, RunRecord, with_stop
from ftmllm_tui.core.slurm.query import Job, SlurmError, read_jobs
from ftmllm_tui.core.slurm.query import run as slurm_run

ACTIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
          "STOPPED", "SIGNALING", "STAGE_OUT")


@dataclass
class SlurmStopReport:
    run_id: str
    job: str
    steps: list[dict] = field(default_factory=list)  # {"action", "outcome", "at"}
    all_gone: bool = False
    took_s: float = 0.0

    def as_dicts(self) -> list[dict]:
        return [dict(s, job=self.job) for s in self.steps]


def job_now(job_id: str, env: Mapping[str, str] | None = None) -> Job | None:
    """The job while it is active (pending, running, completing…); None once it left the queue."""
    try:
        job = read_jobs([job_id], env=env).get(job_id)
    except SlurmError as e:
        if "invalid job id" in str(e).lower():
            return None
        raise
    return job if job is not None and job.state in ACTIVE else None


def _wait_gone(job_id: str, timeout: float, env, hurry=None, poll: float = 0.5) -> bool:
    end = time.monotonic() + timeout
    while True:
        if job_now(job_id, env) is None:
            return True
        if time.monotonic() >= end:
            return False
        if hurry is not None and hurry.is_set():
            hurry.clear()
            return False
        time.sleep(poll)


def save_argv(run: RunRecord, job: Job, *, python: str | None = None, timeout: float = 120.0) -> list[str]:
    """srun into the running job, one task per node, running the app's own stop-and-save there."""
    return ["srun", f"--jobid={job.id}", "--overlap", f"--nodes={max(1, job.nodes)}", "--ntasks-per-node=1",
            "--kill-on-bad-exit=0", python or sys.executable, "-m", "ftmllm_tui.cli", "stop", run.id,
            "--save-only", "--yes", "--save-timeout", f"{timeout:g}"]


def stop_run(registry: Registry, run: RunRecord, *, audit: Audit, grace_int: float = 10.0,
             save_first: bool = False, save_timeout: float = 120.0, kill_wait_s: float = 60.0,
             env: Mapping[str, str] | None = None, progress: Callable[[str], None] = lambda m: None,
             hurry=None, python: str | None = None) -> SlurmStopReport:
    """Stop the run's job (see the module doc); the record is marked stopped when we cancelled it."""
    rep, acted = stop_job(run.slurm_job, run=run, audit=audit, grace_int=grace_int, save_first=save_first,
                          save_timeout=save_timeout, kill_wait_s=kill_wait_s, env=env, progress=progress,
                          hurry=hurry, python=python)
    if acted:
        registry.save(with_stop(run, rep.as_dicts(), time.time()))
    return rep


def stop_job(job_id: str, *, run: RunRecord | None = None, audit: Audit, grace_int: float = 10.0,
             save_first: bool = False, save_timeout: float = 120.0, kill_wait_s: float = 60.0,
             env: Mapping[str, str] | None = None, progress: Callable[[str], None] = lambda m: None,
             hurry=None, python: str | None = None) -> tuple[SlurmStopReport, bool]:
    """Stop one job (an app run's, or any of the user's own: Slurm refuses other people's).
    Returns the report and whether anything was sent."""
    t0 = time.monotonic()
    rep = SlurmStopReport(run.id if run else "", job_id)

    def step(action: str, outcome: str) -> None:
        rep.steps.append({"action": action, "outcome": outcome, "at": round(time.time(), 3)})
        audit.write(run=run.id if run else None, job=job_id, signal=action, outcome=outcome)
        progress(f"{action}: {outcome}")

    job = job_now(job_id, env)
    if job is None:
        progress(f"job {job_id} is not in the queue (already ended)")
        rep.all_gone = True
        rep.took_s = time.monotonic() - t0
        return rep, False
    save_first = save_first and run is not None
    acted = False
    if job.pending:
        acted = True
        if _scancel(["scancel", job.id], "scancel (pending job)", step, env):
            rep.all_gone = _wait_gone(job.id, kill_wait_s, env)
    else:
        if save_first and run is not None:
            progress(f"stop and save: SIGABRT to the trainers on {max(1, job.nodes)} node(s) through srun "
                     "--overlap; LLaMA-Factory stops at the next step and saves")
            try:
                r = slurm_run(save_argv(run, job, python=python, timeout=save_timeout), env=env,
                        timeout=save_timeout + 30)
                step("srun --overlap … stop --save-only (SIGABRT to the trainers)", "saved and stopped"
                     if "saved" in r.stdout else (r.stdout.strip().splitlines() or ["done"])[-1])
            except SlurmError as e:
                step("srun --overlap … stop --save-only (SIGABRT to the trainers)", f"failed: {e}")
            acted = True
            if _wait_gone(job.id, grace_int, env, hurry):
                rep.all_gone = True
        refused = False
        if not rep.all_gone:
            refused = not _scancel(["scancel", "--signal=INT", "--full", job.id],
                                   "SIGINT (scancel --signal=INT --full)", step, env)
            acted = True
            if not refused:
                progress(f"waiting up to {grace_int:g} s for the job to end")
                rep.all_gone = _wait_gone(job.id, grace_int, env, hurry)
        if not rep.all_gone and not refused:
            _scancel(["scancel", job.id], "SIGTERM (scancel; Slurm sends SIGKILL after KillWait)", step, env)
            progress(f"waiting up to {kill_wait_s:g} s for Slurm to end the job")
            rep.all_gone = _wait_gone(job.id, kill_wait_s, env)
    rep.took_s = time.monotonic() - t0
    step("verify", f"job {job.id} left the queue after {rep.took_s:.1f} s" if rep.all_gone
         else f"job {job.id} is still in the queue")
    return rep, acted


def _scancel(argv: list[str], action: str, step, env) -> bool:
    try:
        slurm_run(argv, env=env)
        step(action, "sent")
        return True
    except SlurmError as e:
        step(action, f"refused: {e}")
        return False


# -- on the node: the save part of "stop and save" --------------------------------------------------

def save_here(run_id: str, *, audit: Audit, timeout: float = 120.0,
              progress: Callable[[str], None] = lambda m: None) -> tuple[int, int]:
    """SIGABRT to this machine's trainer processes of ``run_id`` (torchrun's workers, or
    llamafactory-cli itself when it trains in-process), then wait until they end.
    Returns (trainers signalled, trainers still alive)."""
    from ftmllm_tui.core.gpus.proctree import run_processes
    from ftmllm_tui.core.runs.kill import make_plan, same_process
    from ftmllm_tui.core.runs.runctl import _abort_then_wait

    procs = [p for p in run_processes(run_id, None) if p.pid != os.getpid()]
    plan = make_plan(procs, run_id=run_id)
    workers = [t for t in plan.targets if t.role == "worker"] or [
        t for t in plan.targets if t.role == "launcher"
        and any(a.endswith("llamafactory-cli") for a in t.proc.cmdline[:2])]
    if not workers:
        progress("no trainer process of this run here")
        return 0, 0
    progress(f"SIGABRT to {len(workers)} trainer process{'es' if len(workers) != 1 else ''}")
    _abort_then_wait(replace(plan, targets=tuple(workers)), audit, timeout, progress)
    alive = sum(1 for t in workers if same_process(t.proc.pid, t.proc.create_time))
    return len(workers), alive
