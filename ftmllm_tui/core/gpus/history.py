"""Per-GPU history in ring buffers of one-second buckets, sized for 60 minutes.

Buckets are keyed by wall-clock second, so the window shown (1/5/15/60 min) does not depend on
the refresh interval: a 0.5 s refresh writes twice into a bucket (the peak is kept), a 5 s refresh
leaves gaps that are skipped when the window is squeezed into a sparkline's columns.
"""

from __future__ import annotations

import math
from array import array

WINDOWS_MIN = (1, 5, 15, 60)
CAPACITY_S = 60 * 60

_NAN = float("nan")


class Ring:
    """One series: ``CAPACITY_S`` one-second buckets."""

    __slots__ = ("_vals", "_secs", "capacity", "_cache")

    def __init__(self, capacity: int = CAPACITY_S):
        self.capacity = capacity
        self._vals = array("d", [_NAN]) * capacity
        self._secs = array("q", [-1]) * capacity
        self._cache: dict[tuple[int, int], float | None] = {}

    def add(self, t: float, value: float | None) -> None:
        if value is None:
            return
        sec = int(t)
        i = sec % self.capacity
        if self._secs[i] == sec and not math.isnan(self._vals[i]):
            self._vals[i] = max(self._vals[i], value)
        else:
            self._secs[i] = sec
            self._vals[i] = value

    def window(self, now: float, seconds: int, columns: int) -> list[float | None]:
        """``columns`` values covering about the last ``seconds`` (peak per column; None = no data).

        Columns are aligned to multiples of their width in wall-clock seconds, so finished columns
        never change (they are cached) and a sparkline only moves when a new column starts.
        """
        columns = max(1, columns)
        seconds = max(1, min(seconds, self.capacity))
        step = max(1, -(-seconds // columns))
        last_k = int(now) // step
        out: list[float | None] = []
        cache = self._cache
        if len(cache) > 4 * columns + 64:
            cache.clear()
        for k in range(last_k - columns + 1, last_k + 1):
            key = (step, k)
            if k < last_k and key in cache:
                out.append(cache[key])
                continue
            best: float | None = None
            lo = k * step
            for sec in range(max(lo, int(now) - self.capacity + 1), lo + step):
                i = sec % self.capacity
                if self._secs[i] == sec:
                    v = self._vals[i]
                    if best is None or v > best:
                        best = v
            if k < last_k:
                cache[key] = best
            out.append(best)
        return out

    def last(self) -> float | None:
        best_sec, best = -1, None
        for i in range(self.capacity):
            if self._secs[i] > best_sec:
                best_sec, best = self._secs[i], self._vals[i]
        return best


class GpuHistory:
    """Utilisation and memory (% of total) per GPU index."""

    def __init__(self) -> None:
        self.util: dict[int, Ring] = {}
        self.mem: dict[int, Ring] = {}

    def record(self, snapshot) -> None:  # Snapshot; untyped to keep this module tiny
        for g in snapshot.gpus:
            u = self.util.setdefault(g.index, Ring())
            m = self.mem.setdefault(g.index, Ring())
            u.add(snapshot.t, g.utilization_pct)
            frac = g.memory_fraction
            m.add(snapshot.t, None if frac is None else 100.0 * frac)
