"""Line charts drawn with braille dots (2×4 per cell), for the terminal and for `ftmllm-tui plot`.

Each series is first reduced to one min/max pair per dot column (numpy, ~1 ms for a million
points), so spikes survive at any zoom; consecutive columns are joined so lines stay continuous.
The result is plain data — rows of (text, series index) runs — that the UI colours with Rich and
the CLI prints as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BRAILLE = 0x2800
_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot column]


@dataclass(frozen=True)
class Line:
    name: str
    x: Sequence[float]  # sorted ascending
    y: Sequence[float]


@dataclass(frozen=True)
class Chart:
    rows: list[list[tuple[str, int | None]]]  # runs of text; int = index of the series drawn there
    x_range: tuple[float, float] | None
    y_range: tuple[float, float] | None

    def plain(self) -> list[str]:
        return ["".join(t for t, _ in row) for row in self.rows]


def fmt_num(v: float, width: int = 8) -> str:
    if v == 0:
        return "0"
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        s = f"{v:.2e}"
    elif a >= 100:
        s = f"{v:.0f}"
    elif a >= 1:
        s = f"{v:.3g}" if a >= 10 else f"{v:.3f}"
    else:
        s = f"{v:.4f}"
    return s[:width]


# dot patterns that tell series apart without colour: which dot columns a series keeps (of a cycle)
PATTERNS = ((1, (0,)), (2, (0,)), (4, (0, 1)), (3, (0,)))  # solid, dotted, dashed, sparse


def _keep_dots(series: int, cs):
    """Mask of the dot columns ``cs`` that series number ``series`` draws (its pattern)."""
    period, on = PATTERNS[series % len(PATTERNS)]
    import numpy as np

    return np.isin(cs % period, on)


def legend_sample(series: int, cells: int = 3) -> str:
    """A short horizontal stroke in the series' dot pattern, for a legend without colour."""
    import numpy as np

    cs = np.arange(cells * 2)
    keep = _keep_dots(series, cs)
    out = []
    for c in range(cells):
        b = (0x40 if keep[2 * c] else 0) | (0x80 if keep[2 * c + 1] else 0)
        out.append(chr(BRAILLE + b) if b else " ")
    return "".join(out)


def all_integers(lines: Sequence[Line]) -> bool:
    """Whether every x of every series is a whole number (steps): ticks are whole numbers then."""
    import numpy as np

    for ln in lines:
        xs = np.asarray(ln.x, dtype=float)
        if xs.size and not bool(np.all(np.mod(xs[np.isfinite(xs)], 1) == 0)):
            return False
    return True


def minmax_columns(x, y, x0: float, x1: float, columns: int):
    """(column index, min, max, first, last) per non-empty dot column, for x in [x0, x1]."""
    import numpy as np

    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    lo, hi = np.searchsorted(xs, x0, "left"), np.searchsorted(xs, x1, "right")
    xs, ys = xs[lo:hi], ys[lo:hi]
    ok = np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if xs.size == 0:
        return np.empty(0, int), np.empty(0), np.empty(0), np.empty(0), np.empty(0)
    span = (x1 - x0) or 1.0
    col = np.minimum(((xs - x0) / span * (columns - 1) + 0.5).astype(int), columns - 1)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    ends = np.r_[starts[1:], col.size] - 1
    return (col[starts], np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts),
            ys[starts], ys[ends])


