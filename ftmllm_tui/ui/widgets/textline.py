"""Status lines that never wrap: each line is cut at the widget's width with an ellipsis.

:class:`TextLines` shows a Text of one or more lines; its height follows the number of lines
(``height: auto``, cap it with ``max-height``), and a change of that number asks for a layout pass.
:class:`TextLine` is the one-row variant used for title and status bars.

A line can end with a *tail path*: it is shortened from the left ("…/run/console.log") so that it
fits the room left after the rest of the line, at whatever width the widget has when it is drawn.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

MIN_TAIL = 8  # below this much room a tail path is cut like the rest of the line


def fit_path(path: str, room: int) -> str:
    """``path`` in at most ``room`` cells: keeps its end, preferably from a ``/``."""
    if len(path) <= room:
        return path
    if room <= 1:
        return "…"[:room]
    tail = path[-(room - 1):]
    cut = tail.find("/")
    if 0 < cut < len(tail) - 1:
        tail = tail[cut:]
    return "…" + tail


def _styled(line: Text) -> Text:
    """Rich drops ``Text.style`` when a Text has no spans: turn it into a span."""
    if line.style and not line.spans:
        line = line.copy()
        line.stylize(line.style)
    return line


class TextLines(Widget):
    """Shows a (multi-line) Text, each line kept to one row; ``show`` repaints only on change."""

    DEFAULT_CSS = """
    TextLines { height: auto; width: 1fr; }
    """

    def __init__(self, text: str | Text = "", **kw):
        super().__init__(**kw)
        self._text = text if isinstance(text, Text) else Text(text)
        self._tail = ""
        self._tail_style = ""
        self._strips: list[Strip] | None = None
        self._strips_width = -1

    @property
    def text(self) -> Text:
        """Everything shown, the tail path in full."""
        if not self._tail:
            return self._text
        t = self._text.copy()
        t.append(self._tail, style=self._tail_style)
        return t

    @property
    def line_count(self) -> int:
        return self._text.plain.count("\n") + 1 if self._text.plain or self._tail else 1

    def show(self, text: str | Text, *, tail_path: str = "", tail_style: str = "") -> bool:
        """Set the text (and the path at the end of its last line); repaint only if it differs."""
        if not isinstance(text, Text):
            text = Text(text)
        if text == self._text and tail_path == self._tail and tail_style == self._tail_style:
            return False
        lines_before = self.line_count
        self._text, self._tail, self._tail_style = text, tail_path, tail_style
        self._strips = None
        self.refresh(layout=self.line_count != lines_before)
        return True

    def get_content_height(self, container, viewport, width: int) -> int:
        return self.line_count

    def _lines(self, width: int) -> list[Text]:
        lines = self._text.split("\n", allow_blank=True) if self._text.plain else [self._text.copy()]
        if self._tail:
            last = lines[-1].copy()
            room = width - last.cell_len
            last.append(fit_path(self._tail, room) if room >= MIN_TAIL else self._tail, style=self._tail_style)
            lines[-1] = last
        out = []
        for line in lines:
            line = line.copy()
            line.no_wrap = True
            line.truncate(max(0, width), overflow="ellipsis")
            out.append(_styled(line))
        return out

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        base = self.rich_style
        if self._strips is None or self._strips_width != width:
            console = self.app.console
            self._strips = [Strip(Segment.apply_style(line.render(console), base)).crop_extend(0, width, base)
                            for line in self._lines(width)]
            self._strips_width = width
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, base)

    def on_resize(self) -> None:
        self._strips = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None


class TextLine(TextLines):
    """One row: a title or status bar."""

    DEFAULT_CSS = """
    TextLine { height: 1; width: 1fr; }
    """
