"""Small text widgets that repaint only when what they show changes.

Over SSH every repainted cell costs bytes: a Static that is updated with the same text still
repaints. ``Cell.show`` compares first, so an idle screen sends (almost) nothing.
"""

from __future__ import annotations

from rich.text import Text
from textual.events import Resize
from textual.widget import Widget

from ...core.history import Ring
from .bars import sparkline


class Cell(Widget):
    DEFAULT_CSS = """
    Cell { height: 1; width: auto; }
    """

    def __init__(self, text: str | Text = "", **kw):
        super().__init__(**kw)
        self._text = text if isinstance(text, Text) else Text(text)

    @property
    def text(self) -> Text:
        return self._text

    def show(self, text: str | Text) -> bool:
        """Set the text; repaint only if it differs. Returns whether it changed."""
        if not isinstance(text, Text):
            text = Text(text)
        if text == self._text:
            return False
        width_changed = text.cell_len != self._text.cell_len
        self._text = text
        # auto-width cells need a layout pass when their width changes; fixed ones never do
        self.refresh(layout=width_changed and self.styles.width is not None
                     and self.styles.width.is_auto)
        return True

    def render(self) -> Text:
        return self._text


class Spark(Widget):
    """A sparkline of one history ring that fills its width."""

    DEFAULT_CSS = """
    Spark { height: 1; width: 1fr; }
    """

    def __init__(self, colour: str | None = None, **kw):
        super().__init__(**kw)
        self._ring: Ring | None = None
        self._now = 0.0
        self._seconds = 300
        self._colour = colour
        self._text = Text()

    def track(self, ring: Ring | None, now: float, seconds: int) -> None:
        self._ring, self._now, self._seconds = ring, now, seconds
        self._recompute()

    def _recompute(self) -> None:
        width = self.size.width
        if self._ring is None or width <= 0:
            text = Text()
        else:
            text = sparkline(self._ring.window(self._now, self._seconds, width), colour=self._colour)
        if text != self._text:
            self._text = text
            self.refresh()

    def on_resize(self, event: Resize) -> None:
        self._recompute()

    def render(self) -> Text:
        return self._text
