"""The fallback for a host without ftmllm-tui: ``nvidia-smi`` CSV over the same SSH link.

A small shell loop on the host prints, every interval, a block::

    @@gpu
    0, NVIDIA H200, GPU-698b..., 00000000:00:06.0, 100, 17, 13322, 143771, 58, 531.49, 700.00
    @@apps
    GPU-698b..., 586, /opt/conda/envs/llm/bin/python3, 3786
    @@end

which :class:`SmiDecoder` turns into a sweep in the recording format (fewer fields: no users,
no command lines beyond the process name, no host line) and then into a snapshot through the same
parser as everything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ftmllm_tui.core.gpus.snapshot import Snapshot
from ftmllm_tui.core.gpus.summary import FreeRule
from ftmllm_tui.core.gpus.sweep import build_snapshot

GPU_FIELDS = ("index", "name", "uuid", "pci.bus_id", "utilization.gpu", "utilization.memory", "memory.used",
              "memory.total", "temperature.gpu", "power.draw", "power.limit")
APP_FIELDS = ("gpu_uuid", "pid", "process_name", "used_memory")
NOTE = "nvidia-smi only (no users, commands or runs): install ftmllm-tui there for the rest"
MIB = 2**20


def smi_loop(interval: float) -> str:
    """The remote shell loop (plain POSIX sh); it ends when its output pipe closes."""
    q = "--format=csv,noheader,nounits"
    return ("command -v nvidia-smi >/dev/null || { echo 'nvidia-smi: command not found' >&2; exit 127; }; "
            "while :; do echo @@gpu; "
            f"nvidia-smi --query-gpu={','.join(GPU_FIELDS)} {q} || exit 3; echo @@apps; "
            f"nvidia-smi --query-compute-apps={','.join(APP_FIELDS)} {q}; echo @@end; "
            f"sleep {interval:g}; done")


def _num(text: str) -> float | None:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return None  # "[N/A]", "[Not Supported]", ""


def _int(text: str) -> int | None:
    v = _num(text)
    return None if v is None else int(v)


def parse_gpu_line(line: str) -> dict[str, Any] | None:
    parts = [p.strip() for p in line.split(",")]
    if len(parts) < len(GPU_FIELDS):
        return None
    idx = _int(parts[0])
    if idx is None:
        return None
    used, total = _int(parts[6]), _int(parts[7])
    dev: dict[str, Any] = {"index": idx, "name": parts[1], "uuid": parts[2], "pci_bus_id": parts[3],
                           "compute_procs": [], "graphics_procs": []}
    if used is not None and total is not None:
        dev["memory"] = {"total": total * MIB, "used": used * MIB, "free": max(0, total - used) * MIB}
    util, mem_util = _int(parts[4]), _int(parts[5])
    if util is not None:
        dev["utilization"] = {"gpu": util, "memory": mem_util or 0}
    temp = _int(parts[8])
    if temp is not None:
        dev["temperature"] = temp
    power, limit = _num(parts[9]), _num(parts[10])
    if power is not None:
        dev["power_mw"] = int(power * 1000)
    if limit is not None:
        dev["power_limit_mw"] = int(limit * 1000)
    return dev


@dataclass
class SmiDecoder:
    me: str
    free_rule: FreeRule = FreeRule()
    _section: str | None = None
    _gpus: list[dict[str, Any]] = field(default_factory=list)
    _apps: list[list[str]] = field(default_factory=list)

    def feed(self, line: str | bytes, now: float | None = None) -> Snapshot | None:
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        line = line.strip()
        if line == "@@gpu":
            self._section, self._gpus, self._apps = "gpu", [], []
        elif line == "@@apps":
            self._section = "apps"
        elif line == "@@end":
            self._section = None
            return self.snapshot(now)
        elif line and self._section == "gpu":
            dev = parse_gpu_line(line)
            if dev is not None:
                self._gpus.append(dev)
        elif line and self._section == "apps":
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 4:
                self._apps.append(parts)
        return None

    def sweep(self) -> dict[str, Any]:
        by_uuid = {d["uuid"]: d for d in self._gpus}
        host_procs: dict[str, Any] = {}
        for uuid, pid, name, mem in self._apps:
            dev = by_uuid.get(uuid)
            p = _int(pid)
            if dev is None or p is None:
                continue
            used = _int(mem)
            dev["compute_procs"].append({"pid": p, "usedGpuMemory": used * MIB if used is not None else None})
            host_procs[str(p)] = {"cmdline": [name]}
        return {"t": time.time(), "count": len(self._gpus), "devices": self._gpus, "host_procs": host_procs}

    def snapshot(self, now: float | None = None) -> Snapshot:
        return build_snapshot(self.sweep(), source="nvidia-smi", me=self.me,
                              now=time.time() if now is None else now, free_rule=self.free_rule)
