"""What the Runs view and the `runs` / `stop` commands need: statuses (records reconciled with tmux
and the process table), progress read from trainer_log.jsonl, external runs, and stopping a run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from ftmllm_tui.core.runs.kill import Audit, Plan, Report, Stopper, make_plan
from ftmllm_tui.core.gpus.proctree import Proc, describe, processes_with_run_ids, run_processes
from ftmllm_tui.core.runs.registry import Registry, RunRecord, RunStatus, derive_state, with_stop
from ftmllm_tui.core.runs.tmux import Tmux, TmuxError


@dataclass(frozen=True)
class Progress:
    step: int | None = None
    total: int | None = None
    percentage: float | None = None
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    elapsed: str | None = None
    remaining: str | None = None
    log_mtime: float | None = None  # when trainer_log.jsonl last grew
    # downloads (core/models/download.py): step/total are files, percentage is bytes
    bytes_done: int | None = None
    bytes_total: int | None = None
    rate: float | None = None  # bytes/s


def read_progress(output_dir: str | None, tail_bytes: int = 16384) -> Progress | None:
    """The latest step and loss from ``output_dir/trainer_log.jsonl`` (reads only its tail)."""
    if not output_dir:
        return None
    path = Path(output_dir) / "trainer_log.jsonl"
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            mtime = os.fstat(f.fileno()).st_mtime
            f.seek(max(0, size - tail_bytes))
            data = f.read()
    except OSError:
        return None
    lines = data.decode("utf-8", errors="replace").splitlines()
    tail_start = max(0, size - tail_bytes)
    latest: dict[str, Any] = {}
    loss = eval_loss = None
    for line in lines:
        try:
            d = json.loads(line)
        except ValueError:
            continue  # a half-written last line, or the cut first one
        if not isinstance(d, dict):
            continue
        latest = d
        if isinstance(d.get("loss"), (int, float)):
            loss = float(d["loss"])
        if isinstance(d.get("eval_loss"), (int, float)):
            eval_loss = float(d["eval_loss"])
    if eval_loss is None and tail_start > 0:  # evaluations are rare: look further back for the last one
        eval_loss = last_eval_loss(path, tail_start)

    def num(key: str) -> Any:
        v = latest.get(key)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    return Progress(step=num("current_steps"), total=num("total_steps"), percentage=num("percentage"),
                    epoch=num("epoch"), loss=loss, eval_loss=eval_loss,
                    elapsed=latest.get("elapsed_time"), remaining=latest.get("remaining_time"),
                    log_mtime=mtime)


_EVAL_CACHE: dict[str, tuple[tuple[int, int], int, float | None]] = {}  # path: (ident, scanned up to, value)
_EVAL_SCAN_LIMIT = 256 << 20


def last_eval_loss(path: Path, end: int) -> float | None:
    """The ``eval_loss`` of the last evaluation line that ends before byte ``end`` of a
    trainer_log.jsonl, read backwards in blocks; what was scanned before is remembered (by file
    identity), so a growing log costs only its new part on the next call."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    ident = (st.st_dev, st.st_ino)
    cached = _EVAL_CACHE.get(str(path))
    floor, known = 0, None
    if cached is not None and cached[0] == ident and cached[1] <= end:
        floor, known = cached[1], cached[2]
    floor = max(floor, end - _EVAL_SCAN_LIMIT)
    found: float | None = None
    boundary = None  # where the last complete line before ``end`` ends: the next call starts there
    try:
        with open(path, "rb") as f:
            pos, carry = end, b""
            while pos > floor and found is None:
                step = min(1 << 16, pos - floor)
                pos -= step
                f.seek(pos)
                piece = f.read(step)
                if boundary is None and b"\n" in piece:
                    boundary = pos + piece.rfind(b"\n") + 1
                block = piece + carry
                parts = block.split(b"\n")
                carry = parts[0] if pos > floor else b""
                for raw in reversed(parts[1:] if pos > floor else parts):
                    if b'"eval_loss"' not in raw:
                        continue
                    try:
                        d = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(d, dict) and isinstance(d.get("eval_loss"), (int, float)):
                        found = float(d["eval_loss"])
                        break
    except OSError:
        return known
    value = found if found is not None else known
    if boundary is not None:
        _EVAL_CACHE[str(path)] = (ident, boundary, value)
    return value


