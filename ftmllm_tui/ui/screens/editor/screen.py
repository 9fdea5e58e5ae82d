"""Edit a LLaMA-Factory config in place: highlighted, validated as you type against the LLaMA-Factory version
in use, help for the key under the cursor, completion and pickers, saved atomically with a backup, and never
silently over someone else's change."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static, TextArea

from ....core.configs import cfgfile
from ....core.configs.lfschema import Schema, available_versions, load
from ....core.configs.lfvalidate import Finding, Report, guess_command
from ...palette import PALETTE
from ...widgets.cell import Cell
from ...widgets.yaml_editor import YamlEditor
from .keyhelp import KeyHelpPart
from .problems import ValidationPart
from .saving import SavingPart
from .values import ValuesPart


class EditorScreen(SavingPart, ValuesPart, KeyHelpPart, ValidationPart, Screen):
    HELP_TITLE = "Config editor"
    HELP_EXTRA = [
        ("→ at the end of a line", "accept the grey completion (keys, choices)"),
        ("ctrl+z / ctrl+y", "undo / redo"),
        ("ctrl+c ctrl+x ctrl+v", "copy, cut, paste (selection)"),
        ("Enter in Problems", "jump to the line"),
    ]
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Validate, show the diff, save atomically (backup kept)"),
        Binding("ctrl+f", "find", "Find", tooltip="Search the text (Enter: next)"),
        Binding("f3", "find_next", "Next", show=False, tooltip="Next match"),
        Binding("ctrl+n", "complete", "Complete", show=False, tooltip="List keys (or choices) that fit here"),
        Binding("f2", "pick", "Pick", tooltip="Pick a value: model, adapter, dataset, DeepSpeed, template"),
        Binding("f4", "cycle_command", "As", show=False,
                tooltip="Validate as train / chat / webchat / api / export / eval"),
        Binding("f5", "launch", "Launch", tooltip="Launch this config (save first), with one-off overrides"),
        Binding("ctrl+g", "browse_dataset", "Dataset", show=False,
                tooltip="Browse the dataset named on this line (dataset:, eval_dataset:): rows, checks, images"),
        Binding("f8", "deep", "Deep", tooltip="Run LLaMA-Factory's own parser in the training env (F8 again cancels)"),
        Binding("f9", "backups", "Backups", show=False, tooltip="Previous versions of this file: diff or restore"),
        Binding("f12", "save_as", "Save as", show=False, tooltip="Save the text under another name (the editor "
                "then edits that file; the first one stays as it was on disk)"),
        Binding("ctrl+o", "external", "$EDITOR", show=False, tooltip="Open in $EDITOR (the TUI is suspended)"),
        Binding("f10", "problems", "Problems", show=False, tooltip="Focus the problems list"),
        Binding("ctrl+t", "toggle_keyhelp", "Key help", show=False,
                tooltip="Show / hide the panel about the key under the cursor (hidden below 100 columns)"),
        Binding("f1", "app.help", "Help", tooltip="This help"),
        Binding("escape", "close", "Close", priority=True, tooltip="Close (asks when there are unsaved edits)"),
    ]
    DEFAULT_CSS = """
    EditorScreen #edhead { height: 1; }
    EditorScreen #edbody { height: 1fr; }
    EditorScreen YamlEditor, EditorScreen YamlEditor:focus { width: 1fr; border: none; padding: 0; }
    EditorScreen #keyhelp-box { width: 46; border-left: solid $primary-darken-2; padding: 0 1; }
    EditorScreen.no-keyhelp #keyhelp-box { display: none; }
    EditorScreen #problems { height: auto; max-height: 7; border: none; border-top: hkey $primary-darken-2;
        padding: 0; }
    EditorScreen #edstatus { height: 1; }
    EditorScreen #find { display: none; }
    EditorScreen #find.open { display: block; }
    """

    def __init__(self, path: Path | str, *, text: str | None = None, note: str = "",
                 copy_from: Path | None = None):
        super().__init__()
        self.copy_from = copy_from  # a bundled example: its text, saved as a new file at `path`
        self.path = Path(path).expanduser().absolute()
        self.initial_text = text
        self.note = note
        self.loaded: cfgfile.Loaded | None = None
        self.disk_text = ""
        self.schema: Schema = load(available_versions()[-1])
        self.schema_why = "checking the training environment…"
        self.command: str | None = None
        self.report: Report | None = None
        self.findings_shown: list[Finding] = []
        self._debounce: Timer | None = None
        self._find_from = (0, 0)
        self.workdir = Path.cwd()
        self.keyhelp_wanted: bool | None = None
        self._deep_cancel = None  # a threading.Event while a deep check runs
        self._deep_timer: Timer | None = None
        self._deep_t0 = 0.0  # the key help panel: None = shown when 100+ columns wide
        self.locked: str | None = None  # why the text cannot be edited (not UTF-8, not text), else None

    # -- building --------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Cell(id="edhead")
        with Horizontal(id="edbody"):
            yield YamlEditor(id="ed")
            with VerticalScroll(id="keyhelp-box"):
                yield Static("", id="keyhelp")
        yield OptionList(id="problems")
        yield Input(placeholder="find (Enter: next match, Esc: close)", id="find", compact=True)
        yield Cell(id="edstatus")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        ed = self.query_one(YamlEditor)
        ed.keys_for_completion = lambda: self.schema.names_for(self.current_command())
        ed.choices_for = self._choices_for
        ed.read_only = True  # until the file is read (off the UI thread)
        if ed.language_error:
            self.notify(ed.language_error, severity="warning", timeout=6)
        if self.note:
            self.notify(self.note, timeout=8)
        ed.focus()
        self._header()
        self._load(self.copy_from)
        self._pick_schema()
        self.set_interval(2.0, self._watch_disk)
        self._apply_width()

    @work(thread=True, exclusive=True, group="disk")
    def _load(self, copy_from: Path | None) -> None:
        try:
            loaded = cfgfile.read(self.path, allow_missing=True)
            if copy_from is not None and loaded.stamp is not None:
                self.app.call_from_thread(self.notify, f"{self.path} exists already (an earlier copy): opened it",
                                          timeout=6)
                copy_from = None
            text = cfgfile.read(copy_from).text if copy_from is not None else None
        except cfgfile.ConfigFileError as exc:
            self.app.call_from_thread(self._load_failed, str(exc))
            return
        self._remember()
        self.app.call_from_thread(self._loaded, loaded, text)

    def _load_failed(self, message: str) -> None:
        if not self._alive:
            return
        self.loaded = None
        self.notify(f"{message}: nothing here can be saved over it", severity="error", timeout=12)
        self._header()

    def _loaded(self, loaded: cfgfile.Loaded, text: str | None) -> None:
        if not self._alive:
            return
        ed = self.query_one(YamlEditor)
        self.loaded = loaded
        self.disk_text = loaded.text
        if self._not_text(loaded):
            return
        if self.initial_text is not None and loaded.stamp is not None:  # never over a file that exists
            self.notify(f"{self.path} exists already: opened it as it is", severity="warning", timeout=8)
            self.initial_text = None
        ed.load_text(text if text is not None else self.initial_text if self.initial_text is not None
                     else loaded.text)
        ed.read_only = False
        self._header()
        self._schedule(0.0)

    def _not_text(self, loaded: cfgfile.Loaded) -> bool:
        """A file that is not UTF-8 text never reaches the text area (tree-sitter and the terminal take UTF-8
        only): a binary file is not shown; a file with lines in another encoding is shown read-only with those
        bytes as �, and when they are GBK (say) the user is offered to re-encode it into the editor."""
        from ....core.configs import textenc

        self.locked = None
        scan = textenc.scan(loaded.text) if loaded.undecodable or "\x00" in loaded.text else None
        if scan is None or scan.ok:
            return False
        ed = self.query_one(YamlEditor)
        first = scan.problems[0]
        if scan.binary:
            self.locked = "not a text file"
            ed.load_text("")
            self.notify(f"{self.path.name} is not a text file (binary data): not opened", severity="error",
                        timeout=12)
        else:
            self.locked = "read-only: not UTF-8"
            ed.load_text(scan.clean)
            ed.move_cursor((max(0, first.line - 1), 0), center=True)
        ed.read_only = True
        self._header()
        self._schedule(0.0)
        self._offer = None
        if scan.encoding and not scan.binary:
            self._offer = (scan.encoding, ", ".join(str(p.line) for p in scan.problems))
            self.offer_reencode()
        return True

    def offer_reencode(self) -> bool:
        """Ask to re-encode (at load, and again on ctrl+s while read-only); False when there is nothing to offer."""
        from ..confirm import ConfirmScreen

        if not self.locked or not getattr(self, "_offer", None):
            return False
        encoding, lines = self._offer
        self.app.push_screen(ConfirmScreen(
            f"{self.path.name} is not UTF-8: line {lines} looks like {encoding}",
            f"LLaMA-Factory reads configs as UTF-8 and would stop on it. Re-encode the {encoding} lines "
            "as UTF-8 in the editor? Nothing is written until you save (the current file is kept as a "
            "backup). Cancel keeps it read-only (ctrl+s asks again).", yes=f"Re-encode {encoding} → UTF-8",
            danger=False), lambda yes: self._reencode(encoding) if yes else None)
        return True

    def _reencode(self, encoding: str) -> None:
        from ....core.configs import textenc

        if not self._alive or self.loaded is None:
            return
        try:
            text = textenc.reencoded(self.loaded.text, encoding)
        except UnicodeDecodeError:
            self.notify(f"{self.path.name} is not {encoding} after all: left read-only", severity="error")
            return
        self.locked = None
        ed = self.query_one(YamlEditor)
        loc = ed.cursor_location
        ed.read_only = False
        ed.load_text(text)
        ed.move_cursor(loc)
        self.notify(f"Re-encoded from {encoding}: ctrl+s writes it as UTF-8", timeout=8)
        self._header()
        self._schedule(0.0)

    def on_resize(self, _event) -> None:
        self._apply_width()



    @work(thread=True, exclusive=True, group="schema")
    def _pick_schema(self) -> None:
        schema, why = self.app.ctx.lf_schema()
        self.app.call_from_thread(self._schema_ready, schema, why)

    def _schema_ready(self, schema: Schema, why: str) -> None:
        if not self._alive:
            return
        self.schema, self.schema_why = schema, why
        self._header()
        self._schedule(0.0)

    def _remember(self) -> None:
        from ....core.configs.recent import remember
        from ....settings import state_dir

        try:
            remember(self.path, state_dir() / "recent_configs.json")
        except OSError:
            pass

    # -- state -------------------------------------------------------------------------------------
    @property
    def _alive(self) -> bool:
        """False once the screen is being taken down (a worker's answer can arrive after that)."""
        return self.is_attached and self.is_mounted and bool(self.query("#edhead"))

    @property
    def text(self) -> str:
        return self.query_one(YamlEditor).text

    @property
    def modified(self) -> bool:
        if self.locked:
            return False
        return self.text != self.disk_text or (self.loaded is not None and self.loaded.stamp is None
                                               and self.text != "")

    def current_command(self) -> str:
        if self.command:
            return self.command
        if self.report is not None:
            return self.report.command
        return guess_command({}, self.path)


    def _header(self) -> None:
        t = Text()
        t.append(" ✎ ", style=f"bold {PALETTE.accent}")
        try:
            shown = str(self.path.relative_to(Path.cwd()))
        except ValueError:
            shown = str(self.path)
        t.append(shown, style="bold")
        if self.loaded is not None and self.loaded.stamp is None:
            t.append("  new file", style=PALETTE.warning)
        if self.locked:
            t.append(f"  {self.locked}", style=f"bold {PALETTE.danger}")
        if self.modified:
            t.append("  [modified]", style=f"bold {PALETTE.warning}")
        if getattr(self, "_warned_disk", False):
            t.append("  ⚠ changed on disk (saving asks)", style=f"bold {PALETTE.danger}")
        t.append(f"   as {self.current_command()}{'' if self.command else ' (guessed)'}", style=PALETTE.muted)
        t.append(f"   {self.schema_why}", style=PALETTE.muted)
        self.query_one("#edhead", Cell).show(t)

    # -- validation --------------------------------------------------------------------------------
    @on(TextArea.Changed, "#ed")
    def _changed(self, _event) -> None:
        self._header()
        self._schedule(0.3)







    @on(OptionList.OptionSelected, "#problems")
    def _jump(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.findings_shown):
            f = self.findings_shown[event.option_index]
            ed = self.query_one(YamlEditor)
            if f.line:
                ed.move_cursor((f.line - 1, max(0, f.col - 1)), center=True)
            ed.focus()

    @on(TextArea.SelectionChanged, "#ed")
    def _moved(self, _event) -> None:
        self._status()
        self._key_help()



    # -- disk --------------------------------------------------------------------------------------






    # -- saving ------------------------------------------------------------------------------------





    # -- editing helpers ---------------------------------------------------------------------------




    # -- find --------------------------------------------------------------------------------------
    def action_find(self) -> None:
        box = self.query_one("#find", Input)
        box.add_class("open")
        ed = self.query_one(YamlEditor)
        if ed.selected_text and "\n" not in ed.selected_text:
            box.value = ed.selected_text
        box.focus()

    @on(Input.Submitted, "#find")
    def _find_submit(self, _event) -> None:
        self.action_find_next()

    @on(Input.Changed, "#find")
    def _find_changed(self, _event) -> None:
        ed = self.query_one(YamlEditor)
        self._find_from = ed.selection.start
        self._find(self.query_one("#find", Input).value, from_start_of_selection=True)

    def action_find_next(self) -> None:
        self._find(self.query_one("#find", Input).value)

    def _find(self, needle: str, from_start_of_selection: bool = False) -> None:
        from textual.widgets.text_area import Selection

        if not needle:
            return
        ed = self.query_one(YamlEditor)
        lines = ed.text.split("\n")
        row, col = ed.selection.start if from_start_of_selection else ed.selection.end
        low = needle.lower()
        order = list(range(row, len(lines))) + list(range(0, row + 1))
        for i, r in enumerate(order):
            start_col = col if i == 0 else 0
            hit = lines[r].lower().find(low, start_col)
            if i == len(order) - 1 and r == row and hit >= col:
                hit = -1 if i else hit
            if hit >= 0:
                ed.selection = Selection((r, hit), (r, hit + len(needle)))
                ed.scroll_cursor_visible(center=True)
                self.query_one("#edstatus", Cell).show(Text(f" found at {r + 1}:{hit + 1}", style=PALETTE.muted))
                return
        self.query_one("#edstatus", Cell).show(Text(f" {needle!r} not found", style=PALETTE.warning))

    # -- other actions -----------------------------------------------------------------------------









    def action_external(self) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"

        def run() -> None:
            try:
                with self.app.suspend():
                    subprocess.call([*shlex.split(editor), str(self.path)])
            except Exception as exc:  # noqa: BLE001 - no suspend support (e.g. headless), a missing editor
                self.notify(f"cannot run {editor}: {exc}", severity="error", timeout=8)
                return
            self._reload(quiet=True)
            self.notify(f"Back from {editor}; reloaded {self.path.name}", timeout=4)

        if self.modified:
            self.action_save(then=run)
        else:
            run()

    def action_launch(self) -> None:
        def open_dialog() -> None:
            from ..launch import LaunchScreen

            kind = self.current_command()
            self.app.push_screen(LaunchScreen(config=str(self.path), kind=kind if kind != "eval" else "train"),
                                 self.app.launched)

        if getattr(self.app.ctx, "readonly", False):
            self.notify("Read-only mode: launching is disabled", severity="warning")
            return
        if self.modified or (self.loaded is not None and self.loaded.stamp is None):
            self.action_save(then=open_dialog)
        else:
            open_dialog()

    def action_browse_dataset(self) -> None:
        from ..datasets import open_from_editor

        open_from_editor(self)

    def action_close(self) -> None:
        find = self.query_one("#find", Input)
        if find.has_class("open"):
            find.remove_class("open")
            self.query_one(YamlEditor).focus()
            return
        if not self.modified:
            self.dismiss()
            return
        from ..confirm import ConfirmScreen

        def answer(discard: bool | None) -> None:
            if discard:
                self.dismiss()

        self.app.push_screen(ConfirmScreen(f"{self.path.name} has unsaved edits",
                                           "Close and drop them? (ctrl+s saves instead)", yes="Drop edits"), answer)
