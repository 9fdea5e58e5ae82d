"""Finding the processes of a run: by ``FTMLLM_RUN_ID`` in their environment, or as descendants of
the run's runner. Both are needed: torchrun workers start their own sessions (a process group or a
tmux kill does not reach them) and become orphans of PID 1 when their launcher dies, but they keep
the environment they inherited (DESIGN.md §4).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from ftmllm_tui.core.gpus.processes import RUN_ENV


@dataclass(frozen=True)
class Proc:
    """A process as seen at one instant; (pid, create_time) is its identity."""

    pid: int
    create_time: float
    ppid: int
    pgid: int
    sid: int
    uid: int
    user: str
    cmdline: tuple[str, ...]
    run_id: str | None = None

    @property
    def identity(self) -> tuple[int, float]:
        return (self.pid, self.create_time)

    @property
    def command(self) -> str:
        return " ".join(self.cmdline)


def describe(p: psutil.Process, run_id: str | None = None) -> Proc | None:
    try:
        with p.oneshot():
            uid = p.uids().real
            try:
                user = p.username()
            except (KeyError, psutil.AccessDenied):
                user = str(uid)
            try:
                cmd = tuple(p.cmdline()) or (f"[{p.name()}]",)
            except psutil.AccessDenied:
                cmd = (f"[{p.name()}]",)
            return Proc(pid=p.pid, create_time=p.create_time(), ppid=p.ppid(),
                        pgid=os.getpgid(p.pid), sid=os.getsid(p.pid), uid=uid, user=user,
                        cmdline=cmd, run_id=run_id)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, ProcessLookupError):
        return None
    except psutil.AccessDenied:
        return None


def run_id_of(p: psutil.Process) -> str | None:
    try:
        return p.environ().get(RUN_ENV)
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
        return None


def processes_with_run_ids(uids: Iterable[int] | None = None) -> dict[str, list[Proc]]:
    """Every readable process that carries a run id, grouped by id.

    ``uids``: only look at processes of these users (environments of other users are private
    anyway unless we are root).
    """
    wanted = set(uids) if uids is not None else None
    out: dict[str, list[Proc]] = {}
    me = os.getpid()
    for p in psutil.process_iter():
        if p.pid == me:
            continue
        try:
            if wanted is not None and p.uids().real not in wanted:
                continue
        except (psutil.Error, OSError):
            continue
        rid = run_id_of(p)
        if rid:
            d = describe(p, rid)
            if d is not None:
                out.setdefault(rid, []).append(d)
    return out


def descendants(pid: int, create_time: float | None = None) -> list[Proc]:
    """``pid`` (if it is still the same process) and everything below it."""
    try:
        root = psutil.Process(pid)
        if create_time is not None and abs(root.create_time() - create_time) > 0.01:
            return []
        procs = [root] + root.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []
    out = []
    for p in procs:
        d = describe(p, run_id_of(p))
        if d is not None:
            out.append(d)
    return out


def run_processes(run_id: str, runner: tuple[int, float] | None,
                  by_env: dict[str, list[Proc]] | None = None) -> list[Proc]:
    """The live processes of one run: its runner's tree plus anything carrying its id."""
    found: dict[tuple[int, float], Proc] = {}
    if runner is not None:
        for p in descendants(*runner):
            found[p.identity] = p
    if by_env is None:
        by_env = processes_with_run_ids([os.getuid()] if os.getuid() != 0 else None)
    for p in by_env.get(run_id, []):
        found.setdefault(p.identity, p)
    return sorted(found.values(), key=lambda p: p.create_time)


def ancestors_of_self() -> set[int]:
    """This process and every ancestor (the shell, sshd, the tmux client...): never signalled."""
    out = set()
    try:
        p = psutil.Process()
        while p is not None:
            out.add(p.pid)
            p = p.parent()
    except psutil.Error:
        pass
    return out
