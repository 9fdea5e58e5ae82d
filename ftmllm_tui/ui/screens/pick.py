"""A list to pick from, with a filter: models in the Hugging Face cache, adapters, datasets, DeepSpeed
configs, templates, keys and choices. Loading runs in a thread (a cache scan can take a moment)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...core.configs.pickers import Choice, Found
from ..palette import PALETTE
from .dialog import Dialog


class PickScreen(Dialog[Choice | None]):
    HELP_TITLE = "Pick a value"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "down", show=False),
                Binding("up", "up", show=False), Binding("pagedown", "page_down", show=False),
                Binding("pageup", "page_up", show=False)]
    DEFAULT_CSS = """
    PickScreen { align: center middle; }
    PickScreen > Vertical { width: 120; max-width: 100%; height: 80%; min-height: 12; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    PickScreen #filter { margin-bottom: 1; }
    PickScreen OptionList { height: 1fr; border: none; padding: 0;
        text-wrap: nowrap; text-overflow: ellipsis; }  /* a long detail is cut, never wrapped to column 0 */
    PickScreen #status { height: auto; max-height: 4; color: $text-muted; }
    """

    def __init__(self, title: str, load: Callable[[], Found], *, query: str = "", hint: str = "",
                 typed: bool = False):
        """``typed``: Enter with nothing matching takes the filter text as the value (a path, a hub id)."""
        super().__init__()
        self.title_text, self.load, self.initial_query, self.hint = title, load, query, hint
        self.typed = typed
        self.found: Found | None = None
        self.shown: list[Choice] = []

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = self.title_text
            v.border_subtitle = "type to filter · Enter picks · Esc cancels"
            yield Input(self.initial_query, placeholder="filter", id="filter", compact=True)
            yield OptionList(id="options")
            yield Static("loading…", id="status")

    def on_mount(self) -> None:
        self.query_one("#filter", Input).focus()
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        try:
            found = self.load()
        except Exception as exc:  # noqa: BLE001 - a picker must never take the editor down
            found = Found((), (f"could not list: {exc}",))
        self.app.call_from_thread(self._loaded, found)

    def _loaded(self, found: Found) -> None:
        self.found = found
        self._refill()

    @on(Input.Changed, "#filter")
    def _filter(self, _event) -> None:
        self._refill()

    def _refill(self) -> None:
        if self.found is None:
            return
        words = self.query_one("#filter", Input).value.lower().split()
        shown = [c for c in self.found.choices if all(w in f"{c.label} {c.detail} {c.value}".lower() for w in words)]
        if words:  # names that start with what was typed first, then names that contain it, then the rest
            first = words[0]
            shown.sort(key=lambda c: (not c.label.lower().startswith(first), first not in c.label.lower()))
        self.shown = shown
        ol = self.query_one("#options", OptionList)
        ol.clear_options()
        width = max((len(c.label) for c in self.shown[:500]), default=10)
        width = min(width, 48)
        opts = []
        for c in self.shown:
            t = Text(c.label[:width].ljust(width), style="bold")
            t.append("  ")
            t.append(c.detail, style=PALETTE.muted)
            opts.append(Option(t))
        ol.add_options(opts)
        if opts:
            ol.highlighted = 0
        status = Text(f"{len(self.shown)} of {len(self.found.choices)}", style=PALETTE.muted)
        typed = self.query_one("#filter", Input).value.strip()
        if self.typed and typed and not self.shown:
            status.append(f" · Enter uses “{typed}” as typed", style=PALETTE.accent)
        if self.hint:
            status.append(f" · {self.hint}", style=PALETTE.muted)
        for p in self.found.problems[:3]:
            status.append(f"\n! {p}", style=PALETTE.warning)
        if len(self.found.problems) > 3:
            status.append(f"\n… {len(self.found.problems) - 3} more problems", style=PALETTE.warning)
        self.query_one("#status", Static).update(status)

    def on_input_submitted(self, _event) -> None:
        ol = self.query_one("#options", OptionList)
        if ol.highlighted is not None and ol.highlighted < len(self.shown):
            self.dismiss(self.shown[ol.highlighted])
            return
        text = self.query_one("#filter", Input).value.strip()
        if self.typed and text:  # nothing matches: the typed value as it is
            self.dismiss(Choice(text, text, "typed", "typed"))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.shown):
            self.dismiss(self.shown[event.option_index])

    def _move(self, delta: int) -> None:
        ol = self.query_one("#options", OptionList)
        if not self.shown:
            return
        cur = ol.highlighted or 0
        ol.highlighted = max(0, min(len(self.shown) - 1, cur + delta))

    def action_down(self) -> None:
        self._move(1)

    def action_up(self) -> None:
        self._move(-1)

    def action_page_down(self) -> None:
        self._move(10)

    def action_page_up(self) -> None:
        self._move(-10)

    def action_cancel(self) -> None:
        self.dismiss(None)
