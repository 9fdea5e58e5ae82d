"""One-line widgets of the home view: title bar, host line, per-user summary (one widget each)."""

from __future__ import annotations

import time

from rich.text import Text

from ...core import fmt
from ...core.gpus.snapshot import HostInfo, Snapshot
from ...core.gpus.summary import UserShare
from ..palette import PALETTE
from .bars import level_bar
from .cell import BuiltLine


def _spread(left: Text, right: Text, width: int) -> Text:
    """``left`` and ``right`` on one line of ``width``; the left part gives way first."""
    room = width - right.cell_len
    if room < left.cell_len:
        left = left.copy()
        left.truncate(max(0, room - 1), overflow="ellipsis")
    line = left.copy()
    line.append(" " * max(0, width - left.cell_len - right.cell_len))
    line.append_text(right)
    line.truncate(width)
    return line


class TitleBar(BuiltLine):
    """`ftmllm-tui  host · 2 GPUs · 1 free · driver …      REPLAY ⟳1s ◷5m 12:00:01`"""

    DEFAULT_CSS = """
    TitleBar { height: 1; background: $panel; padding: 0 1; }
    """

    def show(self, snapshot: Snapshot | None, *, label: str, interval: float, window_min: int,
             readonly: bool) -> None:
        self.set(snapshot, label, interval, window_min, readonly)

    def build(self, width: int, snapshot: Snapshot | None, label: str, interval: float,
              window_min: int, readonly: bool) -> Text:
        left = Text("ftmllm-tui ", style=f"bold {PALETTE.accent}")
        right = Text()
        if snapshot is not None:
            host = snapshot.host.hostname if snapshot.host and snapshot.host.hostname else None
            if host:
                left.append(host, style="bold")
                left.append(" · ")
            n = len(snapshot.gpus)
            free = len(snapshot.free)
            left.append(f"{n} GPU{'s' if n != 1 else ''}")
            left.append(" · ")
            left.append(f"{free} free", style=f"bold {PALETTE.free}" if free else PALETTE.muted)
            if not snapshot.is_replay:
                left.append(f" · {label}", style=PALETTE.muted)
            else:
                right.append(" REPLAY ", style=PALETTE.badge_replay)
                right.append(" ")
        if readonly:
            right.append(" READ-ONLY ", style=PALETTE.badge_readonly)
            right.append(" ")
        right.append(f"⟳{interval:g}s ", style=PALETTE.muted)
        right.append(f"◷{window_min}m ", style=PALETTE.muted)
        if snapshot is not None:
            # minutes: a ticking second costs every SSH link ~15 B/s and tells nothing the values don't
            right.append(time.strftime("%H:%M", time.localtime(snapshot.recorded_t or snapshot.t)),
                         style="bold")
        return _spread(left, right, width)


class HostLine(BuiltLine):
    """`CPU ██▎····· 7.8%  RAM █▏······ 2.4/23G  load 1.33 0.37 0.13  up 1:17  32 CPUs`"""

    DEFAULT_CSS = """
    HostLine { height: 1; padding: 0 1; }
    """

    def show(self, host: HostInfo | None, replay: bool) -> None:
        self.set(host, replay)

    def build(self, width: int, host: HostInfo | None, replay: bool) -> Text:
        if host is None:
            msg = "host CPU/RAM: not in this recording" if replay else "host CPU/RAM: not available"
            return Text(msg, style=PALETTE.muted)
        t = Text("CPU ", style="bold")
        t.append_text(level_bar(host.cpu_pct, 8, PALETTE.level(host.cpu_pct)))
        t.append(f" {host.cpu_pct or 0:4.1f}%  ")
        t.append("RAM ", style="bold")
        pct = None
        if host.mem_used_bytes is not None and host.mem_total_bytes:
            pct = 100 * host.mem_used_bytes / host.mem_total_bytes
        t.append_text(level_bar(pct, 8, PALETTE.level(pct, 70, 90)))
        t.append(f" {fmt.bytes_h(host.mem_used_bytes)}/{fmt.bytes_h(host.mem_total_bytes)}")
        if host.load:
            t.append("  load ", style=PALETTE.muted)
            t.append(" ".join(f"{x:.2f}" for x in host.load))
        if host.uptime_s is not None:
            t.append("  up ", style=PALETTE.muted)
            t.append(fmt.duration(host.uptime_s))
        if host.cpu_count:
            t.append(f"  {host.cpu_count} CPUs", style=PALETTE.muted)
        t.truncate(width, overflow="ellipsis")
        return t


class UsersLine(BuiltLine):
    """Who holds what: `■ root GPUs 0,1 · 17.4G   ■ alice GPU 0 · 3.7G`."""

    DEFAULT_CSS = """
    UsersLine { height: 1; padding: 0 1; }
    """

    def show(self, shares: tuple[UserShare, ...]) -> None:
        self.set(shares)

    def build(self, width: int, shares: tuple[UserShare, ...]) -> Text:
        t = Text()
        if not shares:
            t.append("no GPU processes", style=PALETTE.muted)
        for i, u in enumerate(shares):
            if i:
                t.append("   ")
            t.append(PALETTE.legend_mark(u.user, [x.user for x in shares]) + " ", style=PALETTE.user(u.user))
            t.append(u.user, style="bold" if u.mine else PALETTE.others)
            n = len(u.gpus)
            gpus = ",".join(map(str, u.gpus))
            t.append(f" GPU{'s' if n != 1 else ''} {gpus} · {fmt.bytes_h(u.gpu_memory_bytes)}",
                     style="" if u.mine else PALETTE.others)
        t.truncate(width, overflow="ellipsis")
        return t
