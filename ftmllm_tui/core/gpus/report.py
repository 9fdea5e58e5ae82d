"""Snapshot -> JSON (documented schema, version 1) and -> a plain-text table for ``snapshot``."""

from __future__ import annotations

import time
from typing import Any

from ftmllm_tui.core import fmt
from ftmllm_tui.core.gpus.snapshot import Snapshot
from ftmllm_tui.core.gpus.summary import user_shares

SCHEMA_VERSION = 1


def snapshot_json(s: Snapshot) -> dict[str, Any]:
    gpus = []
    for g in s.gpus:
        gpus.append({
            "index": g.index,
            "name": g.name,
            "uuid": g.uuid,
            "bus_id": g.bus_id,
            "utilization_pct": g.utilization_pct,
            "memory_util_pct": g.memory_util_pct,
            "memory_used_bytes": g.memory_used_bytes,
            "memory_total_bytes": g.memory_total_bytes,
            "temperature_c": g.temperature_c,
            "power_w": g.power_w,
            "power_limit_w": g.power_limit_w,
            "fan_pct": g.fan_pct,
            "sm_clock_mhz": g.sm_clock_mhz,
            "mem_clock_mhz": g.mem_clock_mhz,
            "pstate": g.pstate,
            "throttle_reasons": g.throttle_reasons,
            "persistence": g.persistence,
            "ecc_uncorrected": g.ecc_uncorrected,
            "mig_enabled": g.mig_enabled,
            "mig_devices": [
                {"index": m.index, "uuid": m.uuid, "memory_used_bytes": m.memory_used_bytes,
                 "memory_total_bytes": m.memory_total_bytes, "gpu_instance_id": m.gpu_instance_id,
                 "compute_instance_id": m.compute_instance_id, "error": m.error}
                for m in g.mig_devices
            ],
            "free": g.index in s.free,
            "error": g.error,
            "field_errors": {k: v for k, v in g.field_errors},
        })
    procs = []
    for r in s.processes:
        procs.append({
            "gpu": r.gpu_index,
            "pid": r.pid,
            "type": r.gpu.kind,
            "user": r.info.user if r.info.resolved else None,
            "mine": r.mine,
            "gpu_memory_bytes": r.gpu.gpu_memory_bytes,
            "sm_pct": r.gpu.sm_pct,
            "cpu_pct": r.info.cpu_pct,
            "rss_bytes": r.info.rss_bytes,
            "elapsed_s": None if r.elapsed_s is None else round(r.elapsed_s, 1),
            "create_time": r.info.create_time,
            "ppid": r.info.ppid,
            "command": r.info.command,
            "cmdline": list(r.info.cmdline),
            "run": r.info.run_id,
            "resolved": r.info.resolved,
            "unresolved_reason": r.info.reason,
        })
    h = s.host
    host = None
    if h is not None:
        host = {
            "hostname": h.hostname,
            "cpu_pct": h.cpu_pct,
            "cpu_count": h.cpu_count,
            "mem_used_bytes": h.mem_used_bytes,
            "mem_total_bytes": h.mem_total_bytes,
            "load": list(h.load) if h.load else None,
            "uptime_s": h.uptime_s,
        }
    return {
        "schema": SCHEMA_VERSION,
        "time": s.t,
        "source": s.source,
        "recorded_time": s.recorded_t,
        "driver_version": s.driver_version,
        "me": s.me,
        "gpus": gpus,
        "processes": procs,
        "users": [
            {"user": u.user, "gpus": list(u.gpus), "gpu_memory_bytes": u.gpu_memory_bytes,
             "processes": u.processes}
            for u in user_shares(s)
        ],
        "host": host,
    }


def snapshot_text(s: Snapshot, width: int = 100) -> str:
    lines = []
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.recorded_t or s.t))
    tag = "REPLAY (recorded)" if s.is_replay else "live"
    free = s.free
    lines.append(f"{tag} {when}  driver {s.driver_version or '?'}  "
                 f"GPUs {len(s.gpus)}  free {len(free)}{' ' + ','.join(map(str, free)) if free else ''}")
    if s.host:
        h = s.host
        mem = f"{fmt.bytes_h(h.mem_used_bytes)}/{fmt.bytes_h(h.mem_total_bytes)}"
        load = " ".join(f"{x:.2f}" for x in h.load) if h.load else "-"
        lines.append(f"host {h.hostname or '?'}  CPU {h.cpu_pct or 0:.0f}%  RAM {mem}  "
                     f"load {load}  up {fmt.duration(h.uptime_s)}")
    lines.append("")
    lines.append(f"{'GPU':>3}  {'NAME':<12} {'UTIL':>4}  {'MEMORY':>17}  {'TEMP':>4}  {'POWER':>11}")
    for g in s.gpus:
        if g.error:
            lines.append(f"{g.index:>3}  {g.short_name:<12} ERROR: {g.error}")
            continue
        util = "-" if g.utilization_pct is None else f"{g.utilization_pct}%"
        mem = f"{fmt.bytes_h(g.memory_used_bytes)}/{fmt.bytes_h(g.memory_total_bytes)}"
        temp = "-" if g.temperature_c is None else f"{g.temperature_c}C"
        pw = "-" if g.power_w is None else f"{g.power_w:.0f}W"
        if g.power_limit_w:
            pw += f"/{g.power_limit_w:.0f}W"
        lines.append(f"{g.index:>3}  {g.short_name:<12} {util:>4}  {mem:>17}  {temp:>4}  {pw:>11}")
    lines.append("")
    lines.append(f"{'GPU':>3} {'PID':>8} {'USER':<10} {'GPU-MEM':>8} {'SM':>4} {'CPU':>6} "
                 f"{'RSS':>7} {'TIME':>8}  {'RUN':<12} COMMAND")
    if not s.processes:
        lines.append("  (no GPU processes)")
    for r in s.processes:
        cmd = r.info.command if r.info.resolved else f"<{r.info.reason}>"
        sm = "-" if r.gpu.sm_pct is None else f"{r.gpu.sm_pct}%"
        cpu = "-" if r.info.cpu_pct is None else f"{r.info.cpu_pct:.0f}%"
        line = (f"{r.gpu_index:>3} {r.pid:>8} {r.user[:10]:<10} "
                f"{fmt.bytes_h(r.gpu.gpu_memory_bytes):>8} {sm:>4} {cpu:>6} "
                f"{fmt.bytes_h(r.info.rss_bytes):>7} {fmt.duration(r.elapsed_s):>8}  "
                f"{(r.info.run_id or '-')[:12]:<12} {cmd}")
        lines.append(line[:width] if width else line)
    shares = user_shares(s)
    if shares:
        lines.append("")
        lines.append("by user: " + "  ".join(
            f"{u.user} {len(u.gpus)} GPU{'s' if len(u.gpus) != 1 else ''} "
            f"{fmt.bytes_h(u.gpu_memory_bytes)}" for u in shares))
    return "\n".join(lines)
