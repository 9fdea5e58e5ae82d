"""Text widgets that repaint only when what they show changes.

Each refresh of a widget costs a render in Textual's compositor, so a line of the home view is
one widget that builds its whole line (for its current width), and it only asks for a repaint
when the built text differs from what is on screen. The diffing driver then sends only the
characters that changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class Cell(Widget):
    """Shows a Text; ``show`` repaints only on change."""

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


class BuiltLine(Widget):
    """A widget whose text is built for its width by :meth:`build` from data given to :meth:`set`."""

    DEFAULT_CSS = """
    BuiltLine { height: 1; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self._data: tuple = ()
        self._text = Text()

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
        text = self.build(width, *self._data)
        if text != self._text:
            self._text = text
            self.refresh()

    def on_resize(self) -> None:
        self._rebuild()

    def render(self) -> Text:
        return self._text
