"""Text renderings of bars and sparklines (pure functions -> rich Text)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from ..palette import PALETTE, Palette

EIGHTHS = " ▏▎▍▌▋▊▉█"
SPARK = "▁▂▃▄▅▆▇█"


def level_bar(pct: float | None, width: int, colour: str, empty: str | None = None) -> Text:
    """A horizontal bar in eighths of a cell."""
    empty = empty or PALETTE.bar_empty
    t = Text()
    if width <= 0:
        return t
    if pct is None:
        t.append("·" * width, style=empty)
        return t
    eighths = round(max(0.0, min(100.0, pct)) / 100 * width * 8)
    full, part = divmod(eighths, 8)
    t.append("█" * full, style=colour)
    if part and full < width:
        t.append(EIGHTHS[part], style=colour)
        full += 1
    if full < width:
        t.append("·" * (width - full), style=empty)
    return t


def split_bar(parts: Sequence[tuple[float, str] | tuple[float, str, str]], total: float | None, width: int,
              empty: str | None = None) -> Text:
    """A bar of ``width`` cells split into coloured parts (value, style[, glyph]) of ``total``.

    Cell counts come from cumulative rounding, so parts never overflow and any part with a value
    gets at least one cell when there is room.
    """
    empty = empty or PALETTE.bar_empty
    t = Text()
    if width <= 0:
        return t
    if not total or total <= 0:
        t.append("·" * width, style=empty)
        return t
    cells: list[int] = []
    acc = 0.0
    used_cells = 0
    for part in parts:
        value = part[0]
        acc += max(0.0, value)
        end = min(width, round(acc / total * width))
        n = max(0, end - used_cells)
        if n == 0 and value > 0 and used_cells < width:
            n = 1
        cells.append(n)
        used_cells += n
    for part, n in zip(parts, cells, strict=True):
        if n:
            t.append((part[2] if len(part) > 2 else "█") * n, style=part[1])
    if used_cells < width:
        t.append("·" * (width - used_cells), style=empty)
    return t


def sparkline(values: list[float | None], lo: float = 0.0, hi: float = 100.0,
              palette: Palette = PALETTE, colour: str | None = None) -> Text:
    """One character per value; gaps (no data) are blanks."""
    t = Text()
    span = (hi - lo) or 1.0
    for v in values:
        if v is None:
            t.append(" ")
            continue
        frac = max(0.0, min(1.0, (v - lo) / span))
        ch = SPARK[min(len(SPARK) - 1, int(frac * len(SPARK)))] if frac > 0 else SPARK[0]
        t.append(ch, style=colour or palette.level(v))
    return t
