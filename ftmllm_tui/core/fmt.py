"""Plain-text formatting of sizes and durations, shared by the CLI and the UI."""

from __future__ import annotations

import shlex


def bytes_h(n: int | float | None, *, unit: str | None = None) -> str:
    """1.5G / 820M / 12K, or '-' for unknown."""
    if n is None:
        return "-"
    n = float(n)
    for suffix, size in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if unit == suffix or (unit is None and abs(n) >= size):
            v = n / size
            return f"{v:.1f}{suffix}" if v < 100 else f"{v:.0f}{suffix}"
    return f"{n:.0f}B"


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024**2:.0f}MiB"


def duration(seconds: float | None) -> str:
    """7s, 4:05, 3:02:01, 2d03h."""
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d{h:02d}h"
    if h:
        return f"{h}:{m:02d}:{s:02d}"
    return f"{m}:{s:02d}"


def age(seconds: float | None) -> str:
    """42s, 12m, 3h02m, 2d03h: how long a process has run, at the resolution that matters for it
    (a live table that shows this changes once a minute, not every second)."""
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    m = s // 60
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def command_line(argv: tuple[str, ...] | list[str]) -> str:
    """A command as a shell would need it typed (so it can be copied)."""
    return " ".join(shlex.quote(a) if a else "''" for a in argv)


def short_command(argv: tuple[str, ...] | list[str]) -> str:
    """``python -u train.py --x`` with interpreter and script paths reduced to their names."""
    if not argv:
        return ""
    parts = list(argv)
    out = []
    for i, a in enumerate(parts):
        if i < 3 and "/" in a and not a.startswith("-"):
            a = a.rsplit("/", 1)[-1]
        out.append(a)
    return " ".join(out)
