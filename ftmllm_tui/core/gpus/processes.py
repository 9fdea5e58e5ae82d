"""Host view of GPU processes through psutil, in the recording's ``host_procs`` format.

Identity is (pid, create_time): a cached :class:`psutil.Process` is reused only while its
create_time matches, so a reused PID is never mistaken for the process seen before. PIDs psutil
cannot see (another PID namespace: NVML reports host PIDs) or may not read are reported as such.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import psutil

RUN_ENV = "FTMLLM_RUN_ID"
NOT_VISIBLE = "not visible here (another PID namespace, or it just exited)"


def current_user() -> str:
    """The user this app acts for (login name of the effective uid)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (KeyError, ImportError, AttributeError):  # no passwd entry (containers)
        return os.environ.get("USER") or str(os.geteuid())


class _Seen:
    """Per-identity facts that do not change: user, cmdline, run id."""

    __slots__ = ("proc", "create_time", "static", "parent_pid", "parent_cmd")

    def __init__(self, proc: psutil.Process, create_time: float, static: dict[str, Any]):
        self.proc = proc
        self.create_time = create_time
        self.static = static
        self.parent_pid: int | None = None
        self.parent_cmd: list[str] = []


class ProcessSampler:
    """Describes PIDs; keeps psutil objects so CPU % is measured between refreshes."""

    def __init__(self) -> None:
        self._seen: dict[int, _Seen] = {}

    def describe(self, pids: Iterable[int]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        wanted = set(pids)
        for pid in sorted(wanted):
            out[str(pid)] = self._describe(pid)
        for pid in list(self._seen):
            if pid not in wanted:
                del self._seen[pid]
        return out

    def _lookup(self, pid: int) -> _Seen:
        seen = self._seen.get(pid)
        proc = psutil.Process(pid)
        ctime = proc.create_time()
        if seen is not None and seen.create_time == ctime:
            return seen
        # new process (or a reused PID): read the facts that do not change, once
        static: dict[str, Any] = {}
        with proc.oneshot():
            try:
                static["user"] = proc.username()
            except (psutil.AccessDenied, KeyError):
                static["user"] = str(proc.uids().real)
            try:
                static["cmdline"] = proc.cmdline() or [f"[{proc.name()}]"]
            except psutil.AccessDenied:
                static["cmdline"] = [proc.name()]
                static["cmdline_denied"] = True
            try:
                run = proc.environ().get(RUN_ENV)
            except (psutil.AccessDenied, psutil.ZombieProcess, OSError):
                run = None  # other users' environments are private
            if run:
                static["run"] = run
        proc.cpu_percent(None)  # primes the counter; the next refresh gives a real figure
        seen = _Seen(proc, ctime, static)
        self._seen[pid] = seen
        return seen

    def _describe(self, pid: int) -> dict[str, Any]:
        try:
            seen = self._lookup(pid)
            proc = seen.proc
            with proc.oneshot():
                ppid = proc.ppid()
                cpu = proc.cpu_percent(None)
                rss = proc.memory_info().rss
                status = proc.status()
        except psutil.NoSuchProcess:
            self._seen.pop(pid, None)
            return {"error": NOT_VISIBLE}
        except psutil.AccessDenied:
            self._seen.pop(pid, None)
            return {"error": "permission denied reading this process"}
        if seen.parent_pid != ppid:
            seen.parent_pid = ppid
            seen.parent_cmd = _cmdline_of(ppid)
        d: dict[str, Any] = {
            "user": seen.static["user"],
            "ppid": ppid,
            "cmdline": seen.static["cmdline"],
            "create_time": seen.create_time,
            "cpu_percent": round(cpu, 1),
            "rss": int(rss),
            "status": status,
            "parent_cmd": seen.parent_cmd,
        }
        if "run" in seen.static:
            d["run"] = seen.static["run"]
        return d


def _cmdline_of(pid: int) -> list[str]:
    if pid <= 0:
        return []
    try:
        p = psutil.Process(pid)
        return p.cmdline() or [f"[{p.name()}]"]
    except (psutil.Error, OSError):
        return []
