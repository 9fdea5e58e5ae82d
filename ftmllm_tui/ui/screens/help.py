"""Help: every binding of the view underneath, generated from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

EXTRA = [  # things that are not bindings of the screen itself
    ("click a column header", "sort by it; click again to reverse"),
    ("ctrl+p", "command palette: every action by name"),
    ("↑ ↓ PgUp PgDn Home End", "move in the process table"),
]


def key_label(b: Binding) -> str:
    if b.key_display:
        return b.key_display
    names = {"slash": "/", "question_mark": "?", "plus": "+", "equals_sign": "=", "minus": "-",
             "escape": "Esc"}
    return " ".join(names.get(k.strip(), k.strip()) for k in b.key.split(","))


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, under: Screen):
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        seen = set()
        for b in list(getattr(self.under, "BINDINGS", [])) + list(self.app.BINDINGS):
            if not isinstance(b, Binding) or b.action in seen:
                continue
            seen.add(b.action)
            table.add_row(key_label(b), b.tooltip or b.description or b.action)
        for k, d in getattr(self.under, "HELP_EXTRA", EXTRA):
            table.add_row(k, d)
        with VerticalScroll() as v:
            v.border_title = "Keys"
            v.border_subtitle = "Esc closes"
            yield Static(Text(getattr(self.under, "HELP_TITLE", "GPUs & processes"), style="bold underline"))
            yield Static(table)

    def action_dismiss(self) -> None:
        self.dismiss()
