"""Sampling cost per refresh: everything one refresh does before the UI sees a snapshot.

* ``replay``: ReplaySampler.sample() on the bundled real 2×H200 recording (parse + join).
* ``live-recorded``: LiveSampler over recorded NVML answers (tests/fakenvml.py): our NVML reading
  code, the psutil join and the parse, without NVML's own latency (there is no GPU here).
* ``live``: LiveSampler on real NVML, when this machine has a GPU; with ``--peer`` also nvitop
  1.7.2's ``Device.as_snapshot()`` for every device plus its processes' snapshots (DESIGN.md §4).

Prints one JSON object per line: name, median_ms, p90_ms, max_ms, n.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def timed(fn, n: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    xs.sort()
    return {"median_ms": round(statistics.median(xs), 3), "p90_ms": round(xs[int(0.9 * (n - 1))], 3),
            "max_ms": round(xs[-1], 3), "n": n}


class TimingNvml:
    """Proxy of pynvml that adds up wall and CPU time per NVML function."""

    def __init__(self, nv):
        self._nv = nv
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __getattr__(self, name):
        attr = getattr(self._nv, name)
        if not callable(attr) or not name.startswith("nvml") or isinstance(attr, type):
            return attr

        def timed_call(*a, **kw):
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return attr(*a, **kw)
            finally:
                self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w0
                self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c0

        timed_call.__name__ = name
        return timed_call


def breakdown(n: int) -> list[dict]:
    import pynvml

    from ftmllm_tui.core.gpus.nvml import NvmlReader

    proxy = TimingNvml(pynvml)
    reader = NvmlReader(proxy)
    reader.read()
    proxy.wall.clear(), proxy.cpu.clear()
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        reader.read()
        time.sleep(0.02)
    wall_total = (time.perf_counter() - w0 - 0.02 * n) * 1000 / n
    cpu_total = (time.process_time() - c0) * 1000 / n
    rows = [{"name": f"nvml:{k}", "wall_ms_per_read": round(v * 1000 / n, 4),
             "cpu_ms_per_read": round(proxy.cpu[k] * 1000 / n, 4)}
            for k, v in sorted(proxy.wall.items(), key=lambda kv: -kv[1])]
    rows.append({"name": "nvml:read() total", "wall_ms_per_read": round(wall_total, 3),
                 "cpu_ms_per_read": round(cpu_total, 3)})
    return rows


def nvitop_snapshot_fn():
    from nvitop import Device, GpuProcess

    devices = Device.all()

    def snap():
        snaps = [d.as_snapshot() for d in devices]
        procs = []
        for d in devices:
            ps = d.processes()
            procs += GpuProcess.take_snapshots(ps.values(), failsafe=True)
        return snaps, procs

    return snap


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--peer", action="store_true", help="also time nvitop (GPU host only)")
    ap.add_argument("--breakdown", action="store_true", help="per NVML call, wall and CPU (GPU host)")
    a = ap.parse_args()

    from ftmllm_tui.core.gpus.nvml import NvmlReader, NvmlUnavailable
    from ftmllm_tui.core.gpus.samplers import LiveSampler, ReplaySampler, bundled_recording, load_recording

    rows = []
    rep = ReplaySampler(bundled_recording(), me="root")
    rows.append({"name": "replay", **timed(rep.sample, a.n)})

    from fakenvml import FakeNvml

    rec = load_recording(bundled_recording())
    fake = FakeNvml(list(rec.sweeps), rec.meta)
    live_rec = LiveSampler(NvmlReader(fake), me="root")

    def step():
        live_rec.sample()
        fake.advance()

    rows.append({"name": "live-recorded", **timed(step, a.n)})

    try:
        live = LiveSampler(me="root")
    except NvmlUnavailable as e:
        rows.append({"name": "live", "skipped": str(e)})
    else:
        snap = live.sample()
        info = {"gpus": len(snap.gpus), "processes": len(snap.processes)}
        rows.append({"name": "live", **info, **timed(live.sample, a.n)})
        c0 = time.process_time()
        for _ in range(a.n):
            live.sample()
        rows.append({"name": "live CPU time per sample", "cpu_ms": round((time.process_time() - c0) * 1000 / a.n, 3)})
        if a.breakdown:
            rows += breakdown(a.n)
        if a.peer:
            try:
                fn = nvitop_snapshot_fn()
            except Exception as e:  # nvitop missing
                rows.append({"name": "nvitop", "skipped": f"{type(e).__name__}: {e}"})
            else:
                rows.append({"name": "nvitop", **info, **timed(fn, max(20, a.n // 4))})
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
