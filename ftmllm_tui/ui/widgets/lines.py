"""One-line widgets of the home view: title bar, host line, per-user summary."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal

from ...core import fmt
from ...core.snapshot import HostInfo, Snapshot
from ...core.summary import UserShare, free_gpus
from ..palette import PALETTE
from .bars import level_bar
from .cell import Cell


class TitleBar(Horizontal):
    """`ftmllm-tui  host · 2 GPUs · 1 free        REPLAY  1.0s  5m  12:00:01`"""

    DEFAULT_CSS = """
    TitleBar { height: 1; background: $panel; }
    TitleBar .app { width: auto; text-style: bold; color: $accent; padding: 0 1; }
    TitleBar .what { width: 1fr; }
    TitleBar .badges { width: auto; padding-right: 1; }
    TitleBar .clock { width: 9; }
    """

    def compose(self) -> ComposeResult:
        yield Cell("ftmllm-tui", classes="app")
        yield Cell(classes="what")
        yield Cell(classes="badges")
        yield Cell(classes="clock")

    def show(self, snapshot: Snapshot | None, *, label: str, interval: float, window_min: int,
             readonly: bool) -> None:
        what = Text()
        badges = Text()
        if snapshot is not None:
            host = snapshot.host.hostname if snapshot.host and snapshot.host.hostname else None
            if host:
                what.append(host, style="bold")
                what.append(" · ")
            n = len(snapshot.gpus)
            free = len(free_gpus(snapshot))
            what.append(f"{n} GPU{'s' if n != 1 else ''}")
            what.append(" · ")
            what.append(f"{free} free", style=f"bold {PALETTE.free}" if free else PALETTE.muted)
            if not snapshot.is_replay:
                what.append(f" · {label}", style=PALETTE.muted)
            if snapshot.is_replay:
                badges.append(" REPLAY ", style="bold black on #ffd75f")
                badges.append(" ")
        if readonly:
            badges.append(" READ-ONLY ", style="bold black on #87afd7")
            badges.append(" ")
        badges.append(f"⟳{interval:g}s ", style=PALETTE.muted)
        badges.append(f"◷{window_min}m", style=PALETTE.muted)
        self.query_one(".what", Cell).show(what)
        self.query_one(".badges", Cell).show(badges)
        clock = ""
        if snapshot is not None:
            clock = time.strftime("%H:%M:%S", time.localtime(snapshot.recorded_t or snapshot.t))
        self.query_one(".clock", Cell).show(Text(clock, style="bold"))


class HostLine(Horizontal):
    """`CPU ██▎····· 7.8%  RAM █▏······ 2.4/23G  load 1.33 0.37 0.13  up 1:17`"""

    DEFAULT_CSS = """
    HostLine { height: 1; padding: 0 1; }
    HostLine .cpu { width: 20; }
    HostLine .ram { width: 25; }
    HostLine .rest { width: 1fr; }
    HostLine.-none .cpu, HostLine.-none .ram { display: none; }
    """

    def compose(self) -> ComposeResult:
        yield Cell(classes="cpu")
        yield Cell(classes="ram")
        yield Cell(classes="rest")

    def show(self, host: HostInfo | None, replay: bool) -> None:
        self.set_class(host is None, "-none")
        if host is None:
            msg = "host CPU/RAM: not in this recording" if replay else "host CPU/RAM: not available"
            self.query_one(".rest", Cell).show(Text(msg, style=PALETTE.muted))
            return
        cpu = Text("CPU ", style="bold")
        cpu.append_text(level_bar(host.cpu_pct, 8, PALETTE.level(host.cpu_pct)))
        cpu.append(f" {host.cpu_pct or 0:4.1f}%")
        ram = Text("RAM ", style="bold")
        pct = None
        if host.mem_used_bytes is not None and host.mem_total_bytes:
            pct = 100 * host.mem_used_bytes / host.mem_total_bytes
        ram.append_text(level_bar(pct, 8, PALETTE.level(pct, 70, 90)))
        ram.append(f" {fmt.bytes_h(host.mem_used_bytes)}/{fmt.bytes_h(host.mem_total_bytes)}")
        rest = Text()
        if host.load:
            rest.append("load ", style=PALETTE.muted)
            rest.append(" ".join(f"{x:.2f}" for x in host.load))
        if host.uptime_s is not None:
            rest.append("  up ", style=PALETTE.muted)
            rest.append(fmt.duration(host.uptime_s))
        if host.cpu_count:
            rest.append(f"  {host.cpu_count} CPUs", style=PALETTE.muted)
        self.query_one(".cpu", Cell).show(cpu)
        self.query_one(".ram", Cell).show(ram)
        self.query_one(".rest", Cell).show(rest)


class UsersLine(Horizontal):
    """Who holds what: `■ root 2 GPUs 17.4G  ■ alice 1 GPU 3.7G`."""

    DEFAULT_CSS = """
    UsersLine { height: 1; padding: 0 1; }
    UsersLine .users { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Cell(classes="users")

    def show(self, shares: tuple[UserShare, ...]) -> None:
        t = Text()
        if not shares:
            t.append("no GPU processes", style=PALETTE.muted)
        for i, u in enumerate(shares):
            if i:
                t.append("   ")
            t.append("■ ", style=PALETTE.user(u.user))
            t.append(u.user, style="bold" if u.mine else PALETTE.others)
            n = len(u.gpus)
            gpus = ",".join(map(str, u.gpus))
            t.append(f" GPU{'s' if n != 1 else ''} {gpus} · {fmt.bytes_h(u.gpu_memory_bytes)}",
                     style="" if u.mine else PALETTE.others)
        self.query_one(".users", Cell).show(t)