def download_progress(run_dir: Path) -> Progress | None:
    """A download job's progress.json (files, bytes, rate, ETA) as a Progress."""
    from ftmllm_tui.core.models.download import eta_text, read_progress as read_download

    p = read_download(run_dir)
    if p is None:
        return None
    return Progress(step=p.files_done, total=p.files_total, percentage=p.percentage, remaining=eta_text(p.eta_s),
                    log_mtime=p.mtime, bytes_done=p.bytes_done, bytes_total=p.bytes_total, rate=p.rate)


def ended(state: str) -> bool:
    return state in ("finished", "failed", "stopped", "lost")


@dataclass(frozen=True)
class RunView:
    status: RunStatus
    progress: Progress | None
    stalled: bool = False
    started_at: float | None = None
    last_seen: float | None = None  # an ended run without an end time: when it last wrote something
    slurm_job: Any = None  # Slurm runs: the job as the queue shows it now (core.slurm.query.Job), if queued
    reason: Any = None  # why it failed (core.runs.reasons.Reason), or a running run waiting at SwanLab's prompt


def run_duration(v: RunView, now: float) -> float | None:
    """How long the run ran: until now while it runs, until its end once it ended; for a lost run
    until it was last seen alive (None when nothing tells)."""
    s, r = v.status, v.status.record
    if not r.created_at:
        return None
    if s.state in ("running", "starting"):
        end: float | None = now
    elif s.state == "stopped":
        end = s.ended_at or r.stop_requested_at or v.last_seen
    elif s.state in ("finished", "failed"):
        end = s.ended_at or v.last_seen
    else:
        end = v.last_seen
    return None if end is None else max(0.0, end - r.created_at)


def last_seen(registry: Registry, rec: RunRecord, prog: Progress | None) -> float | None:
    """The latest time the run's own files moved (console.log, runner pid file, trainer_log.jsonl)."""
    times = [prog.log_mtime] if prog is not None and prog.log_mtime else []
    for name in ("console.log", "pid"):
        try:
            times.append((registry.dir(rec.id) / name).stat().st_mtime)
        except OSError:
            pass
    return max(times) if times else None


def collect(registry: Registry, tmux: Tmux | None, *, stall_minutes: float = 15.0,
            now: float | None = None, slurm_queue: Callable | None = None) -> tuple[list[RunView], list[str]]:
    """Every recorded run with its derived state, plus problems (tmux missing, bad records).

    ``slurm_queue(job_ids) -> ({id: job}, None) | (None, why)`` reads the queue for Slurm runs
    (core.slurm.runs.queue_jobs; passed in, so that runs never imports the Slurm engine); without it
    a Slurm run's state comes from its exit code and its record only."""
    now = time.time() if now is None else now
    records, problems = registry.all()
    sessions = {}
    if tmux is not None:
        try:
            sessions = tmux.sessions()
        except TmuxError as e:
            msg = str(e)
            if "no server running" not in msg and "error connecting" not in msg:
                problems.append(msg)
    by_env = processes_with_run_ids([os.getuid()] if os.getuid() != 0 else None)
    queue, slurm_problem = _slurm_queue(registry, records, slurm_queue)
    if slurm_problem:
        problems.append(slurm_problem)
    views = []
    for rec in records:
        exit_code, ended_at = registry.exit_code(rec.id)
        runner = registry.runner(rec.id)
        procs = run_processes(rec.id, runner, by_env)
        alive = rec.tmux_session in sessions
        state = derive_state(rec, exit_code=exit_code, session_alive=alive,
                             live_pids=[p.pid for p in procs], started=runner is not None)
        job = None
        if rec.slurm_job:  # Slurm runs: the queue says
            job = (queue or {}).get(rec.slurm_job)
            alive = job is not None or bool(procs)
            state = derive_slurm_state(rec, exit_code=exit_code, job_state=getattr(job, "state", None),
                                       queue_ok=queue is not None, local_alive=bool(procs))
        status = RunStatus(record=rec, state=state, exit_code=exit_code, session_alive=alive,
                           pids=tuple(p.pid for p in procs), orphaned=bool(procs) and not alive,
                           runner_pid=runner[0] if runner else None, ended_at=ended_at)
        prog = read_progress(rec.output_dir) if rec.kind == "train" else (
            download_progress(registry.dir(rec.id)) if rec.kind == "download" else None)
        stalled = bool(state == "running" and prog and prog.log_mtime
                       and now - prog.log_mtime > stall_minutes * 60)
        seen = None
        if state == "lost" or (state in ("finished", "failed", "stopped") and ended_at is None
                               and rec.stop_requested_at is None):
            seen = last_seen(registry, rec, prog)
        from ftmllm_tui.core.runs.reasons import run_reason

        why = run_reason(registry.dir(rec.id), state=state, exit_code=exit_code, cwd=rec.cwd, gpus=rec.gpus)
        views.append(RunView(status, prog, stalled, rec.created_at, seen, job, why))
    return views, problems


