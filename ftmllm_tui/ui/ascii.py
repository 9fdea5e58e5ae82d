"""ASCII mode: a Textual line filter that maps every non-ASCII glyph to ASCII of the same width.

For terminals and fonts without Unicode block, braille or box-drawing glyphs (a serial console, an old
PuTTY, a non-UTF-8 locale). The translation happens on the final segments, so every widget, Textual's
own borders and scrollbars included, is covered and layouts stay aligned: one cell in, one cell out,
a double-width character becomes two.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

_SPECIFIC = {
    # bars: eighths of a cell, full blocks, shades
    "█": "#", "▉": "#", "▊": "#", "▋": "#", "▌": "=", "▍": "=", "▎": "-", "▏": "|", "▐": "=",
    "▕": "|", "░": "~", "▒": ":", "▓": "%", "■": "#", "▪": "+",
    # sparklines: lower eighths
    "▁": "_", "▂": "_", "▃": ".", "▄": "-", "▅": "=", "▆": "+", "▇": "*", "▔": " ",
    # marks and arrows
    "·": ".", "…": ".", "→": ">", "←": "<", "↑": "^", "↓": "v", "▲": "^", "▼": "v", "▾": "v", "▴": "^",
    "▶": ">", "◀": "<", "►": ">", "◄": "<", "●": "*", "○": "o", "★": "*", "✓": "v", "✔": "v", "✗": "x",
    "✘": "x", "✎": ">", "⚠": "!", "⟳": "~", "◷": "@", "×": "x", "—": "-", "–": "-", "“": '"', "”": '"',
    "‘": "'", "’": "'", "≥": ">", "≤": "<", "°": "o", "µ": "u", "§": "S", "•": "*", "⏎": "<", "▸": ">",
    "\u00a0": " ",
}


def _braille(ch: str) -> str:
    bits = ord(ch) - 0x2800
    top = bits & 0x1B  # dots 1, 2, 4, 5
    bottom = bits & 0xE4  # dots 3, 6, 7, 8
    if top and bottom:
        return ":"
    if top:
        return "'"
    return "." if bottom else " "


def _box(ch: str) -> str:
    name = unicodedata.name(ch, "")
    horizontal = "HORIZONTAL" in name or name.endswith(("LEFT", "RIGHT"))
    vertical = "VERTICAL" in name or name.endswith(("UP", "DOWN"))
    if "ARC" in name or "AND" in name or "CROSS" in name or ("DOWN" in name and ("LEFT" in name or "RIGHT" in name)) \
            or ("UP" in name and ("LEFT" in name or "RIGHT" in name)):
        return "+"
    if horizontal and not vertical:
        return "-"
    if vertical and not horizontal:
        return "|"
    if "DIAGONAL" in name:
        return "/" if "UPPER RIGHT TO LOWER LEFT" in name else "\\"
    return "+"


@lru_cache(maxsize=4096)
def to_ascii(ch: str) -> str:
    """One glyph → ASCII text of the same cell width."""
    if ch < "\x80":
        return ch
    mapped = _SPECIFIC.get(ch)
    if mapped is not None:
        return mapped
    code = ord(ch)
    if 0x2800 <= code <= 0x28FF:
        return _braille(ch)
    if 0x2500 <= code <= 0x257F:
        return _box(ch)
    if 0x2580 <= code <= 0x259F:
        return "#"
    width = cell_len(ch)
    if width == 0:
        return ""
    decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if len(decomposed) == width:
        return decomposed  # é → e, ﬁ → fi (width 1 → only when one letter remains)
    return "?" * width


def ascii_text(text: str) -> str:
    if text.isascii():
        return text
    return "".join(to_ascii(ch) for ch in text)


class AsciiFilter(LineFilter):
    """Replaces non-ASCII glyphs in every rendered line (see module doc)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out = []
        for seg in segments:
            text = seg.text
            if text.isascii() or seg.control:
                out.append(seg)
            else:
                out.append(Segment(ascii_text(text), seg.style, seg.control))
        return out
