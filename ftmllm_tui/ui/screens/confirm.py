"""A yes/no modal that starts on Cancel: Enter right away never does the dangerous thing."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from .dialog import Dialog


class ConfirmScreen(Dialog[bool]):
    HELP_TITLE = "Confirm"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > #dlg { width: 70; max-width: 100%; height: auto; max-height: 100%; border: round $warning;
        background: $surface; padding: 1 2; }
    ConfirmScreen #body { height: auto; max-height: 100%; }
    ConfirmScreen #buttons { dock: bottom; height: 2; padding-top: 1; }
    ConfirmScreen Button { margin-right: 2; }
    """

    def __init__(self, title: str, body: str = "", *, yes: str = "Yes", danger: bool = True):
        super().__init__()
        self.title_text, self.body, self.yes, self.danger = title, body, yes, danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dlg"):
            with VerticalScroll(id="body"):  # a long body scrolls; the buttons are docked below it
                yield Static(Text(self.title_text, style="bold"))  # plain text: a YAML error may hold [/x]
                if self.body:
                    yield Static(Text(self.body))
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button(self.yes, compact=True, id="yes", variant="error" if self.danger else "success")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_cancel(self) -> None:
        self.dismiss(False)


class PromptScreen(Dialog[str | None]):
    """Ask for one line of text (a path, a run id…)."""
    HELP_TITLE = "Question"

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 90; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
        background: $surface; padding: 0 1; }
    """

    def __init__(self, title: str, placeholder: str = "", value: str = ""):
        super().__init__()
        self.title_text, self.placeholder, self.value = title, placeholder, value

    def compose(self) -> ComposeResult:
        from textual.widgets import Input

        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield Input(self.value, placeholder=self.placeholder, id="prompt")

    def on_input_submitted(self, event) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