def _slurm_queue(registry: Registry, records: list[RunRecord], reader: Callable | None):
    """Queued jobs of the Slurm runs that have not written an exit code (one squeue call, cached)."""
    ids = [r.slurm_job for r in records if r.slurm_job and registry.exit_code(r.id)[0] is None]
    if not ids:
        return {}, None
    if reader is None:
        return None, None
    return reader(ids)


def slurm_run_state(registry: Registry, rec: RunRecord, slurm_queue: Callable | None) -> tuple[str, int | None]:
    """(state, exit code) of one Slurm run, as ``collect`` derives it (the `runs` command and `logs -f`)."""
    exit_code, _ = registry.exit_code(rec.id)
    procs = run_processes(rec.id, registry.runner(rec.id))
    queue, _why = _slurm_queue(registry, [rec], slurm_queue)
    job = (queue or {}).get(rec.slurm_job)
    return derive_slurm_state(rec, exit_code=exit_code, job_state=getattr(job, "state", None),
                              queue_ok=queue is not None, local_alive=bool(procs)), exit_code


def external_run_alive(rec: RunRecord) -> bool:
    """Whether an external run (``external-PID``) is still listed by `runs`: its process, the same one."""
    return any(v.status.record.id == rec.id and v.status.record.created_at == rec.created_at
               for v in external_runs(set()))


