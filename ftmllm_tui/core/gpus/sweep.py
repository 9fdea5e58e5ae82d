"""Raw sweep (dict) -> immutable :class:`Snapshot`.

A *sweep* is the JSON-able dict the NVML sampler reads on every refresh and that recordings store,
one per line (format of ``fixtures/nvml/*.jsonl``)::

    {"t": 1796024151.37, "count": 2, "devices": [{...}, ...], "host_procs": {"586": {...}},
     "host": {...}, "sweep_ms": 3.1}

Every device field may be missing or ``{"error": "NVMLError_...: ..."}``; a device may be
``{"index": 1, "error": "..."}`` as a whole (lost GPU). Parsing never raises on such input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ftmllm_tui.core.gpus.snapshot import (
    GpuProcess,
    GpuReading,
    HostInfo,
    MigDevice,
    ProcessInfo,
    ProcessRow,
    Snapshot,
)
from ftmllm_tui.core.gpus.summary import FreeRule, is_free

NO_ID = 0xFFFFFFFF  # NVML's "not a MIG instance" marker for gpuInstanceId / computeInstanceId
NOT_AVAILABLE = 0xFFFFFFFFFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE_ulonglong


def _is_error(v: Any) -> bool:
    return isinstance(v, Mapping) and "error" in v


class _Fields:
    """Reads fields of one raw device, remembering which ones NVML refused."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.errors: list[tuple[str, str]] = []

    def get(self, key: str) -> Any:
        v = self.raw.get(key)
        if _is_error(v):
            self.errors.append((key, str(v["error"])))
            return None
        return v

    def int(self, key: str) -> int | None:
        return _as_int(self.get(key))

    def sub(self, key: str, sub: str) -> int | None:
        v = self.get(key)
        if isinstance(v, Mapping):
            return _as_int(v.get(sub))
        return None


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    return None


