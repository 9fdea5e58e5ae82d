"""GPUs: one compact row per GPU (8 fit in 80×24) or richer cards on large terminals."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget

from ...core.history import GpuHistory
from ...core.snapshot import GpuReading, Snapshot
from ...core.summary import WORRYING_THROTTLE, is_free, memory_by_user, short_gpu_name, throttle_words
from ..palette import PALETTE
from .bars import level_bar, split_bar
from .cell import Cell, Spark

GIB = 1024**3


def mem_text(g: GpuReading) -> str:
    if g.memory_used_bytes is None or g.memory_total_bytes is None:
        return "-"
    used, total = g.memory_used_bytes / GIB, g.memory_total_bytes / GIB
    return f"{used:.1f}/{total:.0f}G" if used < 100 else f"{used:.0f}/{total:.0f}G"


def mem_parts(snapshot: Snapshot, g: GpuReading) -> list[tuple[float, str]]:
    """Memory split by user (stable colours), plus what no listed process accounts for."""
    parts = [(float(b), PALETTE.user(u)) for u, b in memory_by_user(snapshot, g.index)]
    listed = sum(b for b, _ in parts)
    if g.memory_used_bytes is not None and g.memory_used_bytes > listed:
        parts.append((float(g.memory_used_bytes - listed), PALETTE.unattributed))
    return parts


def temp_text(g: GpuReading) -> Text:
    if g.temperature_c is None:
        return Text("  -", style=PALETTE.muted)
    return Text(f"{g.temperature_c}°C", style=PALETTE.level(g.temperature_c, 75, 85))


def power_text(g: GpuReading, with_limit: bool = True) -> Text:
    if g.power_w is None:
        return Text("-", style=PALETTE.muted)
    s = f"{g.power_w:.0f}"
    if with_limit and g.power_limit_w:
        s += f"/{g.power_limit_w:.0f}"
    pct = 100 * g.power_w / g.power_limit_w if g.power_limit_w else None
    return Text(s + "W", style=PALETTE.level(pct, 80, 95))


def util_text(g: GpuReading) -> Text:
    if g.utilization_pct is None:
        return Text("   -", style=PALETTE.muted)
    return Text(f"{g.utilization_pct:>3}%", style=PALETTE.level(g.utilization_pct))


def index_text(g: GpuReading, free: bool) -> Text:
    if g.error:
        return Text(f"{g.index:>2}", style=f"bold {PALETTE.danger}")
    return Text(f"{g.index:>2}", style=f"bold {PALETTE.free}" if free else "bold")


class GpuRow(Horizontal):
    """` 0 H200  ██████▌··· 72%  ███▒▒······ 12.4/140G 58°C 531/700W ▁▂▃▅▇█`"""

    DEFAULT_CSS = """
    GpuRow { height: 1; }
    GpuRow .idx { width: 3; }
    GpuRow .name { width: 7; }
    GpuRow .ubar { width: 10; }
    GpuRow .upct { width: 5; content-align: right middle; }
    GpuRow .mbar { width: 12; margin-left: 1; }
    GpuRow .mtxt { width: 11; content-align: right middle; }
    GpuRow .temp { width: 5; content-align: right middle; }
    GpuRow .pow { width: 10; content-align: right middle; }
    GpuRow Spark { margin-left: 1; }
    GpuRow .err { width: 1fr; display: none; }
    GpuRow.-error .metric { display: none; }
    GpuRow.-error .err { display: block; }
    """

    def __init__(self, index: int, **kw):
        super().__init__(**kw)
        self.index = index
        self._pending: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Cell(classes="idx")
        yield Cell(classes="name")
        yield Cell(classes="ubar metric")
        yield Cell(classes="upct metric")
        yield Cell(classes="mbar metric")
        yield Cell(classes="mtxt metric")
        yield Cell(classes="temp metric")
        yield Cell(classes="pow metric")
        yield Spark(classes="metric")
        yield Cell(classes="err")

    def on_mount(self) -> None:
        if self._pending:
            self._apply(*self._pending)

    def show(self, snapshot: Snapshot, g: GpuReading, history: GpuHistory, window_s: int) -> None:
        self._pending = (snapshot, g, history, window_s)
        if self.is_mounted:
            self._apply(snapshot, g, history, window_s)

    def _apply(self, snapshot: Snapshot, g: GpuReading, history: GpuHistory, window_s: int) -> None:
        q = self.query_one
        free = is_free(g)
        q(".idx", Cell).show(index_text(g, free))
        name = Text(short_gpu_name(g.name), style=PALETTE.free if free else "")
        q(".name", Cell).show(name)
        self.set_class(bool(g.error), "-error")
        if g.error:
            q(".err", Cell).show(Text(f"unreadable: {g.error}", style=PALETTE.danger))
            return
        colour = PALETTE.level(g.utilization_pct)
        q(".ubar", Cell).show(level_bar(g.utilization_pct, 10, colour))
        q(".upct", Cell).show(util_text(g))
        q(".mbar", Cell).show(split_bar(mem_parts(snapshot, g), g.memory_total_bytes, 12))
        q(".mtxt", Cell).show(Text(mem_text(g)))
        q(".temp", Cell).show(temp_text(g))
        q(".pow", Cell).show(power_text(g))
        q(Spark).track(history.util.get(g.index), snapshot.t, window_s)


class GpuCard(Vertical):
    """A bordered card: utilisation and memory with history, clocks, throttling, who holds it."""

    DEFAULT_CSS = """
    GpuCard { height: 6; border: round $panel-lighten-2; padding: 0 1; }
    GpuCard.-free { border: round $success; }
    GpuCard.-error { border: round $error; }
    GpuCard Horizontal { height: 1; }
    GpuCard .lbl { width: 5; color: $text-muted; }
    GpuCard .bar { width: 20; }
    GpuCard .pct { width: 6; content-align: right middle; }
    GpuCard .mtxt { width: 12; content-align: right middle; }
    GpuCard Spark { margin-left: 1; }
    GpuCard .details { width: 1fr; }
    GpuCard .users { width: 1fr; }
    """

    def __init__(self, index: int, **kw):
        super().__init__(**kw)
        self.index = index
        self._pending: tuple | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Cell("UTIL", classes="lbl")
            yield Cell(classes="bar ubar")
            yield Cell(classes="pct upct")
            yield Spark(classes="uspark")
        with Horizontal():
            yield Cell("MEM", classes="lbl")
            yield Cell(classes="bar mbar")
            yield Cell(classes="mtxt")
            yield Spark(colour="#5f87d7", classes="mspark")
        with Horizontal():
            yield Cell(classes="details")
        with Horizontal():
            yield Cell(classes="users")

    def on_mount(self) -> None:
        if self._pending:
            self._apply(*self._pending)

    def show(self, snapshot: Snapshot, g: GpuReading, history: GpuHistory, window_s: int) -> None:
        self._pending = (snapshot, g, history, window_s)
        if self.is_mounted:
            self._apply(snapshot, g, history, window_s)

    def _apply(self, snapshot: Snapshot, g: GpuReading, history: GpuHistory, window_s: int) -> None:
        q = self.query_one
        free = is_free(g)
        title = f"GPU {g.index} · {g.name or '?'}"
        if g.bus_id:
            title += f" · {g.bus_id.split(':', 1)[-1]}"
        if g.mig_enabled:
            title += f" · MIG ×{len(g.mig_devices)}"
        sub = "FREE" if free else f"{len(g.processes)} proc" + ("s" if len(g.processes) != 1 else "")
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != sub:
            self.border_subtitle = sub
        self.set_class(free, "-free")
        self.set_class(bool(g.error), "-error")
        if g.error:
            q(".details", Cell).show(Text(f"unreadable: {g.error}", style=PALETTE.danger))
            return
        colour = PALETTE.level(g.utilization_pct)
        q(".ubar", Cell).show(level_bar(g.utilization_pct, 20, colour))
        q(".upct", Cell).show(util_text(g))
        q(".uspark", Spark).track(history.util.get(g.index), snapshot.t, window_s)
        q(".mbar", Cell).show(split_bar(mem_parts(snapshot, g), g.memory_total_bytes, 20))
        q(".mtxt", Cell).show(Text(mem_text(g)))
        q(".mspark", Spark).track(history.mem.get(g.index), snapshot.t, window_s)
        q(".details", Cell).show(details_text(g))
        q(".users", Cell).show(users_text(snapshot, g))


def details_text(g: GpuReading) -> Text:
    t = Text()
    t.append_text(temp_text(g))
    t.append("  ")
    t.append_text(power_text(g))
    if g.sm_clock_mhz is not None:
        t.append(f"  SM {g.sm_clock_mhz} MHz", style=PALETTE.muted)
    if g.mem_clock_mhz is not None:
        t.append(f"  MEM {g.mem_clock_mhz} MHz", style=PALETTE.muted)
    if g.pstate is not None:
        t.append(f"  P{g.pstate}", style=PALETTE.muted)
    if g.fan_pct is not None:
        t.append(f"  fan {g.fan_pct}%", style=PALETTE.muted)
    if g.ecc_uncorrected:
        t.append(f"  ECC {g.ecc_uncorrected}", style=PALETTE.danger)
    words = throttle_words(g.throttle_reasons)
    if words:
        worrying = bool((g.throttle_reasons or 0) & WORRYING_THROTTLE)
        t.append("  ⚠ " + ", ".join(words) if worrying else "  " + ", ".join(words),
                 style=PALETTE.danger if worrying else PALETTE.muted)
    return t


def users_text(snapshot: Snapshot, g: GpuReading) -> Text:
    t = Text()
    users = memory_by_user(snapshot, g.index)
    if not users:
        t.append("no processes", style=PALETTE.free if is_free(g) else PALETTE.muted)
        return t
    for i, (user, b) in enumerate(users):
        if i:
            t.append("  ")
        t.append("■ ", style=PALETTE.user(user))
        mine = user == snapshot.me
        t.append(f"{user} {b / GIB:.1f}G", style="bold" if mine else PALETTE.others)
    return t


class GpuPanel(Vertical):
    """Holds a GpuRow or a GpuCard per GPU; ``mode`` is "compact" or "cards"."""

    DEFAULT_CSS = """
    GpuPanel { height: auto; }
    GpuPanel.-cards { layout: grid; grid-size: 1; grid-gutter: 0 1; }
    GpuPanel.-cards.-two { grid-size: 2; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self.mode = "compact"
        self.columns = 1
        self._indices: tuple[int, ...] = ()
        self._widgets: dict[int, GpuRow | GpuCard] = {}

    def configure(self, mode: str, columns: int, indices: tuple[int, ...]) -> None:
        """Rebuild children when the mode, the column count or the set of GPUs changes."""
        if (mode, columns, indices) == (self.mode, self.columns, self._indices) and self._widgets:
            return
        self.mode, self.columns, self._indices = mode, columns, indices
        self.set_class(mode == "cards", "-cards")
        self.set_class(columns == 2, "-two")
        self.remove_children()
        cls = GpuCard if mode == "cards" else GpuRow
        self._widgets = {i: cls(i) for i in indices}
        self.mount_all(list(self._widgets.values()))

    def show(self, snapshot: Snapshot, history: GpuHistory, window_s: int) -> None:
        for g in snapshot.gpus:
            w = self._widgets.get(g.index)
            if w is not None:
                w.show(snapshot, g, history, window_s)
