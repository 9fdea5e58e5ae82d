"""NO_COLOR (https://no-color.org): no colour codes at all, structure kept with attributes.

Textual's own answer to NO_COLOR turns colours into greys, which are still colour codes. This filter
drops every foreground and background colour; a background that stood out from the screen's (the
cursor row, buttons, badges, selections) becomes reverse video so it stays visible. The ``mono``
theme, used by default under NO_COLOR, expresses meaning with bold / dim / underline / reverse.
"""

from __future__ import annotations

from functools import lru_cache

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter

DEFAULT = Style.from_color(RichColor.default(), RichColor.default())
STANDS_OUT = 0.2  # brightness difference (0..1) from the screen background that makes a highlight


@lru_cache(maxsize=1024)
def _strip(style: Style, background: Color) -> Style:
    reverse = False
    if style.bgcolor is not None and style.bgcolor.triplet is not None:
        bg = Color(*style.bgcolor.triplet)
        reverse = abs(bg.brightness - background.brightness) >= STANDS_OUT
    out = style + DEFAULT
    if reverse:
        out += Style(reverse=not style.reverse)
    return out


class NoColorFilter(LineFilter):
    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(text, None if style is None else _strip(style, background), control)
                for text, style, control in segments]
