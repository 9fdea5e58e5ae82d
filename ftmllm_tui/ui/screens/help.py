"""Help: every key that works in the view underneath, read from the bindings that are active there
(the focused widget's, the view's, the app's: what Textual itself would dispatch), plus the view's
extra notes (mouse, keys of embedded widgets). Also the source of the command palette's per-view
commands (:func:`view_commands`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..palette import PALETTE

EXTRA = [  # things that are not bindings of the screen itself
    ("click a column header", "sort by it; click again to reverse"),
    ("ctrl+p", "command palette: every action by name"),
]
KEY_NAMES = {"slash": "/", "question_mark": "?", "plus": "+", "equals_sign": "=", "minus": "-",
             "escape": "Esc", "space": "Space", "enter": "Enter", "tab": "Tab", "up": "↑", "down": "↓",
             "left": "←", "right": "→", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End",
             "delete": "Del", "backspace": "Backspace"}
# actions that only move around: in the help, not in the command palette
NAVIGATION = ("cursor", "page", "jump", "scroll", "select", "dismiss", "help", "command_palette", "ctrl_c",
              "quit", "focus_next", "focus_previous")


def key_label(b: Binding) -> str:
    if b.key_display:
        return b.key_display
    return " ".join(_key_name(k) for k in b.key.split(","))


def _key_name(key: str) -> str:
    key = key.strip()
    if key in KEY_NAMES:
        return KEY_NAMES[key]
    if key.startswith("ctrl+"):
        return "^" + key[5:]
    if len(key) > 1 and key[0] == "f" and key[1:].isdigit():
        return key.upper()
    return key


@dataclass
class KeyRow:
    keys: list[str]
    text: str
    name: str
    action: str
    namespace: object
    scope: str  # "view" or "app"
    show: bool


def view_keys(screen: Screen) -> list[KeyRow]:
    """Every active binding of SCREEN grouped by action, in dispatch order (focused widget first)."""
    rows: dict[tuple[int, str], KeyRow] = {}
    app = screen.app
    try:
        active = screen.active_bindings
    except Exception:  # noqa: BLE001 - a screen mid-teardown: fall back to its own bindings
        active = {}
    if not active:
        items = [(screen, b) for b in getattr(screen, "BINDINGS", []) if isinstance(b, Binding)]
        items += [(app, b) for b in app.BINDINGS if isinstance(b, Binding)]
    else:
        items = [(ab.node, ab.binding) for ab in active.values()]
    for node, b in items:
        if b.key.startswith("super+") or (node is screen and b.action.startswith(("focus_", "app.focus_"))):
            continue  # macOS-only copy key; Tab focus moves are Textual's defaults
        action = b.action.split("(")[0].split(".")[-1]
        scope = "app" if node is app else "move" if action.startswith(NAVIGATION) else "view"
        key = (id(node), b.action)
        label = key_label(b)
        row = rows.get(key)
        if row is None:
            rows[key] = KeyRow([label], b.tooltip or b.description or b.action, b.description or "", b.action, node,
                               scope, b.show)
        elif label not in row.keys:
            row.keys.append(label)
    return list(rows.values())


def view_commands(screen: Screen) -> Iterator[tuple[str, str, object]]:
    """(title, help, callback) for the palette: the view's actions, by the name its footer shows."""
    for row in view_keys(screen):
        if row.scope != "view" or row.action.split("(")[0].split(".")[-1].startswith(NAVIGATION):
            continue
        node, action = row.namespace, row.action

        def run(node=node, action=action) -> None:
            screen.app.call_later(screen.app.run_action, action, node)

        title = row.text if len(row.text) <= 56 or not row.name else row.name
        yield title, f"{' '.join(row.keys)} · {row.name or row.action}" if title != row.name else \
            f"{' '.join(row.keys)} · {row.text}", run


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    HelpScreen Static { width: 100%; }
    """

    def __init__(self, under: Screen):
        super().__init__()
        self.under = under

    def _table(self, rows: list[tuple[str, str, str]]) -> Table:
        table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
        table.add_column(style=f"bold {PALETTE.accent}", width=min(14, max(len(r[0]) for r in rows)))
        names = [r[1] for r in rows if r[1] and r[1] != r[2]]
        if names:
            table.add_column(style="bold", no_wrap=True, width=min(12, max(len(n) for n in names)))
        table.add_column(ratio=1)
        for k, name, d in rows:
            table.add_row(k, name if name != d else "", d) if names else table.add_row(k, d)
        return table

    def compose(self) -> ComposeResult:
        rows = view_keys(self.under)
        def pick(scope: str) -> list[tuple[str, str, str]]:
            return [(" ".join(r.keys), r.name, r.text) for r in rows if r.scope == scope]

        here = pick("view") + [(k, "", d) for k, d in getattr(self.under, "HELP_EXTRA", EXTRA)]
        with VerticalScroll() as v:
            v.border_title = f"Keys · {getattr(self.under, 'HELP_TITLE', 'GPUs & processes')}"
            v.border_subtitle = "Esc closes · ctrl+p finds any action by name"
            if here:
                yield Static(self._table(here))
            for title, part in (("Moving around", pick("move")), ("Everywhere", pick("app"))):
                if part:
                    yield Static(Text(title, style="bold underline"))
                    yield Static(self._table(part))

    def action_dismiss(self) -> None:
        self.dismiss()
