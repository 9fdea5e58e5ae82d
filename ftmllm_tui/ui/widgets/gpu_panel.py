"""GPUs: one compact row per GPU (8 fit in 80×24) or richer cards on large terminals."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical

from ...core.gpus.history import GpuHistory
from ...core.gpus.snapshot import GpuReading, Snapshot
from ...core.gpus.summary import WORRYING_THROTTLE, memory_by_user, short_gpu_name, throttle_words
from ..palette import PALETTE
from .bars import level_bar, sparkline, split_bar
from .cell import BuiltLine

GIB = 1024**3


def mem_text(g: GpuReading) -> str:
    if g.memory_used_bytes is None or g.memory_total_bytes is None:
        return "-"
    used, total = g.memory_used_bytes / GIB, g.memory_total_bytes / GIB
    return f"{used:.1f}/{total:.0f}G" if used < 100 else f"{used:.0f}/{total:.0f}G"


def present_users(snapshot: Snapshot) -> tuple[str, ...]:
    """Every user with a GPU process (the set glyphs are handed out over, see Palette.user_mark)."""
    return tuple(sorted({row.user for row in snapshot.processes}))


def mem_parts(snapshot: Snapshot, g: GpuReading) -> list[tuple[float, str, str]]:
    """Memory split by user (stable colours; glyphs too in themes that have one per user), plus
    what no listed process accounts for."""
    present = present_users(snapshot)
    parts = [(float(b), PALETTE.user(u), PALETTE.user_mark(u, present))
             for u, b in memory_by_user(snapshot, g.index)]
    listed = sum(p[0] for p in parts)
    if g.memory_used_bytes is not None and g.memory_used_bytes > listed:
        parts.append((float(g.memory_used_bytes - listed), PALETTE.unattributed, PALETTE.unattributed_mark))
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


def bar_growth(width: int, base: int) -> int:
    """Extra bar cells beyond ``base`` columns: a quarter of the extra width, at most 30."""
    return max(0, min(30, (width - base) // 4))


def fit(t: Text, width: int, right: bool = False) -> Text:
    """Exactly ``width`` cells: cut with an ellipsis, or padded (left when ``right``)."""
    t = t.copy()
    t.truncate(width, overflow="ellipsis")
    pad = width - t.cell_len
    if pad > 0:
        if right:
            t = Text(" " * pad) + t
        else:
            t.append(" " * pad)
    return t


def spark(history: GpuHistory, which: str, index: int, now: float, window_s: int, width: int,
          colour: str | None = None) -> Text:
    ring = (history.util if which == "util" else history.mem).get(index)
    if ring is None or width <= 0:
        return Text(" " * max(0, width))
    return sparkline(ring.window(now, window_s, width), colour=colour)


class GpuRow(BuiltLine):
    """` 0 H200   ██████▌···  72% ███▒▒······· 12.4/140G 58°C  531/700W ▁▂▃▅▇█`"""

    def __init__(self, index: int, **kw):
        super().__init__(**kw)
        self.index = index

    def show(self, snapshot: Snapshot, g: GpuReading, history: GpuHistory, window_s: int) -> None:
        self.set(snapshot, g, history, window_s)

    def build(self, width: int, snapshot: Snapshot, g: GpuReading, history: GpuHistory,
              window_s: int) -> Text:
        free = g.index in snapshot.free
        t = fit(index_text(g, free), 3)
        t.append_text(fit(Text(short_gpu_name(g.name), style=PALETTE.free if free else ""), 7))
        if g.error:
            t.append(f"unreadable: {g.error}", style=PALETTE.danger)
            return fit(t, width)
        grow = bar_growth(width, 100)  # wide terminals: longer bars, not just a longer sparkline
        t.append_text(level_bar(g.utilization_pct, 10 + grow, PALETTE.level(g.utilization_pct)))
        t.append_text(fit(util_text(g), 5, right=True))
        t.append(" ")
        t.append_text(split_bar(mem_parts(snapshot, g), g.memory_total_bytes, 12 + grow))
        t.append_text(fit(Text(mem_text(g)), 11, right=True))
        t.append_text(fit(temp_text(g), 5, right=True))
        t.append_text(fit(power_text(g), 10, right=True))
        t.append(" ")
        rest = width - t.cell_len
        t.append_text(spark(history, "util", g.index, snapshot.t, window_s, rest))
        return fit(t, width)


class GpuCard(BuiltLine):
    """A bordered card: utilisation and memory with history, clocks, throttling, who holds it."""

    DEFAULT_CSS = """
    GpuCard { height: 6; border: round $panel-lighten-2; padding: 0 1; }
    GpuCard.-free { border: round $success; }
    GpuCard.-error { border: round $error; }
    """

    def __init__(self, index: int, **kw):
        super().__init__(**kw)
        self.index = index

    def show(self, snapshot: Snapshot, g: GpuReading, history: GpuHistory, window_s: int) -> None:
        free = g.index in snapshot.free
        title = f"GPU {g.index} · {g.name or '?'}"
        if g.bus_id:
            title += f" · {g.bus_id.split(':', 1)[-1]}"
        if g.mig_enabled:
            title += f" · MIG ×{len(g.mig_devices)}"
        sub = "FREE" if free else f"{len(g.processes)} proc" + ("s" if len(g.processes) != 1 else "")
        if g.error:
            sub = "ERROR"
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != sub:
            self.border_subtitle = sub
        self.set_class(free, "-free")
        self.set_class(bool(g.error), "-error")
        self.set(snapshot, g, history, window_s)

    def build(self, width: int, snapshot: Snapshot, g: GpuReading, history: GpuHistory,
              window_s: int) -> Text:
        if g.error:
            return fit(Text(f"unreadable: {g.error}", style=PALETTE.danger), width)
        grow = bar_growth(width, 90)
        util = Text("UTIL ", style=PALETTE.muted)
        util.append_text(level_bar(g.utilization_pct, 20 + grow, PALETTE.level(g.utilization_pct)))
        util.append_text(fit(util_text(g), 6, right=True))
        util.append(" ")
        util.append_text(spark(history, "util", g.index, snapshot.t, window_s, width - util.cell_len))
        mem = Text("MEM  ", style=PALETTE.muted)
        mem.append_text(split_bar(mem_parts(snapshot, g), g.memory_total_bytes, 20 + grow))
        mem.append_text(fit(Text(mem_text(g)), 12, right=True))
        mem.append(" ")
        mem.append_text(spark(history, "mem", g.index, snapshot.t, window_s, width - mem.cell_len,
                              colour=PALETTE.memory_history))
        lines = [fit(util, width), fit(mem, width), fit(details_text(g), width),
                 fit(users_text(snapshot, g), width)]
        return Text("\n").join(lines)


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
        t.append("no processes", style=PALETTE.free if g.index in snapshot.free else PALETTE.muted)
        return t
    present = present_users(snapshot)
    for i, (user, b) in enumerate(users):
        if i:
            t.append("  ")
        t.append(PALETTE.legend_mark(user, present) + " ", style=PALETTE.user(user))
        mine = user == snapshot.me
        t.append(f"{user} {b / GIB:.1f}G", style="bold" if mine else PALETTE.others)
    return t


class GpuPanel(Vertical):
    """Holds a GpuRow or a GpuCard per GPU; ``mode`` is "compact" or "cards"."""

    DEFAULT_CSS = """
    GpuPanel { height: auto; }
    GpuPanel.-cards { layout: grid; grid-size: 1; grid-gutter: 0 1; grid-rows: 6; }
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