def _as_float(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _mem_bytes(v: Any) -> int | None:
    v = _as_int(v)
    if v is None or v == NOT_AVAILABLE or v < 0:
        return None
    return v


def _instance_id(v: Any) -> int | None:
    v = _as_int(v)
    return None if v is None or v == NO_ID else v


def parse_processes(index: int, f: _Fields) -> tuple[GpuProcess, ...]:
    """Compute + graphics processes of one GPU, merged by PID, with the latest SM% sample."""
    util: dict[int, tuple[int, int | None, int | None]] = {}
    samples = f.get("proc_util")
    if isinstance(samples, list):
        for s in samples:
            if not isinstance(s, Mapping):
                continue
            pid, ts = _as_int(s.get("pid")), _as_int(s.get("ts")) or 0
            if pid is None:
                continue
            if pid not in util or ts >= util[pid][0]:
                util[pid] = (ts, _as_int(s.get("sm")), _as_int(s.get("mem")))

    by_pid: dict[int, dict[str, Any]] = {}
    for key, kind in (("compute_procs", "C"), ("graphics_procs", "G")):
        procs = f.get(key)
        if not isinstance(procs, list):
            continue
        for p in procs:
            if not isinstance(p, Mapping):
                continue
            pid = _as_int(p.get("pid"))
            if pid is None:
                continue
            mem = _mem_bytes(p.get("usedGpuMemory"))
            entry = by_pid.get(pid)
            if entry is None:
                by_pid[pid] = {
                    "kind": kind,
                    "mem": mem,
                    "gi": _instance_id(p.get("gpuInstanceId")),
                    "ci": _instance_id(p.get("computeInstanceId")),
                }
            else:  # same PID as compute and graphics: one row, "C+G"
                entry["kind"] = "C+G"
                if mem is not None:
                    entry["mem"] = max(entry["mem"] or 0, mem)

    out = []
    for pid, e in by_pid.items():
        _, sm, mu = util.get(pid, (0, None, None))
        out.append(
            GpuProcess(
                gpu_index=index,
                pid=pid,
                gpu_memory_bytes=e["mem"],
                kind=e["kind"],
                sm_pct=sm,
                mem_util_pct=mu,
                gpu_instance_id=e["gi"],
                compute_instance_id=e["ci"],
            )
        )
    out.sort(key=lambda p: p.pid)
    return tuple(out)


def _parse_mig(raw: Any) -> tuple[MigDevice, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, Mapping):
            continue
        if "error" in m and len(m) <= 2:
            out.append(MigDevice(index=_as_int(m.get("index")) or i, uuid=None, memory_used_bytes=None,
                                 memory_total_bytes=None, error=str(m["error"])))
            continue
        mf = _Fields(m)
        mem = mf.get("memory")
        used = total = None
        if isinstance(mem, Mapping):
            used, total = _mem_bytes(mem.get("used")), _mem_bytes(mem.get("total"))
        out.append(
            MigDevice(
                index=_as_int(m.get("index")) if _as_int(m.get("index")) is not None else i,
                uuid=mf.get("uuid") if isinstance(mf.get("uuid"), str) else None,
                memory_used_bytes=used,
                memory_total_bytes=total,
                gpu_instance_id=_instance_id(mf.get("gpu_instance_id")),
                compute_instance_id=_instance_id(mf.get("compute_instance_id")),
            )
        )
    return tuple(out)


def parse_device(raw: Mapping[str, Any], position: int = 0) -> GpuReading:
    """One raw device dict -> :class:`GpuReading`. Never raises on malformed input."""
    if not isinstance(raw, Mapping):
        return GpuReading(index=position, error="unreadable device record")
    index = _as_int(raw.get("index"))
    if index is None:
        index = position
    f = _Fields(raw)
    whole_error = raw.get("error")

    # memory: v2 excludes the driver's reserved memory (what nvidia-smi and nvitop show as used)
    used = total = reserved = None
    mem2, mem1 = f.get("memory_v2"), f.get("memory")
    if isinstance(mem2, Mapping):
        used, total = _mem_bytes(mem2.get("used")), _mem_bytes(mem2.get("total"))
        reserved = _mem_bytes(mem2.get("reserved"))
    if (used is None or total is None) and isinstance(mem1, Mapping):
        used, total = _mem_bytes(mem1.get("used")), _mem_bytes(mem1.get("total"))

    power_mw, limit_mw = _as_float(f.get("power_mw")), _as_float(f.get("power_limit_mw"))
    mig = f.get("mig_mode")
    mig_enabled = None
    if isinstance(mig, list) and mig:
        mig_enabled = bool(_as_int(mig[0]))
    elif isinstance(mig, (int, bool)):
        mig_enabled = bool(mig)
    persistence = f.get("persistence")
    fan = f.int("fan")
    name, uuid, bus = f.get("name"), f.get("uuid"), f.get("pci_bus_id")

    reading = GpuReading(
        index=index,
        name=name if isinstance(name, str) else None,
        uuid=uuid if isinstance(uuid, str) else None,
        bus_id=bus if isinstance(bus, str) else None,
        utilization_pct=f.sub("utilization", "gpu"),
        memory_util_pct=f.sub("utilization", "memory"),
        memory_used_bytes=used,
        memory_total_bytes=total,
        memory_reserved_bytes=reserved,
        temperature_c=f.int("temperature"),
        power_w=None if power_mw is None else power_mw / 1000.0,
        power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
        fan_pct=fan,
        sm_clock_mhz=f.int("sm_clock"),
        mem_clock_mhz=f.int("mem_clock"),
        pstate=f.int("pstate"),
        throttle_reasons=f.int("throttle_reasons"),
        persistence=None if persistence is None else bool(persistence),
        ecc_uncorrected=f.int("ecc_uncorrected_volatile"),
        compute_mode=f.int("compute_mode"),
        mig_enabled=mig_enabled,
        mig_devices=_parse_mig(raw.get("mig_devices")),
        processes=parse_processes(index, f),
        error=str(whole_error) if whole_error else None,
        field_errors=tuple(f.errors),
    )
    if reading.error is None and used is None and reading.utilization_pct is None and f.errors:
        # every live field refused: the GPU is as good as lost; say why (first error)
        reading = _replace_error(reading, f.errors[0][1])
    return reading


def _replace_error(r: GpuReading, err: str) -> GpuReading:
    from dataclasses import replace

    return replace(r, error=err)


def parse_host_proc(pid: int, raw: Any) -> ProcessInfo:
    """One ``host_procs`` entry -> :class:`ProcessInfo`."""
    if not isinstance(raw, Mapping):
        return ProcessInfo(pid=pid, resolved=False, reason="not visible from this PID namespace")
    if raw.get("error"):
        return ProcessInfo(pid=pid, resolved=False, reason=str(raw["error"]))
    cmd = raw.get("cmdline")
    parent = raw.get("parent_cmd")
    return ProcessInfo(
        pid=pid,
        user=raw.get("user") if isinstance(raw.get("user"), str) else None,
        ppid=_as_int(raw.get("ppid")),
        create_time=_as_float(raw.get("create_time")),
        cmdline=tuple(str(c) for c in cmd) if isinstance(cmd, list) else (),
        cpu_pct=_as_float(raw.get("cpu_percent")),
        rss_bytes=_as_int(raw.get("rss")),
        status=raw.get("status") if isinstance(raw.get("status"), str) else None,
        run_id=raw.get("run") if isinstance(raw.get("run"), str) else None,
        parent_cmdline=tuple(str(c) for c in parent) if isinstance(parent, list) else (),
    )


def parse_host(raw: Any) -> HostInfo | None:
    if not isinstance(raw, Mapping):
        return None
    load = raw.get("load")
    return HostInfo(
        hostname=raw.get("hostname") if isinstance(raw.get("hostname"), str) else None,
        cpu_pct=_as_float(raw.get("cpu_pct")),
        cpu_count=_as_int(raw.get("cpu_count")),
        mem_used_bytes=_as_int(raw.get("mem_used")),
        mem_total_bytes=_as_int(raw.get("mem_total")),
        load=tuple(float(x) for x in load[:3]) if isinstance(load, list) and len(load) >= 3 else None,
        uptime_s=_as_float(raw.get("uptime_s")),
    )


def build_snapshot(
    sweep: Mapping[str, Any],
    *,
    source: str,
    me: str,
    now: float,
    driver_version: str | None = None,
    free_rule: FreeRule = FreeRule(),
) -> Snapshot:
    """The one parser for live and replayed sweeps."""
    devices = sweep.get("devices")
    gpus = tuple(
        parse_device(d, i) for i, d in enumerate(devices if isinstance(devices, list) else [])
    )
    host_procs = sweep.get("host_procs")
    host_procs = host_procs if isinstance(host_procs, Mapping) else {}
    recorded_t = _as_float(sweep.get("t"))
    ref_t = recorded_t if source == "replay" and recorded_t else now

    infos: dict[int, ProcessInfo] = {}
    rows = []
    for g in gpus:
        for p in g.processes:
            info = infos.get(p.pid)
            if info is None:
                info = infos[p.pid] = parse_host_proc(p.pid, host_procs.get(str(p.pid)))
            elapsed = None
            if info.create_time is not None:
                elapsed = max(0.0, ref_t - info.create_time)
            rows.append(
                ProcessRow(
                    gpu_index=g.index,
                    gpu=p,
                    info=info,
                    elapsed_s=elapsed,
                    mine=info.resolved and info.user == me,
                )
            )
    warnings = []
    if not isinstance(devices, list):
        warnings.append("sweep has no device list")
    return Snapshot(
        t=now,
        source=source,
        gpus=gpus,
        processes=tuple(rows),
        host=parse_host(sweep.get("host")),
        me=me,
        recorded_t=recorded_t if source == "replay" else None,
        driver_version=driver_version,
        sweep_ms=_as_float(sweep.get("sweep_ms")),
        warnings=tuple(warnings),
        free=tuple(g.index for g in gpus if is_free(g, free_rule)),
    )
