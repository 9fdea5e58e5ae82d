"""Text widgets that repaint only when what they show changes.

Each refresh of a widget costs a render in Textual's compositor, so a line of the home view is
one widget that builds its whole line (for its current width), and it only asks for a repaint
when the built text differs from what is on screen. The diffing driver then sends only the
characters that changed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from ..palette import PALETTE


class Cell(Widget):
    """Shows a Text; ``show`` repaints only on change."""

    DEFAULT_CSS = """
    Cell { height: 1; width: auto; text-wrap: nowrap; text-overflow: ellipsis; }
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

    def get_content_width(self, container, viewport) -> int:
        """Auto width: the text's, but never wider than the room there is (so a long line ends in "…")."""
        widest = max((line.cell_len for line in self._text.split("\n", allow_blank=True)), default=0)
        return min(widest, container.width) if container.width > 0 else widest

    def render(self) -> Text:
        return self._text


class BuiltLine(Widget):
    """A widget whose text is built for its width by :meth:`build` from data given to :meth:`set`."""

    DEFAULT_CSS = """
    BuiltLine { height: 1; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self._data: tuple = ()
        self._text = Text()
        self._strips: list[Strip] | None = None

    @property
    def text(self) -> Text:
        return self._text

    def set(self, *data) -> None:
        self._data = data
        self._rebuild()

    def build(self, width: int, *data) -> Text:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rebuild(self) -> None:
        width = self.content_size.width
        if width <= 0 or not self._data:
            return
        self._generation = PALETTE.generation
        text = self.build(width, *self._data)
        if text != self._text:
            self._text = text
            self._strips = None
            self.refresh()

    def on_resize(self) -> None:
        self._strips = None
        self._rebuild()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None
        if getattr(self, "_generation", PALETTE.generation) != PALETTE.generation:
            self._rebuild()  # the theme changed: the text's colours come from the palette

    def render_line(self, y: int) -> Strip:
        """Line API: strips are made once per distinct text, not on every compositor pass."""
        if self._strips is None:
            width = self.content_size.width
            base = self.rich_style
            console = self.app.console
            self._strips = [
                Strip(Segment.apply_style(line.render(console), base)).crop_extend(0, width, base)
                for line in self._text.split("\n", allow_blank=True)
            ]
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.content_size.width, self.rich_style)
