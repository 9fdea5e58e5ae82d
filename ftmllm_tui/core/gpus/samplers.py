"""Samplers: live (NVML + psutil) and replay (a recorded JSONL), both ending in :func:`build_snapshot`.

A sampler is called from a worker thread, one ``sample()`` at a time; it returns an immutable
:class:`~.snapshot.Snapshot`. Nothing here touches the UI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ftmllm_tui.core.gpus.host import HostSampler
from ftmllm_tui.core.gpus.nvml import PROC_UTIL_EVERY_S, NvmlReader, NvmlUnavailable
from ftmllm_tui.core.gpus.processes import ProcessSampler, current_user
from ftmllm_tui.core.gpus.snapshot import Snapshot
from ftmllm_tui.core.gpus.summary import FreeRule
from ftmllm_tui.core.gpus.sweep import build_snapshot

BUNDLED_RECORDING = "h200x2_torchrun_and_other_user.jsonl"


def bundled_recording() -> Path:
    """The real 2×H200 recording shipped as package data (used when there is no GPU)."""
    # importlib.resources only for the bundled replay: a live session does not load it
    from importlib import resources

    return Path(str(resources.files("ftmllm_tui.data").joinpath(BUNDLED_RECORDING)))


class LiveSampler:
    source = "nvml"

    def __init__(self, reader: NvmlReader | None = None, *, me: str | None = None,
                 clock: Callable[[], float] = time.time):
        self.reader = reader or NvmlReader()
        self.procs = ProcessSampler()
        self.host = HostSampler()
        self.me = me or current_user()
        self.clock = clock
        self.free_rule = FreeRule()

    @property
    def label(self) -> str:
        return f"NVML · driver {self.reader.driver_version or '?'}"

    def sweep(self) -> dict[str, Any]:
        """One raw sweep in the recording format (devices, host_procs, host)."""
        t0 = time.perf_counter()
        raw = self.reader.read()
        pids = {
            p["pid"]
            for d in raw["devices"]
            for key in ("compute_procs", "graphics_procs")
            if isinstance(d.get(key), list)
            for p in d[key]
        }
        raw["host_procs"] = self.procs.describe(pids)
        raw["host"] = self.host.read()
        raw["sweep_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        return raw

    def sample(self) -> Snapshot:
        return build_snapshot(self.sweep(), source=self.source, me=self.me, now=self.clock(),
                              driver_version=self.reader.driver_version, free_rule=self.free_rule)

    def meta(self) -> dict[str, Any]:
        return self.reader.meta()

    def close(self) -> None:
        self.reader.close()


class ReplayError(ValueError):
    """A recording that cannot be replayed (missing, empty, not JSON lines)."""


@dataclass(frozen=True)
class Recording:
    path: Path
    meta: dict[str, Any]
    sweeps: tuple[dict[str, Any], ...]
    skipped_lines: int


def load_recording(path: str | Path) -> Recording:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ReplayError(f"recording not found: {p}") from None
    except IsADirectoryError:
        raise ReplayError(f"{p} is a directory, not a recording (.jsonl)") from None
    except PermissionError:
        raise ReplayError(f"permission denied reading {p}") from None
    meta: dict[str, Any] = {}
    sweeps = []
    skipped = 0
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1  # e.g. a half-written last line of a recording still being written
            continue
        if not isinstance(obj, dict):
            skipped += 1
        elif "meta" in obj and "devices" not in obj:
            meta = obj["meta"] if isinstance(obj["meta"], dict) else {}
        elif isinstance(obj.get("devices"), list):
            sweeps.append(obj)
        else:
            skipped += 1
    if not sweeps:
        raise ReplayError(f"{p} holds no sweeps (expected JSON lines with a 'devices' list)")
    return Recording(p, meta, tuple(sweeps), skipped)


class ReplaySampler:
    """Feeds a recording through the same parser as the live sampler, looping."""

    source = "replay"

    def __init__(self, path: str | Path, *, me: str | None = None,
                 clock: Callable[[], float] = time.time):
        self.recording = load_recording(path)
        self.me = me or current_user()
        self.clock = clock
        self.position = 0
        self.free_rule = FreeRule()

    @property
    def label(self) -> str:
        return f"REPLAY · {self.recording.path.name}"

    def sweep(self) -> dict[str, Any]:
        s = self.recording.sweeps[self.position % len(self.recording.sweeps)]
        self.position += 1
        return s

    def sample(self) -> Snapshot:
        return build_snapshot(self.sweep(), source=self.source, me=self.me, now=self.clock(),
                              driver_version=self.recording.meta.get("driver"), free_rule=self.free_rule)

    def meta(self) -> dict[str, Any]:
        return dict(self.recording.meta)

    def close(self) -> None:
        pass


Sampler = LiveSampler | ReplaySampler


@dataclass(frozen=True)
class Opened:
    sampler: Sampler
    reason: str | None  # why we fell back to replay (no driver...), None when live or asked for


def open_sampler(replay: str | Path | None = None, *, fallback: bool = True,
                 me: str | None = None, proc_util_every_s: float = PROC_UTIL_EVERY_S) -> Opened:
    """Live NVML when possible; ``--replay FILE`` when asked; the bundled recording otherwise."""
    if replay is not None:
        return Opened(ReplaySampler(replay, me=me), None)
    try:
        return Opened(LiveSampler(NvmlReader(proc_util_every_s=proc_util_every_s), me=me), None)
    except NvmlUnavailable as e:
        if not fallback:
            raise
        return Opened(ReplaySampler(bundled_recording(), me=me), str(e))


def write_recording(sampler: Sampler, out: IO[str], *, seconds: float, interval: float,
                    app_version: str, stop: Callable[[], bool] = lambda: False) -> int:
    """Write ``{"meta"}`` then one sweep per ``interval`` for ``seconds``; returns the sweep count."""
    meta = dict(sampler.meta())
    meta.update({"recorded_by": f"ftmllm-tui {app_version}", "interval_s": interval})
    out.write(json.dumps({"meta": meta}) + "\n")
    if sampler.source == "nvml":  # prime CPU % counters so the first recorded sweep has them
        sampler.sweep()
        time.sleep(min(interval, 0.2))
    n = 0
    end = time.monotonic() + seconds
    while True:
        t0 = time.monotonic()
        out.write(json.dumps(sampler.sweep(), separators=(",", ":")) + "\n")
        out.flush()
        n += 1
        if stop() or t0 + interval > end:
            return n
        time.sleep(max(0.0, interval - (time.monotonic() - t0)))
