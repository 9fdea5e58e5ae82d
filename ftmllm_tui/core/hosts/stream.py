"""The streamer (``ftmllm-tui stream``) and the parser of what it prints.

Wire format: JSON lines, the recording format that ``record`` writes, with a header line::

    {"meta": {"stream_schema": 1, "host": "gpu3", "source": "nvml", "interval_s": 1.0, ...}}
    {"t": ..., "count": 8, "devices": [...], "host_procs": {...}, "host": {...}, "sweep_ms": 3.1}
    ...

A reader that meets a ``stream_schema`` it does not know says so and stops (never guesses). The
streamer reads nothing from stdin: it only watches it for end-of-file (the SSH link closed) and
exits then, or when a write to stdout fails (EPIPE). Nothing here imports Textual.
"""

from __future__ import annotations

import json
import os
import select
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from ftmllm_tui.core.gpus.snapshot import Snapshot
from ftmllm_tui.core.gpus.summary import FreeRule
from ftmllm_tui.core.gpus.sweep import build_snapshot

STREAM_SCHEMA = 1


def _watchable(fd: int | None) -> bool:
    """stdin is worth watching for EOF when it is a pipe, a socket or a terminal (what SSH gives);
    not /dev/null or a file (EOF at once: a local `stream </dev/null` would end before it starts)."""
    if fd is None:
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


def _stdin_closed(fd: int) -> bool:
    try:
        data = os.read(fd, 4096)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b""


def run_streamer(sampler, out: IO[str], *, interval: float, app_version: str,
                 stdin_fd: int | None = None, host: str | None = None,
                 clock: Callable[[], float] = time.monotonic, max_sweeps: int | None = None) -> int:
    """Print the header then one sweep per ``interval`` until stdin reaches EOF or stdout breaks;
    returns the number of sweeps written. ``stdin_fd``: the descriptor to watch (None: none)."""
    watch = stdin_fd if _watchable(stdin_fd) else None
    meta = dict(sampler.meta())
    meta.update({"stream_schema": STREAM_SCHEMA, "host": host or socket.gethostname(),
                 "source": sampler.source, "interval_s": interval, "pid": os.getpid(),
                 "user": getattr(sampler, "me", None),
                 "recorded_by": f"ftmllm-tui {app_version}"})
    n = 0
    try:
        out.write(json.dumps({"meta": meta}, separators=(",", ":")) + "\n")
        out.flush()
        if sampler.source == "nvml":  # prime the CPU % counters
            sampler.sweep()
        while True:
            t0 = clock()
            sweep = sampler.sweep()
            if sampler.source != "nvml":  # a replayed sweep is stamped with the time it is sent
                sweep = {**sweep, "t": round(time.time(), 3), "recorded_t": sweep.get("t")}
            out.write(json.dumps(sweep, separators=(",", ":")) + "\n")
            out.flush()
            n += 1
            if max_sweeps is not None and n >= max_sweeps:
                return n
            wait = max(0.0, interval - (clock() - t0))
            if watch is None:
                time.sleep(wait)
                continue
            end = clock() + wait
            while True:
                left = end - clock()
                if left <= 0:
                    break
                ready, _, _ = select.select([watch], [], [], left)
                if ready and _stdin_closed(watch):
                    return n
    except (BrokenPipeError, ConnectionResetError):
        return n


class StreamError(ValueError):
    """A stream that cannot be read (wrong schema version, not JSON from the start)."""


@dataclass
class StreamDecoder:
    """Turns the streamer's lines into frozen snapshots through the same parser as replay."""

    me: str
    free_rule: FreeRule = FreeRule()
    meta: dict[str, Any] | None = None
    source: str = "remote"
    noise: int = 0  # lines before the header that were not JSON (a login profile that prints)
    MAX_NOISE = 200

    def feed(self, line: str | bytes, now: float | None = None) -> Snapshot | None:
        """One line: the header (returns None), a sweep (returns its snapshot); a bad line before
        the header raises :class:`StreamError`; a bad line after it is skipped (None)."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        line = line.strip()
        if not line:
            return None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if self.meta is None:
                self.noise += 1  # e.g. a profile's greeting on stdout: skipped, up to a point
                if self.noise > self.MAX_NOISE:
                    raise StreamError(f"not a ftmllm-tui stream: {line[:120]!r}") from None
            return None
        if not isinstance(obj, dict):
            return None
        if "meta" in obj and "devices" not in obj:
            meta = obj["meta"] if isinstance(obj["meta"], dict) else {}
            schema = meta.get("stream_schema")
            if schema != STREAM_SCHEMA:
                raise StreamError(f"stream schema version {schema!r} is not known to this ftmllm-tui "
                                  f"(it reads version {STREAM_SCHEMA}): install the same version on both "
                                  "hosts")
            self.meta = meta
            self.source = str(meta.get("source") or "remote")
            return None
        if self.meta is None:
            raise StreamError("stream sent data before its header (an older or different program?)")
        if not isinstance(obj.get("devices"), list):
            return None
        now = time.time() if now is None else now
        # "nvml" elapsed times count from now; a replayed remote sweep carries its recorded time
        sweep = obj
        source = self.source
        if source == "replay" and obj.get("recorded_t") is not None:
            sweep = {**obj, "t": obj["recorded_t"]}
        me = str(self.meta.get("user") or self.me)  # "mine" means the remote login's processes
        return build_snapshot(sweep, source=source, me=me, now=now,
                              driver_version=self.meta.get("driver"), free_rule=self.free_rule)
