"""The base of every dialog: F1 (and ? when no text field has the focus) lists its keys, like `?` in a
view (Textual gives app keys no say inside a modal screen, so the dialog binds it itself)."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import ModalScreen, ScreenResultType


class Dialog(ModalScreen[ScreenResultType]):
    BINDINGS = [Binding("f1,question_mark", "app.help", "Help", show=False, tooltip="The keys of this dialog")]
    HELP_TITLE = "Dialog"
    HELP_EXTRA = [
        ("Tab shift+Tab", "move between the fields and buttons"),
        ("Enter", "press the focused button (the safe one has the focus when the dialog opens)"),
        ("click", "a button, a row, a field; the wheel scrolls long content"),
    ]
