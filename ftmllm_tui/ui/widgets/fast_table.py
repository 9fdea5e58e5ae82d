"""A table that repaints only the rows that changed (Line API).

Textual's DataTable invalidates every cached row on any ``update_cell`` and repaints the whole
widget; on a 1 s refresh that is most of the app's CPU. Here each row is rendered to a Strip once
per distinct content and a new sample repaints only the lines whose cells differ.

Keys: ↑/↓/k/j, PgUp/PgDn, Home/End; mouse: click a row to select it, click a header to sort, wheel
to scroll. Posts :class:`FastTable.HeaderClicked`, :class:`FastTable.RowHighlighted` and
:class:`FastTable.RowSelected` (Enter).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int
    justify: str = "left"  # "left" | "right"


class FastTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"fast-table--header", "fast-table--cursor", "fast-table--sorted"}
    DEFAULT_CSS = """
    FastTable { height: 1fr; background: $surface; overflow-x: hidden; }
    FastTable > .fast-table--header { background: $panel; text-style: bold; color: $foreground; }
    FastTable > .fast-table--sorted { text-style: bold underline; }
    FastTable > .fast-table--cursor { background: $block-cursor-blurred-background; }
    FastTable:focus > .fast-table--cursor { background: $block-cursor-background; }
    """
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),  # j / k: only where k is not an action (VIM_KEYS)
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    VIM_KEYS = [Binding("k", "cursor(-1)", "Up", show=False), Binding("j", "cursor(1)", "Down", show=False)]

    class HeaderClicked(Message):
        def __init__(self, table: FastTable, column: str) -> None:
            super().__init__()
            self.table = table
            self.column = column

    class RowHighlighted(Message):
        def __init__(self, table: FastTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class RowSelected(Message):
        def __init__(self, table: FastTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(self, **kw):
        super().__init__(**kw)
        self.cols: tuple[Col, ...] = ()
        self.sorted_column: str | None = None
        self.order: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._strips: dict[tuple[str, bool], Strip] = {}
        self._header: Strip | None = None
        self.cursor_row = 0
        self.cursor_key: str | None = None

    # -- data --------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self.order)

    def set_columns(self, cols: tuple[Col, ...], sorted_column: str | None = None) -> None:
        if cols == self.cols and sorted_column == self.sorted_column:
            return
        self.cols, self.sorted_column = cols, sorted_column
        self._strips.clear()
        self._header = None
        self._resize_virtual()
        self.refresh()

    def set_rows(self, order: list[str], cells: dict[str, tuple[Text, ...]]) -> None:
        """New content. The cursor stays on the same row key when that row still exists."""
        old_order, old_cells = self.order, self._cells
        self.order, self._cells = order, cells
        for key in list(old_cells):
            if key not in cells or cells[key] != old_cells[key]:
                self._strips.pop((key, False), None)
                self._strips.pop((key, True), None)
        if self.cursor_key in cells:
            self.cursor_row = order.index(self.cursor_key)
        else:
            self.cursor_row = min(self.cursor_row, max(0, len(order) - 1))
        self._resize_virtual()
        if order != old_order:
            self.refresh()
        else:
            for i, key in enumerate(order):
                if cells[key] != old_cells.get(key):
                    self.refresh_line(i + 1)
        new_key = order[self.cursor_row] if order else None
        if new_key != self.cursor_key:
            self.cursor_key = new_key
            self.post_message(self.RowHighlighted(self, new_key))

    def _resize_virtual(self) -> None:
        width = sum(c.width + 1 for c in self.cols)
        self.virtual_size = Size(width, len(self.order) + 1)

    # -- rendering ---------------------------------------------------------------------------------
    def _render_cells(self, cells: tuple[Text, ...] | None, base: Style, header: bool = False) -> Strip:
        segs: list[Segment] = []
        for i, col in enumerate(self.cols):
            if header:
                t = Text(col.label)
                if col.key == self.sorted_column:
                    t.stylize(self.get_component_rich_style("fast-table--sorted", partial=True))
            else:
                t = cells[i] if cells and i < len(cells) else Text("")
            t = t.copy()
            t.truncate(col.width, overflow="ellipsis", pad=False)
            pad = col.width - t.cell_len
            if col.justify == "right" and pad > 0:
                t = Text(" " * pad) + t
            elif pad > 0:
                t.append(" " * pad)
            segs.append(Segment(" ", base))  # one space before each column
            # Text.render drops the Text's own style when it has no spans: apply it here
            own = base + self.app.console.get_style(t.style) if t.style and not t.spans else base
            segs.extend(Segment(s.text, own + s.style if s.style else own)
                        for s in t.render(self.app.console))
        return Strip(segs).simplify()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            if self._header is None:
                self._header = self._render_cells(
                    None, base + self.get_component_rich_style("fast-table--header"), header=True)
            strip = self._header
            fill = base + self.get_component_rich_style("fast-table--header")
        else:
            i = y - 1 + scroll_y
            if i >= len(self.order):
                return Strip.blank(width, base)
            key = self.order[i]
            cursor = i == self.cursor_row
            cache_key = (key, cursor)
            strip = self._strips.get(cache_key)
            if strip is None:
                style = base + self.get_component_rich_style("fast-table--cursor") if cursor else base
                strip = self._strips[cache_key] = self._render_cells(self._cells[key], style)
            fill = (base + self.get_component_rich_style("fast-table--cursor")) if cursor else base
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._header = None

    # -- cursor and scrolling ------------------------------------------------------------------------
    def _move_to(self, row: int) -> None:
        if not self.order:
            return
        row = max(0, min(len(self.order) - 1, row))
        if row != self.cursor_row:
            old = self.cursor_row
            self.cursor_row = row
            self.refresh_line(old + 1)
            self.refresh_line(row + 1)
        self.cursor_key = self.order[row]
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False)
        self.post_message(self.RowHighlighted(self, self.cursor_key))

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor_row + direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self._move_to(0 if where == 0 else len(self.order) - 1)

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.RowSelected(self, self.cursor_key))

    def move_cursor_to_key(self, key: str) -> None:
        if key in self._cells:
            self._move_to(self.order.index(key))

    def on_click(self, event: events.Click) -> None:
        y = event.y
        if y == 0:
            x = event.x + int(self.scroll_offset.x)
            for col in self.cols:
                if x < col.width + 1:
                    self.post_message(self.HeaderClicked(self, col.key))
                    return
                x -= col.width + 1
            return
        row = y - 1 + int(self.scroll_offset.y)
        if 0 <= row < len(self.order):
            self._move_to(row)
            if event.chain >= 2:
                self.action_select()
