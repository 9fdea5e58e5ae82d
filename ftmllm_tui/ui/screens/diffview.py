"""Dialogs around saving a config: the diff before saving, and the conflict when the file changed on disk."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from ..palette import PALETTE
from .dialog import Dialog


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


class _DiffDialog(Dialog[str | None]):
    """A summary at the top, the buttons at the bottom (both docked: always on screen), the diff scrolls between.

    One Button.Pressed handler for the whole family: subclasses override ``chosen``, never define
    ``on_button_pressed`` again (Textual would call both, and dismiss twice: the second one closes the screen
    underneath, e.g. the editor)."""
    HELP_TITLE = "Save or reload"

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    _DiffDialog { align: center middle; }
    _DiffDialog > #dlg { width: 120; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    _DiffDialog #head { dock: top; height: auto; }
    _DiffDialog #diffbox { height: auto; max-height: 100%; }
    _DiffDialog #diff { margin-top: 1; }
    _DiffDialog #buttons { dock: bottom; height: 2; padding-top: 1; }
    _DiffDialog Button { margin-right: 2; }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.chosen(event.button.id or "")

    def chosen(self, button_id: str) -> None:
        self.dismiss(None if button_id == "cancel" else button_id)


class SaveScreen(_DiffDialog):
    """What will change on disk; Enter saves."""

    def __init__(self, name: str, diff: str, summary: Text, *, verb: str = "Save"):
        super().__init__()
        self.name_text, self.diff, self.summary, self.verb = name, diff, summary, verb

    def compose(self) -> ComposeResult:
        with Vertical(id="dlg") as v:
            v.border_title = f"{self.verb} {self.name_text}"
            v.border_subtitle = f"Enter: {self.verb.lower()} · Esc cancels"
            with Vertical(id="head"):
                yield Static(self.summary, id="summary")
            with VerticalScroll(id="diffbox"):
                yield Static(diff_text(self.diff) if self.diff else Text("(new file)", style=PALETTE.muted),
                             id="diff")
            with Horizontal(id="buttons"):
                yield Button(self.verb, id="save", variant="success", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#save", Button).focus()


class ConflictScreen(_DiffDialog):
    """The file changed on disk since it was opened: reload, overwrite, or look at the difference first."""

    def __init__(self, name: str, diff: str, deleted: bool = False):
        super().__init__()
        self.name_text, self.diff, self.deleted = name, diff, deleted

    def compose(self) -> ComposeResult:
        with Vertical(id="dlg") as v:
            v.border_title = f"{self.name_text} changed on disk"
            v.border_subtitle = "Esc cancels (nothing is lost)"
            what = "was deleted" if self.deleted else "was changed by someone or something else"
            with Vertical(id="head"):
                yield Static(Text.assemble((f"{self.name_text} {what} since you opened it.\n", "bold"),
                                           ("Reload: take the file on disk and drop your edits · Overwrite: "
                                            "replace it with yours (the disk version goes to the backups) · "
                                            "Diff: see the difference (- on disk, + yours).", PALETTE.muted)),
                             id="summary")
            with VerticalScroll(id="diffbox"):
                yield Static("", id="diff")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Diff", id="diff-btn", compact=True)
                yield Button("Reload", id="reload", variant="warning", compact=True)
                yield Button("Overwrite", id="overwrite", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        # the box stays (empty, 0 rows): a dialog of docked parts only would not size itself
        self.query_one("#diff").display = False

    def chosen(self, button_id: str) -> None:
        if button_id == "diff-btn":  # show / hide the difference; the dialog stays
            diff = self.query_one("#diff", Static)
            diff.display = not diff.display
            diff.update(diff_text(self.diff) if self.diff else "(no difference)")
            self.query_one("#diff-btn", Button).label = "Hide diff" if diff.display else "Diff"
            return
        super().chosen(button_id)