SLURM_RUNNING = ("RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "RESIZING")


def derive_slurm_state(rec: RunRecord, *, exit_code: int | None, job_state: str | None, queue_ok: bool,
                       local_alive: bool = False) -> str:
    """A Slurm run's state: from its job while queued (PENDING -> starting, RUNNING… -> running), then its
    exit code, then its record; a job gone from the queue without an exit code is lost."""
    if job_state == "PENDING":
        return "starting"
    if job_state in SLURM_RUNNING:
        return "running"
    if exit_code is not None:
        if rec.stop_requested_at is not None:
            return "stopped"
        return "finished" if exit_code == 0 else "failed"
    if rec.stop_requested_at is not None:
        return "stopped"
    if not queue_ok or local_alive:
        return "running"  # the queue cannot be read: the job is not known to have ended
    return "lost"


def external_runs(known_ids: set[str]) -> list[RunView]:
    """llamafactory-cli / torchrun processes not started by the app (no known run id)."""
    out = []
    seen_roots: set[int] = set()
    for p in psutil.process_iter(["pid", "cmdline", "ppid"]):
        cmd = p.info.get("cmdline") or []
        joined = " ".join(cmd)
        if "llamafactory-cli" not in joined or not any(k in cmd for k in ("train", "chat", "webchat",
                                                                           "export", "api", "eval")):
            continue
        try:
            parent = psutil.Process(p.info["ppid"])
            if "llamafactory-cli" in " ".join(parent.cmdline()):
                continue  # the outer one counts
        except psutil.Error:
            pass
        d = describe(p)
        if d is None or d.pid in seen_roots:
            continue
        from ftmllm_tui.core.gpus.proctree import run_id_of

        rid = run_id_of(p)
        if rid and rid in known_ids:
            continue
        seen_roots.add(d.pid)
        kind = next((k for k in ("train", "chat", "webchat", "export", "api", "eval") if k in cmd), "?")
        cfg = next((c for c in cmd if c.endswith((".yaml", ".yml", ".json"))), None)
        out_dir = None
        if cfg:
            try:
                import yaml

                cfg_path = Path(cfg)
                if not cfg_path.is_absolute():
                    cfg_path = Path(psutil.Process(d.pid).cwd()) / cfg_path
                data = yaml.safe_load(cfg_path.read_text())
                out_dir = data.get("output_dir") if isinstance(data, dict) else None
            except Exception:
                pass
        rec = RunRecord(id=f"external-{d.pid}", name=Path(cfg).stem if cfg else "external", kind=kind,
                        config=cfg, argv=d.cmdline, env=(), user=d.user, created_at=d.create_time,
                        output_dir=out_dir, external=True)
        status = RunStatus(record=rec, state="running", pids=(d.pid,), runner_pid=None)
        out.append(RunView(status, read_progress(out_dir) if kind == "train" else None, False,
                           d.create_time))
    return out


# -- stopping -----------------------------------------------------------------------------------------

def plan_run_stop(registry: Registry, run: RunRecord, *, allow_others: bool = False,
                  gpu_of: Callable[[int], tuple[tuple[int, ...], int | None]] | None = None) -> Plan:
    """Snapshot every live process of the run (workers and orphans included) into a plan."""
    runner = registry.runner(run.id)
    procs: list[Proc] = run_processes(run.id, runner)
    return make_plan(procs, run_id=run.id, runner_pid=runner[0] if runner else None,
                     allow_others=allow_others, gpu_of=gpu_of)


def execute_stop(registry: Registry, tmux: Tmux | None, run: RunRecord, plan: Plan, *, audit: Audit,
                 grace_int: float, grace_term: float, force: bool = False, save_first: bool = False,
                 save_timeout: float = 120.0, progress: Callable[[str], None] = lambda m: None,
                 hurry=None) -> Report:
    """``hurry`` (a threading.Event): set it to end the current wait (save, SIGINT or SIGTERM grace).

    With ``save_first`` the report tells the whole sequence: the workers that got SIGABRT and
    ended by themselves are ``stopped`` with ``last_signal`` SIGABRT, the processes that then
    ended on their own (torchrun, llamafactory-cli, the runner) ``exited``; ``report.save`` says
    whether a model was saved and at which step; the run record keeps ``saved_adapter``."""
    t0 = time.monotonic()
    started = time.time()
    gone_at: dict[int, float] = {}
    abrt: set[int] = set()
    timed_out = False
    if save_first:
        # the processes that run the trainer: torchrun's workers, or llamafactory-cli itself when it
        # trains in-process (one rank); never the runner nor torchrun (SIGABRT would kill them)
        workers = [t for t in plan.targets if t.role == "worker"] or [
            t for t in plan.targets if t.role == "launcher"
            and any(a.endswith("llamafactory-cli") for a in t.proc.cmdline[:2])]
        progress(f"SIGABRT to {len(workers)} trainer process{'es' if len(workers) != 1 else ''}: "
                 "LLaMA-Factory stops at the next step and saves")
        abrt, timed_out = _abort_then_wait(replace(plan, targets=tuple(workers)), audit, save_timeout,
                                           progress, hurry, watch=plan, gone_at=gone_at, t0=t0)
    report = Stopper(plan, audit=audit, grace_int=grace_int, grace_term=grace_term,
                     progress=progress, hurry=hurry).run(force=force)
    if save_first:
        for o in report.outcomes:  # what the save phase did, not "already gone"
            if o.result == "already gone" and o.pid in gone_at:
                o.gone_after_s = gone_at[o.pid]
                if o.pid in abrt:
                    o.result, o.last_signal = "stopped", "SIGABRT"
                else:
                    o.result = "exited"
        report.took_s = round(time.monotonic() - t0, 3)
        report.started_at = started
    report.exit_code = _exit_code_soon(registry, run, report)
    rec = with_stop(run, report.as_dicts(), time.time())
    if save_first:
        out = _output_dir(run)
        saved, step = saved_model(out, since=started) if out is not None else (False, None)
        report.save = {"signal": "SIGABRT", "saved": saved, "step": step, "dir": str(out or ""),
                       "timed_out": timed_out}
        if saved:
            rec = replace(rec, saved_adapter=str(out), saved_step=step)
    registry.save(rec)
    if tmux is not None and run.tmux_session:
        tmux.kill_session(run.tmux_session)
    return report


SAVED_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors",
               "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def _output_dir(run: RunRecord) -> Path | None:
    if not run.output_dir:
        return None
    p = Path(run.output_dir).expanduser()
    return p if p.is_absolute() else Path(run.cwd or ".") / p


def saved_model(out: Path, *, since: float) -> tuple[bool, int | None]:
    """Whether a model or adapter was written into ``out`` at or after ``since``, and the last
    step trainer_log.jsonl reached."""
    saved = False
    for name in SAVED_FILES:
        try:
            if (out / name).stat().st_mtime >= since - 1.0:
                saved = True
                break
        except OSError:
            continue
    prog = read_progress(str(out))
    return saved, prog.step if prog is not None else None


def _exit_code_soon(registry: Registry, run: RunRecord, report, wait_s: float = 2.0) -> int | None:
    """The exit code the runner writes as it ends (it is among the targets: once it is gone the file
    is there, give or take a moment)."""
    if not report.all_gone or not report.outcomes:
        return registry.exit_code(run.id)[0]
    end = time.monotonic() + wait_s
    while True:
        code = registry.exit_code(run.id)[0]
        if code is not None or time.monotonic() >= end or not any(o.role == "runner" for o in report.outcomes):
            return code
        time.sleep(0.05)


def _abort_then_wait(plan: Plan, audit: Audit, timeout: float, progress: Callable[[str], None],
                     hurry=None, *, watch: Plan | None = None, gone_at: dict[int, float] | None = None,
                     t0: float | None = None) -> tuple[set[int], bool]:
    """SIGABRT to each worker (identity-checked, audited), then wait for the run to end by itself.
    Returns the pids SIGABRT reached and whether the wait timed out; ``gone_at`` gets, for each
    process of ``watch`` that ended during the wait, the seconds since ``t0``."""
    import signal as _signal

    from ftmllm_tui.core.runs.kill import same_process, signal_processes

    t0 = time.monotonic() if t0 is None else t0
    gone_at = {} if gone_at is None else gone_at
    watched = (watch or plan).targets
    sent = signal_processes(plan, _signal.SIGABRT, audit=audit)
    abrt = {o.pid for o in sent.outcomes if o.last_signal == "SIGABRT"}

    def look() -> None:
        for t in watched:
            if t.proc.pid not in gone_at and not same_process(t.proc.pid, t.proc.create_time):
                gone_at[t.proc.pid] = round(time.monotonic() - t0, 3)

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        look()
        if all(t.proc.pid in gone_at for t in plan.targets):
            progress("the workers saved and stopped")
            time.sleep(0.3)  # the launcher and the runner end right after them
            look()
            return abrt, False
        if hurry is not None and hurry.is_set():
            hurry.clear()
            progress("not waiting for the save any longer: stopping now")
            return abrt, False
        time.sleep(0.2)
    progress(f"still running {timeout:g} s after SIGABRT: stopping normally")
    return abrt, True