def render(lines: Sequence[Line], width: int, height: int, *, logy: bool = False,
           x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
           label_width: int = 8, patterns: bool = False) -> Chart:
    """A chart of ``width``×``height`` cells: y labels, braille plot area, x axis and labels.
    ``patterns``: each series in its own dot pattern (solid, dotted, dashed, sparse: see
    :func:`legend_sample`), for output without colour. x ticks are whole numbers when every x is."""
    import numpy as np

    width = max(label_width + 10, width)
    height = max(3, height)
    pw, ph = width - label_width - 1, height - 2  # plot area in cells
    dw, dh = pw * 2, ph * 4

    prepared = []
    for ln in lines:
        xs = np.asarray(ln.x, dtype=float)
        ys = np.asarray(ln.y, dtype=float)
        if logy:
            keep = ys > 0
            xs, ys = xs[keep], np.log10(ys[keep])
        if xs.size:
            prepared.append((xs, ys))
        else:
            prepared.append(None)
    have = [p for p in prepared if p is not None]
    if not have:
        blank = [[(" " * width, None)] for _ in range(height)]
        msg = "no data yet"
        blank[height // 2] = [(" " * ((width - len(msg)) // 2) + msg, None)]
        return Chart(blank, None, None)
    if x_range is None:
        x_range = (min(float(p[0][0]) for p in have), max(float(p[0][-1]) for p in have))
    x0, x1 = x_range
    if y_range is None:
        ymins, ymaxs = [], []
        for xs, ys in have:
            lo, hi = np.searchsorted(xs, x0, "left"), np.searchsorted(xs, x1, "right")
            seg = ys[lo:hi]
            seg = seg[np.isfinite(seg)]
            if seg.size:
                ymins.append(float(seg.min()))
                ymaxs.append(float(seg.max()))
        if not ymins:
            ymins, ymaxs = [0.0], [1.0]
        y0, y1 = min(ymins), max(ymaxs)
        if y0 == y1:
            pad = abs(y0) * 0.05 or 0.5
            y0, y1 = y0 - pad, y1 + pad
    else:
        y0, y1 = (math.log10(v) if logy and v > 0 else v for v in y_range)

    bits = np.zeros((ph, pw), dtype=np.uint8)
    owner = np.full((ph, pw), -1, dtype=np.int16)
    yspan = (y1 - y0) or 1.0

    def to_row(v):
        return np.clip(((v - y0) / yspan * (dh - 1) + 0.5).astype(int), 0, dh - 1)

    bit_table = np.array([[b[0] for b in _BITS], [b[1] for b in _BITS]], dtype=np.uint8)  # [dx, sub]
    for si, p in enumerate(prepared):
        if p is None:
            continue
        cols, mins, maxs, firsts, lasts = minmax_columns(p[0], p[1], x0, x1, dw)
        if cols.size == 0:
            continue
        rmin, rmax, rfirst, rlast = to_row(mins), to_row(maxs), to_row(firsts), to_row(lasts)
        # every dot column from the first to the last data column: a vertical span that covers the
        # column's own min..max and the line coming in from the left and going out to the right
        dense = np.arange(int(cols[0]), int(cols[-1]) + 1)
        ax = np.empty(cols.size * 2)
        ay = np.empty(cols.size * 2)
        ax[0::2], ax[1::2] = cols - 0.25, cols + 0.25
        ay[0::2], ay[1::2] = rfirst, rlast
        left = np.interp(dense - 0.5, ax, ay)
        right = np.interp(dense + 0.5, ax, ay)
        lo = np.minimum(left, right)
        hi = np.maximum(left, right)
        idx = cols - dense[0]
        lo[idx] = np.minimum(lo[idx], rmin)
        hi[idx] = np.maximum(hi[idx], rmax)
        lo = np.clip(np.round(lo).astype(int), 0, dh - 1)
        hi = np.clip(np.round(hi).astype(int), 0, dh - 1)
        counts = hi - lo + 1
        total = int(counts.sum())
        starts = np.cumsum(counts) - counts
        rows_ = np.repeat(lo, counts) + (np.arange(total) - np.repeat(starts, counts))
        cs = np.repeat(dense, counts)
        if patterns and si % len(PATTERNS):
            keep = _keep_dots(si, cs)
            rows_, cs = rows_[keep], cs[keep]
        cell_r = ph - 1 - rows_ // 4
        cell_c = cs // 2
        bitv = bit_table[cs % 2, 3 - rows_ % 4]
        np.bitwise_or.at(bits, (cell_r, cell_c), bitv)
        owner[cell_r, cell_c] = si

    # assemble rows: label | plot ; then the x axis and its labels
    rows: list[list[tuple[str, int | None]]] = []
    label_rows = {0: y1, ph - 1: y0, (ph - 1) // 2: y0 + (y1 - y0) * (1 - ((ph - 1) // 2) / max(1, ph - 1))}
    for r in range(ph):
        if r in label_rows:
            v = label_rows[r]
            lab = fmt_num(10 ** v if logy else v, label_width).rjust(label_width)
        else:
            lab = " " * label_width
        runs: list[tuple[str, int | None]] = [(lab + "┤" if r in label_rows else lab + "│", None)]
        cur_owner, buf = None, []
        for c in range(pw):
            b = int(bits[r, c])
            o = int(owner[r, c]) if b else None
            ch = chr(BRAILLE + b) if b else " "
            if o != cur_owner and buf:
                runs.append(("".join(buf), cur_owner))
                buf = []
            cur_owner = o
            buf.append(ch)
        if buf:
            runs.append(("".join(buf), cur_owner))
        rows.append(runs)
    rows.append([(" " * label_width + "└" + "─" * pw, None)])
    whole = all_integers(lines)
    left, right = fmt_num(x0), fmt_num(x1)
    mid = fmt_num(round((x0 + x1) / 2) if whole else (x0 + x1) / 2)
    axis = list(" " * (pw + 1))
    ticks = ((0, left), ((pw - len(mid)) // 2, mid), (pw + 1 - len(right), right)) if x1 > x0 else ((0, left),)
    for pos, text in ticks:  # one point (a single evaluation so far): one tick, not "100 100 100"
        for i, ch in enumerate(text):
            if 0 <= pos + i < len(axis):
                axis[pos + i] = ch
    rows.append([(" " * label_width + "".join(axis), None)])
    return Chart(rows, (x0, x1), (10 ** y0, 10 ** y1) if logy else (y0, y1))
