"""Stopping processes safely: plan, guard, escalate, verify, audit (DESIGN.md §5).

1. Targets are (pid, create_time) pairs; identity is re-checked before every signal; a changed or
   vanished identity is skipped and reported, never signalled.
2. Only the caller's own processes; never PID 1, kernel threads, this app or its ancestors. Root may
   act on other users' processes only with ``allow_others`` (and the UI asks for a typed yes).
3. A run is stopped as a whole: every live process attributed to it is a target before the first
   signal. SIGINT to the launcher's process group (torchrun forwards it), or directly to workers
   whose launcher is gone → grace → SIGTERM to every survivor → grace → SIGKILL → verify.
4. (UI) the confirmation lists every target and starts on Cancel.
5. Every signal sent is one JSON line in the audit log.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from ftmllm_tui.core.gpus.proctree import Proc, ancestors_of_self
from ftmllm_tui.core.gpus.processes import current_user

SIG_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGKILL: "SIGKILL",
             signal.SIGABRT: "SIGABRT", signal.SIGHUP: "SIGHUP"}


@dataclass(frozen=True)
class Target:
    proc: Proc
    role: str = "process"  # runner / launcher / worker / process
    gpus: tuple[int, ...] = ()
    gpu_memory_bytes: int | None = None


@dataclass(frozen=True)
class Refusal:
    proc: Proc
    reason: str


@dataclass(frozen=True)
class Plan:
    targets: tuple[Target, ...]
    refused: tuple[Refusal, ...] = ()
    run_id: str | None = None

    @property
    def empty(self) -> bool:
        return not self.targets


@dataclass
class Outcome:
    pid: int
    create_time: float
    user: str
    command: str
    role: str
    result: str = "pending"  # stopped / killed / exited / already gone / denied / skipped (reused) / survived
    last_signal: str | None = None
    gone_after_s: float | None = None


@dataclass
class Report:
    run_id: str | None
    outcomes: list[Outcome] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # pid, command, reason
    started_at: float = 0.0
    took_s: float = 0.0
    # stop and save: {"signal": "SIGABRT", "saved": bool, "step": int | None, "dir": str, "waited_s": float,
    # "timed_out": bool}; None for a plain stop
    save: dict | None = None
    exit_code: int | None = None  # what the run's command exited with, once known

    @property
    def all_gone(self) -> bool:
        return all(o.result in GONE for o in self.outcomes)

    def summary(self) -> str:
        """The sequence as it happened: ``SIGABRT → saved at step 1110 → exited 0 in 4.2 s``,
        ``SIGINT → SIGTERM → exited 143 in 12.0 s``, ``SIGKILL → NOT all gone in 5.0 s``."""
        parts: list[str] = []
        if self.save is not None:
            parts.append(str(self.save.get("signal") or "SIGABRT"))
            if self.save.get("saved"):
                step = self.save.get("step")
                parts.append(f"saved at step {step}" if step is not None else "saved")
            else:
                parts.append("no save seen" + (" (timed out)" if self.save.get("timed_out") else ""))
        sent = {o.last_signal for o in self.outcomes if o.last_signal}
        parts += [s for s in ("SIGINT", "SIGTERM", "SIGKILL") if s in sent]
        if not self.all_gone:
            parts.append("NOT all gone")
        elif self.exit_code is not None:
            parts.append(f"exited {self.exit_code}")
        elif not parts:
            parts.append("nothing was running")
        else:
            parts.append("all gone")
        return " → ".join(parts) + f" in {self.took_s:.1f} s"

    def as_dicts(self) -> list[dict]:
        return [asdict(o) for o in self.outcomes]


GONE = ("stopped", "killed", "exited", "already gone")  # outcomes that leave nothing behind


def refuse_reason(p: Proc, *, my_uid: int, allow_others: bool, protected: set[int]) -> str | None:
    if p.pid <= 1:
        return "PID 1 is never signalled"
    if p.pid == 2 or p.ppid == 2:
        return "a kernel thread"
    if p.pid in protected:
        return "this app or one of its ancestors (your shell, SSH session, tmux server)"
    if p.uid != my_uid and not (my_uid == 0 and allow_others):
        return f"owned by {p.user}, not you" + (
            " (as root, stopping other users' processes needs the explicit flag)" if my_uid == 0 else "")
    return None


def role_of(p: Proc, runner_pid: int | None) -> str:
    """runner / launcher (llamafactory-cli, torchrun) / worker (llamafactory's launcher.py)."""
    if runner_pid is not None and p.pid == runner_pid:
        return "runner"
    names = [a.rsplit("/", 1)[-1] for a in p.cmdline[:3]]  # interpreter, script, first argument
    if "torchrun" in names or "llamafactory-cli" in names or "torch.distributed.run" in p.cmdline[:4]:
        return "launcher"  # torchrun's command line also names the workers' launcher.py
    if "launcher.py" in names or "llamafactory.launcher" in p.cmdline[:4]:
        return "worker"
    return "process"


def make_plan(procs: Iterable[Proc], *, run_id: str | None = None, runner_pid: int | None = None,
              allow_others: bool = False, gpu_of: Callable[[int], tuple[tuple[int, ...], int | None]]
              | None = None, my_uid: int | None = None) -> Plan:
    my_uid = os.geteuid() if my_uid is None else my_uid
    protected = ancestors_of_self()
    targets, refused = [], []
    for p in procs:
        reason = refuse_reason(p, my_uid=my_uid, allow_others=allow_others, protected=protected)
        if reason:
            refused.append(Refusal(p, reason))
            continue
        gpus, mem = gpu_of(p.pid) if gpu_of else ((), None)
        targets.append(Target(p, role_of(p, runner_pid), gpus, mem))
    return Plan(tuple(targets), tuple(refused), run_id)


# -- execution ---------------------------------------------------------------------------------------

def same_process(pid: int, create_time: float) -> bool | None:
    """True: still that process; False: the PID now belongs to another process; None: gone."""
    try:
        p = psutil.Process(pid)
        if abs(p.create_time() - create_time) > 1e-3:
            return False
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return True
    except (psutil.NoSuchProcess, ProcessLookupError):
        return None
    except psutil.ZombieProcess:
        return None


class Audit:
    """Append-only JSON lines: time, actor, run, target, signal, outcome."""

    def __init__(self, path: Path | None):
        self.path = path
        self.actor = current_user()

    def write(self, **entry) -> None:
        if self.path is None:
            return
        entry = {"time": round(time.time(), 3), "actor": self.actor, **entry}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


class Stopper:
    """Runs a plan. ``progress(message)`` is called from this thread as phases go."""

    def __init__(self, plan: Plan, *, audit: Audit, grace_int: float = 10.0, grace_term: float = 5.0,
                 verify_s: float = 3.0, progress: Callable[[str], None] = lambda m: None,
                 poll_s: float = 0.05, sleep: Callable[[float], None] = time.sleep, hurry=None):
        """``hurry``: a threading.Event; setting it ends the current grace period at once (the next
        signal goes out now). It is cleared as each wait ends, so each press skips one wait."""
        self.plan = plan
        self.hurry = hurry
        self.audit = audit
        self.grace_int = grace_int
        self.grace_term = grace_term
        self.verify_s = verify_s
        self.progress = progress
        self.poll_s = poll_s
        self.sleep = sleep
        self.report = Report(plan.run_id)
        self._by_pid: dict[int, Outcome] = {}
        self._t0 = 0.0
        self._signalled = False  # set once the first signal has gone out

    # signalling ---------------------------------------------------------------------------------
    def _signal_one(self, t: Target, sig: int) -> None:
        o = self._by_pid[t.proc.pid]
        state = same_process(t.proc.pid, t.proc.create_time)
        self._signalled = True
        name = SIG_NAMES.get(sig, str(sig))
        base = dict(run=self.plan.run_id, pid=t.proc.pid, create_time=t.proc.create_time,
                    user=t.proc.user, cmd=t.proc.command[:300], signal=name, target="process")
        if state is None:
            return  # gone: _alive() says how
        if state is False:
            o.result = "skipped (PID reused)"
            self.audit.write(**base, outcome="skipped: PID now belongs to another process")
            return
        try:
            os.kill(t.proc.pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            o.result = "denied"
            self.audit.write(**base, outcome="denied")
            return
        o.last_signal = name
        self.audit.write(**base, outcome="sent")

    def _signal_group(self, pgid: int, members: list[Target], sig: int) -> bool:
        """killpg when every live member of the group is a verified target; else False."""
        mine = {(t.proc.pid) for t in members}
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) != pgid:
                    continue
            except (ProcessLookupError, PermissionError, OSError):
                continue
            if p.pid not in mine:
                return False
        for t in members:
            if same_process(t.proc.pid, t.proc.create_time) is False:
                return False
        self._signalled = True
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        name = SIG_NAMES.get(sig, str(sig))
        for t in members:
            o = self._by_pid[t.proc.pid]
            if o.result == "pending" and same_process(t.proc.pid, t.proc.create_time):
                o.last_signal = name
        self.audit.write(run=self.plan.run_id, pgid=pgid, pids=sorted(mine), signal=name,
                         target="process group", outcome="sent")
        return True

    def _alive(self) -> list[Target]:
        out = []
        for t in self.plan.targets:
            o = self._by_pid[t.proc.pid]
            if o.result not in ("pending",):
                continue
            state = same_process(t.proc.pid, t.proc.create_time)
            if state:
                out.append(t)
                continue
            if state is False:
                o.result = "skipped (PID reused)"
                self.audit.write(run=self.plan.run_id, pid=t.proc.pid, create_time=t.proc.create_time,
                                 user=t.proc.user, cmd=t.proc.command[:300], signal=None,
                                 target="process", outcome="skipped: PID now belongs to another process")
                continue
            o.gone_after_s = round(time.monotonic() - self._t0, 3)
            if not self._signalled:
                o.result = "already gone"  # gone before the first signal
            elif o.last_signal == "SIGKILL":
                o.result = "killed"
            else:
                o.result = "stopped"
        return out

    def _wait(self, seconds: float) -> list[Target]:
        end = time.monotonic() + seconds
        alive = self._alive()
        while alive and time.monotonic() < end:
            if self.hurry is not None and self.hurry.is_set():
                self.hurry.clear()
                self.progress("not waiting any longer: next signal now")
                break
            self.sleep(self.poll_s)
            alive = self._alive()
        return alive

    def _roots(self, alive: list[Target]) -> list[Target]:
        pids = {t.proc.pid for t in alive}
        return [t for t in alive if t.proc.ppid not in pids]

    def interrupt(self, alive: list[Target]) -> None:
        """SIGINT to the process group of each root of the run's forest (the launcher's group);
        a root whose group holds anything else gets it alone."""
        groups: dict[int, list[Target]] = {}
        for t in alive:
            groups.setdefault(t.proc.pgid, []).append(t)
        done: set[int] = set()
        for r in self._roots(alive):
            if r.proc.pgid in done:
                continue
            if self._signal_group(r.proc.pgid, groups.get(r.proc.pgid, []), signal.SIGINT):
                done.add(r.proc.pgid)
            else:
                self._signal_one(r, signal.SIGINT)

    def run(self, *, force: bool = False, first: int | None = None) -> Report:
        """``force``: straight to SIGKILL. ``first``: another first signal (SIGABRT: stop and save)."""
        self._t0 = time.monotonic()
        self.report.started_at = time.time()
        for t in self.plan.targets:
            o = Outcome(t.proc.pid, t.proc.create_time, t.proc.user, t.proc.command, t.role)
            self._by_pid[t.proc.pid] = o
            self.report.outcomes.append(o)
        for r in self.plan.refused:
            self.report.refused.append((r.proc.pid, r.proc.command, r.reason))
        alive = self._alive()
        if alive and not force:
            if first is None:
                self.progress(f"SIGINT to the launcher ({len(alive)} processes); waiting up to "
                              f"{self.grace_int:g} s")
                self.interrupt(alive)
            else:
                self.progress(f"{SIG_NAMES.get(first, first)} to {len(alive)} processes")
                for t in alive:
                    self._signal_one(t, first)
            alive = self._wait(self.grace_int)
            if alive:
                self.progress(f"SIGTERM to {len(alive)} survivors; waiting up to {self.grace_term:g} s")
                for t in alive:
                    self._signal_one(t, signal.SIGTERM)
                alive = self._wait(self.grace_term)
        if alive:
            self.progress(f"SIGKILL to {len(alive)} processes")
            for t in alive:
                self._signal_one(t, signal.SIGKILL)
            alive = self._wait(self.verify_s)
        for t in alive:
            o = self._by_pid[t.proc.pid]
            if o.result == "pending":
                o.result = "survived"
        self.report.took_s = round(time.monotonic() - self._t0, 3)
        return self.report


def signal_processes(plan: Plan, sig: int, *, audit: Audit) -> Report:
    """One signal to each target (the process table's k), identity-checked and audited."""
    s = Stopper(plan, audit=audit, grace_int=0, grace_term=0, verify_s=0)
    s._t0 = time.monotonic()
    for t in plan.targets:
        o = Outcome(t.proc.pid, t.proc.create_time, t.proc.user, t.proc.command, t.role)
        s._by_pid[t.proc.pid] = o
        s.report.outcomes.append(o)
        s._signal_one(t, sig)
        if o.result == "pending":
            o.result = "signalled" if o.last_signal else "already gone"
    for r in plan.refused:
        s.report.refused.append((r.proc.pid, r.proc.command, r.reason))
    return s.report
