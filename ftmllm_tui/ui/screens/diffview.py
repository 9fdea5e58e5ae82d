"""Dialogs around saving a config: the diff before saving, and the conflict when the file changed on disk."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..palette import PALETTE


def diff_text(diff: str, limit: int = 400) -> Text:
    t = Text()
    lines = diff.splitlines()
    for line in lines[:limit]:
        style = (PALETTE.ok if line.startswith("+") and not line.startswith("+++") else
                 PALETTE.danger if line.startswith("-") and not line.startswith("---") else
                 PALETTE.accent if line.startswith("@@") else PALETTE.muted if line.startswith(("---", "+++"))
                 else "")
        t.append(line + "\n", style=style)
    if len(lines) > limit:
        t.append(f"… {len(lines) - limit} more lines\n", style=PALETTE.muted)
    return t


class _DiffDialog(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    _DiffDialog { align: center middle; }
    _DiffDialog > Vertical { width: 120; max-width: 98%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1; }
    _DiffDialog VerticalScroll { height: auto; max-height: 30; }
    _DiffDialog #summary { margin-bottom: 1; }
    _DiffDialog Horizontal { height: 1; margin-top: 1; }
    _DiffDialog Button { margin-right: 2; }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)


class SaveScreen(_DiffDialog):
    """What will change on disk; Enter saves."""

    def __init__(self, name: str, diff: str, summary: Text):
        super().__init__()
        self.name_text, self.diff, self.summary = name, diff, summary

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = f"Save {self.name_text}"
            v.border_subtitle = "Enter saves · Esc cancels"
            yield Static(self.summary, id="summary")
            with VerticalScroll():
                yield Static(diff_text(self.diff) if self.diff else Text("(new file)", style=PALETTE.muted))
            with Horizontal():
                yield Button("Save", id="save", variant="success", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#save", Button).focus()


class ConflictScreen(_DiffDialog):
    """The file changed on disk since it was opened: reload, overwrite, or look at the difference first."""

    def __init__(self, name: str, diff: str, deleted: bool = False):
        super().__init__()
        self.name_text, self.diff, self.deleted = name, diff, deleted

    def compose(self) -> ComposeResult:
        with Vertical() as v:
            v.border_title = f"{self.name_text} changed on disk"
            v.border_subtitle = "Esc cancels (nothing is lost)"
            what = "was deleted" if self.deleted else "was changed by someone or something else"
            yield Static(Text.assemble((f"{self.name_text} {what} since you opened it.\n", "bold"),
                                       ("Reload: take the file on disk and drop your edits · Overwrite: replace "
                                        "it with yours (the disk version goes to the backups) · Diff: see the "
                                        "difference (- on disk, + yours).", PALETTE.muted)), id="summary")
            with VerticalScroll(id="diffbox"):
                yield Static("", id="diff")
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Diff", id="diff-btn", compact=True)
                yield Button("Reload", id="reload", variant="warning", compact=True)
                yield Button("Overwrite", id="overwrite", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self.query_one("#diffbox").display = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "diff-btn":
            box = self.query_one("#diffbox")
            box.display = not box.display
            self.query_one("#diff", Static).update(diff_text(self.diff) if self.diff else "(no difference)")
            return
        super().on_button_pressed(event)
