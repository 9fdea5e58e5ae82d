"""A log pane that keeps up with a training console: Line API (only visible lines are rendered),
follow mode that pauses when you scroll up (and counts what arrived), search with highlights,
optional wrapping, colours from ANSI SGR kept."""

from __future__ import annotations

import bisect
from array import array

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..palette import PALETTE

MAX_LINES = 200_000


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; overflow-x: hidden; }
    """
    BINDINGS = [
        Binding("up,k", "scroll_lines(-1)", "Up", show=False, tooltip="Scroll the log up a line (pauses following)"),
        Binding("down,j", "scroll_lines(1)", "Down", show=False,
                tooltip="Scroll the log down a line (at the end it follows again)"),
        Binding("pageup", "scroll_lines(-20)", "Page up", show=False, tooltip="Scroll the log up a page"),
        Binding("pagedown", "scroll_lines(20)", "Page down", show=False, tooltip="Scroll the log down a page"),
        Binding("home", "top", "Top", show=False, tooltip="Top of the log (pauses following)"),
        Binding("end", "bottom", "End (follow)", show=False, tooltip="End of the log, and follow new lines"),
        # ← → come from ScrollView: long lines sideways (without wrap)
    ]

    class Status(Message):
        """Follow state changed, or lines arrived while paused."""

    class WantEarlier(Message):
        """The user went above the first line held while the file has earlier ones: read them
        (``n`` lines, None: back to the file's top; ``top``: then show the top)."""

        def __init__(self, n: int | None, top: bool = False):
            super().__init__()
            self.n = n
            self.top = top

    def __init__(self, **kw):
        super().__init__(**kw)
        self.lines: list[str] = []
        self.follow = True
        self.new_while_paused = 0
        self.wrap = False
        self.search: str = ""
        self.matches: list[int] = []
        self.current_match = -1
        self.pending = ""  # a progress bar without its newline yet
        self._cache: dict[int, Text] = {}
        self._heights = array("i")  # wrap mode: rows per line (prefix sums in _tops)
        self._tops = array("q")
        self._width = 0
        self._longest = 0  # the longest line (characters): how far ← → can scroll without wrap
        self.more_above = False  # the file has lines before the first one held (set by the owner)
        self.top_pending = False  # Home was pressed while earlier lines were being read

    # -- content -----------------------------------------------------------------------------------
    def clear(self) -> None:
        self.lines = []
        self._longest = 0
        self._cache.clear()
        self.matches = []
        self.current_match = -1
        self.new_while_paused = 0
        self._relayout()

    def append(self, lines: list[str], pending: str = "") -> None:
        if not lines and pending == self.pending:
            return
        start = len(self.lines)
        self.lines.extend(ln.expandtabs(8) if "\t" in ln else ln for ln in lines)
        self.pending = pending.expandtabs(8)
        self._longest = max(self._longest, len(self.pending), max(map(len, self.lines[start:]), default=0))
        drop = len(self.lines) - MAX_LINES
        if drop > 0:
            del self.lines[:drop]
            self._cache.clear()
            start = max(0, start - drop)
            self.matches = [m - drop for m in self.matches if m >= drop]
            self._relayout()
        elif self.wrap:
            self._extend_layout(start)
        if self.search:
            needle = self.search.lower()
            self.matches += [i for i in range(start, len(self.lines)) if needle in self.lines[i].lower()]
        self._set_virtual()
        if self.follow:  # down to the new lines, keeping the sideways position
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)  # once laid out
        elif lines:
            self.new_while_paused += len(lines)
            self.post_message(self.Status())
        self.refresh()

    @property
    def room(self) -> int:
        """How many earlier lines can still be taken in."""
        return max(0, MAX_LINES - len(self.lines))

    def prepend(self, lines: list[str]) -> None:
        """Earlier lines of the file, put above the ones held; the view stays on the same lines
        (or goes to the top when Home asked for them)."""
        lines = [ln.expandtabs(8) if "\t" in ln else ln for ln in lines[-self.room:]] if self.room else []
        if not lines:
            if self.top_pending:
                self.top_pending = False
                self.scroll_to(y=0, animate=False, immediate=True)
            return
        n = len(lines)
        old_rows = self._total_rows()
        self.lines[:0] = lines
        self._cache.clear()
        self._longest = max(self._longest, max(map(len, lines), default=0))
        new = []
        if self.search:
            needle = self.search.lower()
            new = [i for i in range(n) if needle in lines[i].lower()]
        self.matches = new + [m + n for m in self.matches]
        if self.current_match >= 0:
            self.current_match += len(new)
        self._relayout()
        if self.top_pending:
            self.top_pending = False
            self.scroll_to(y=0, animate=False, immediate=True)
        elif not self.follow:
            added = self._total_rows() - old_rows
            self.scroll_to(y=self.scroll_offset.y + added, animate=False, immediate=True)
        self.refresh()

    def _rows(self, i: int) -> int:
        w = max(1, self._width)
        n = len(self.lines[i])
        return max(1, -(-n // w))

    def _relayout(self) -> None:
        self._width = self._view_width()
        self._heights = array("i")
        self._tops = array("q")
        if self.wrap:
            self._extend_layout(0)
        self._set_virtual()

    def _extend_layout(self, start: int) -> None:
        del self._heights[start:]
        del self._tops[start:]
        top = self._tops[-1] + self._heights[-1] if self._tops else 0
        for i in range(start, len(self.lines)):
            h = self._rows(i)
            self._heights.append(h)
            self._tops.append(top)
            top += h

    def _total_rows(self) -> int:
        n = len(self.lines) + (1 if self.pending else 0)
        if self.wrap and self._tops:
            n = self._tops[-1] + self._heights[-1] + (1 if self.pending else 0)
        return n

    def _set_virtual(self) -> None:
        width = self._view_width() if self.wrap else max(self._view_width(), self._longest)
        self.virtual_size = Size(width, self._total_rows())

    def _view_width(self) -> int:
        """Columns the lines are shown in (the vertical scrollbar's are not)."""
        return max(1, self.scrollable_content_region.width or self.size.width)

    def watch_show_vertical_scrollbar(self) -> None:
        if self.wrap and self._view_width() != self._width:  # the scrollbar came or went: re-wrap
            self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        if self.wrap and self._view_width() != self._width:
            self._relayout()
            if self.follow:
                self.scroll_end(animate=False, immediate=True)
            self.refresh()

    @property
    def allow_horizontal_scroll(self) -> bool:
        """← → and the sideways wheel move along long lines; no horizontal scrollbar takes a row."""
        return not self.wrap and self.max_scroll_x > 0 and not self._check_disabled()

    def on_resize(self) -> None:
        if self.wrap and self._view_width() != self._width:
            self._relayout()
        self._set_virtual()

    # -- rendering ---------------------------------------------------------------------------------
    def _text(self, i: int) -> Text:
        t = self._cache.get(i)
        if t is None:
            raw = self.lines[i]
            t = Text.from_ansi(raw) if "\x1b" in raw else Text(raw)
            if len(self._cache) > 4000:
                self._cache.clear()
            self._cache[i] = t
        if self.search:
            t = t.copy()
            style = Style.parse(PALETTE.search_current if self.matches and self.current_match >= 0 and
                                self.matches[self.current_match] == i else PALETTE.search_match)
            t.highlight_words([self.search], style=style, case_sensitive=False)
        return t

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = int(self.scroll_offset.y) + y
        base = self.rich_style
        if not self.wrap:
            if row < len(self.lines):
                text = self._text(row)
            elif row == len(self.lines) and self.pending:
                text = Text(self.pending, style="italic")
            else:
                return Strip.blank(width, base)
            text.truncate(width + int(self.scroll_offset.x), overflow="crop")
            segs = list(text.render(self.app.console))
            strip = Strip(Segment.apply_style(segs, base))
            return strip.crop_extend(int(self.scroll_offset.x), int(self.scroll_offset.x) + width, base)
        # wrap mode: find the line holding this row
        if self._tops and row < self._tops[-1] + self._heights[-1]:
            i = bisect.bisect_right(self._tops, row) - 1
            part = row - self._tops[i]
            text = self._text(i)
            w = max(1, self._width)
            piece = text[part * w:(part + 1) * w]
        elif self.pending and row == (self._tops[-1] + self._heights[-1] if self._tops else 0):
            piece = Text(self.pending[:width], style="italic")
        else:
            return Strip.blank(width, base)
        segs = list(piece.render(self.app.console))
        return Strip(Segment.apply_style(segs, base)).crop_extend(0, width, base)

    # -- navigation --------------------------------------------------------------------------------
    def _at_bottom(self) -> bool:
        return self.scroll_offset.y >= self.max_scroll_y

    def _set_follow(self, on: bool) -> None:
        if on != self.follow:
            self.follow = on
            if on:
                self.new_while_paused = 0
            self.post_message(self.Status())

    def action_scroll_lines(self, n: int) -> None:
        if n < 0 and self.scroll_offset.y + n < 0 and self.more_above and self.room:
            self.post_message(self.WantEarlier(max(2000, -n)))  # above the first line held: read back
        self.scroll_to(y=max(0, self.scroll_offset.y + n), animate=False, immediate=True)
        self._set_follow(self._at_bottom())

    def action_top(self) -> None:
        """The file's first line: lines not held yet are read back first (up to MAX_LINES)."""
        if self.more_above and self.room:
            self.top_pending = True
            self.post_message(self.WantEarlier(None, top=True))
        self.scroll_to(y=0, animate=False, immediate=True)
        self._set_follow(False)

    def action_bottom(self) -> None:
        self.scroll_end(animate=False, immediate=True)
        self._set_follow(True)

    def _on_mouse_scroll_up(self, event) -> None:
        if self.scroll_offset.y <= 0 and self.more_above and self.room:
            self.post_message(self.WantEarlier(2000))
        self._set_follow(False)

    def _on_mouse_scroll_down(self, event) -> None:
        self.call_after_refresh(lambda: self._set_follow(self._at_bottom()))

    def toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._cache.clear()
        self._relayout()
        if self.follow:
            self.scroll_end(animate=False, immediate=True)
        self.refresh()

    def row_of_line(self, i: int) -> int:
        return self._tops[i] if self.wrap and i < len(self._tops) else i

    def go_to_line(self, i: int) -> None:
        self.scroll_to(y=max(0, self.row_of_line(i) - self.size.height // 3), animate=False,
                       immediate=True)
        self._set_follow(False)
        self.refresh()

    def set_search(self, text: str) -> int:
        """Highlight ``text``; returns the number of matching lines."""
        self.search = text
        needle = text.lower()
        self.matches = [i for i, line in enumerate(self.lines) if needle and needle in line.lower()]
        self.current_match = -1
        self.refresh()
        return len(self.matches)

    def next_match(self, step: int = 1) -> int | None:
        if not self.matches:
            return None
        top = int(self.scroll_offset.y)
        if self.current_match < 0:
            idx = bisect.bisect_left(self.matches, top + (1 if step > 0 else 0))
            self.current_match = idx % len(self.matches) if step > 0 else (idx - 1) % len(self.matches)
        else:
            self.current_match = (self.current_match + step) % len(self.matches)
        line = self.matches[self.current_match]
        self.go_to_line(line)
        return line

    def visible_lines(self) -> list[str]:
        top = int(self.scroll_offset.y)
        if self.wrap and self._tops:
            first = bisect.bisect_right(self._tops, top) - 1
            last = bisect.bisect_right(self._tops, top + self.size.height)
            return self.lines[max(0, first):last]
        return self.lines[top:top + self.size.height]
