"""Edit a LLaMA-Factory config in place: highlighted, validated as you type against the LLaMA-Factory version
in use, help for the key under the cursor, completion and pickers, saved atomically with a backup, and never
silently over someone else's change."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ...core.configs import cfgfile
from ...core.configs import pickers
from ...core.configs.lfschema import COMMAND_GROUPS, GROUP_WORDS, Schema, available_versions, load
from ...core.configs.lfvalidate import Finding, Report, guess_command, validate
from ..palette import PALETTE
from ..widgets.cell import Cell
from ..widgets.yaml_editor import KEY_LINE, YamlEditor, value_span, yaml_scalar

SEV_ICON = {"error": "✗", "warning": "!", "info": "·"}


def _sev_style(severity: str) -> str:
    return {"error": PALETTE.danger, "warning": PALETTE.warning}.get(severity, PALETTE.muted)
PICKABLE = ("model_name_or_path", "adapter_name_or_path", "dataset", "eval_dataset", "deepspeed", "template")
COMMANDS = tuple(COMMAND_GROUPS)


def backup_dir() -> Path:
    from ...settings import state_dir

    return state_dir() / "backups"


class EditorScreen(Screen):
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
        Binding("f8", "deep", "Deep", tooltip="Run LLaMA-Factory's own parser in the training env (F8 again cancels)"),
        Binding("f9", "backups", "Backups", show=False, tooltip="Previous versions of this file: diff or restore"),
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
        ed.load_text(text if text is not None else self.initial_text if self.initial_text is not None
                     else loaded.text)
        ed.read_only = False
        if loaded.undecodable:
            self.notify(f"{self.path.name} is not valid UTF-8: the bad bytes are kept as they are when you save",
                        severity="warning", timeout=10)
        self._header()
        self._schedule(0.0)

    def on_resize(self, _event) -> None:
        self._apply_width()

    def _apply_width(self) -> None:
        show = self.size.width >= 100 if self.keyhelp_wanted is None else self.keyhelp_wanted
        self.set_class(not show, "no-keyhelp")

    def action_toggle_keyhelp(self) -> None:
        self.keyhelp_wanted = self.has_class("no-keyhelp")
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
        from ...core.configs.recent import remember
        from ...settings import state_dir

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
        return self.text != self.disk_text or (self.loaded is not None and self.loaded.stamp is None
                                               and self.text != "")

    def current_command(self) -> str:
        if self.command:
            return self.command
        if self.report is not None:
            return self.report.command
        return guess_command({}, self.path)

    def _choices_for(self, key: str) -> list[str]:
        if key == "template":
            return list(self.schema.templates)
        arg = self.schema.args.get(key)
        if arg is None:
            return []
        if arg.choices:
            return [str(c).lower() if isinstance(c, bool) else str(c) for c in arg.choices]
        if "bool" in arg.accepts:
            return ["true", "false"]
        return []

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
        if self.modified:
            t.append("  [modified]", style=f"bold {PALETTE.warning}")
        t.append(f"   as {self.current_command()}{'' if self.command else ' (guessed)'}", style=PALETTE.muted)
        t.append(f"   {self.schema_why}", style=PALETTE.muted)
        self.query_one("#edhead", Cell).show(t)

    # -- validation --------------------------------------------------------------------------------
    @on(TextArea.Changed, "#ed")
    def _changed(self, _event) -> None:
        self._header()
        self._schedule(0.3)

    def _schedule(self, delay: float) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(max(delay, 0.01), self._validate)

    def _validate(self) -> None:
        self._run_validation(self.text, self.schema, self.command)

    @work(thread=True, exclusive=True, group="validate")
    def _run_validation(self, text: str, schema: Schema, command: str | None) -> None:
        report = validate(text, schema=schema, path=self.path, command=command, workdir=self.workdir)
        self.app.call_from_thread(self._validated, text, report)

    def _validated(self, text: str, report: Report) -> None:
        if not self._alive:
            return
        if text != self.text:
            return  # stale: another run is coming
        self.report = report
        self._header()
        marks: dict[int, list] = {}
        ed = self.query_one(YamlEditor)
        for f in report.findings:
            if f.severity == "info" or not f.line:
                continue
            row = f.line - 1
            if row >= ed.document.line_count:
                continue
            line = ed.document.get_line(row)
            start = max(0, f.col - 1)
            end = None
            if f.code != "syntax":
                m = KEY_LINE.match(line)
                span = value_span(line)
                if m and start <= m.end("key"):
                    end = m.end("key")
                elif span and span[0] <= start:
                    end = span[1]
            else:
                end = min(len(line), start + 1) if start < len(line) else None
                if start >= len(line):
                    start = max(0, len(line) - 1)
            marks.setdefault(row, []).append((start, end, f.severity))
        ed.set_marks(marks)
        self._fill_problems(report)
        self._status()
        self._key_help()

    def restyle(self) -> None:
        """The theme changed: header, problems, status and key help carry palette colours."""
        if not self._alive():
            return
        self._header()
        if self.report is not None:
            self._fill_problems(self.report)
        self._status()
        self._key_help()

    def _fill_problems(self, report: Report) -> None:
        ol = self.query_one("#problems", OptionList)
        keep = ol.highlighted
        ol.clear_options()
        self.findings_shown = list(report.findings)
        opts = []
        for f in self.findings_shown:
            t = Text()
            t.append(f" {SEV_ICON[f.severity]} ", style=f"bold {_sev_style(f.severity)}")
            t.append(f"{f.where():>7}  ", style=PALETTE.muted)
            t.append(f.message, style=_sev_style(f.severity) if f.severity != "info" else PALETTE.muted)
            if f.hint:
                t.append(f"  → {f.hint}", style=PALETTE.muted)
            opts.append(Option(t))
        if not opts:
            opts.append(Option(Text(" ✓ no problems found", style=PALETTE.ok), disabled=True))
        ol.add_options(opts)
        if keep is not None and keep < len(self.findings_shown):
            ol.highlighted = keep
        n_err = len(report.errors)
        n_warn = len(report.warnings)
        ol.border_title = f"Problems: {n_err} error(s), {n_warn} warning(s)"

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

    def _status(self) -> None:
        ed = self.query_one(YamlEditor)
        row, col = ed.cursor_location
        t = Text(f" {row + 1}:{col + 1} ", style=PALETTE.muted)
        if self.report is not None:
            here = [f for f in self.report.findings if f.line == row + 1 and f.severity != "info"]
            if here:
                f = here[0]
                t.append(f"{SEV_ICON[f.severity]} {f.message}", style=_sev_style(f.severity))
                if f.hint:
                    t.append(f"  → {f.hint}", style=PALETTE.muted)
            elif not self.report.findings:
                t.append("✓ valid", style=PALETTE.ok)
            else:
                e, w = len(self.report.errors), len(self.report.warnings)
                t.append(f"{e} error(s), {w} warning(s) · F10 lists them", style=PALETTE.muted)
        self.query_one("#edstatus", Cell).show(t)

    def _key_help(self) -> None:
        ed = self.query_one(YamlEditor)
        key = ed.key_at(ed.cursor_location[0])
        out = Text()
        if key is None:
            out.append("Key help\n", style="bold")
            out.append("Put the cursor on a key to see what it does, its type, default and choices.\n\n",
                       style=PALETTE.muted)
            out.append(f"{len(self.schema.names_for(self.current_command()))} keys fit `{self.current_command()}` "
                       f"in LLaMA-Factory {self.schema.version}. Type the start of one and press → , or "
                       "ctrl+n for the list.", style=PALETTE.muted)
        else:
            arg = self.schema.args.get(key)
            out.append(f"{key}\n", style=f"bold {PALETTE.accent}")
            if arg is None:
                out.append(f"not an argument of LLaMA-Factory {self.schema.version}\n", style=PALETTE.danger)
            else:
                groups = ", ".join(GROUP_WORDS[g] for g in arg.groups)
                out.append(f"{groups} argument · {arg.type_words()}\n", style=PALETTE.muted)
                out.append("default ", style=PALETTE.muted)
                out.append(f"{arg.default!r}\n" if arg.default is not None else "none\n")
                if not self.schema.applies(key, self.current_command()):
                    out.append(f"not taken by `{self.current_command()}`\n", style=PALETTE.danger)
                choices = self._choices_for(key) if (arg.choices or key == "template") else []
                if choices:
                    shown = ", ".join(choices[:40]) + (f", … ({len(choices)})" if len(choices) > 40 else "")
                    out.append("choices ", style=PALETTE.muted)
                    out.append(shown + "\n")
                if key in PICKABLE:
                    out.append("F2 picks a value\n", style=PALETTE.accent)
                out.append("\n" + (arg.help or "(no help text)"))
        self.query_one("#keyhelp", Static).update(out)

    # -- disk --------------------------------------------------------------------------------------
    def _watch_disk(self) -> None:
        self._check_disk()

    @work(thread=True, exclusive=True, group="watch")
    def _check_disk(self) -> None:
        if self.loaded is None:
            return
        try:
            changed = cfgfile.changed_on_disk(self.loaded.stamp, self.path)
        except OSError:
            return
        if changed:
            self.app.call_from_thread(self._disk_changed)

    def _disk_changed(self) -> None:
        if not self._alive:
            return
        if self.loaded is None or self.loaded.stamp is None and not self.path.exists():
            return
        if not self.modified:
            self._reload(quiet=True)
            self.notify(f"{self.path.name} changed on disk: reloaded (you had no edits)", timeout=5)
        elif not getattr(self, "_warned_disk", False):
            self._warned_disk = True
            self.notify(f"{self.path.name} changed on disk since you opened it; saving will ask what to do",
                        severity="warning", timeout=10)

    def _reload(self, quiet: bool = False) -> None:
        self._reread()

    @work(thread=True, exclusive=True, group="disk")
    def _reread(self) -> None:
        try:
            loaded = cfgfile.read(self.path, allow_missing=True)
        except cfgfile.ConfigFileError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
            return
        self.app.call_from_thread(self._reread_done, loaded)

    def _reread_done(self, loaded: cfgfile.Loaded) -> None:
        if not self._alive:
            return
        self.loaded = loaded
        self.disk_text = loaded.text
        ed = self.query_one(YamlEditor)
        loc = ed.cursor_location
        ed.load_text(loaded.text)
        row = min(loc[0], ed.document.line_count - 1)
        ed.move_cursor((row, 0))
        self._warned_disk = False
        self._header()
        self._schedule(0.0)

    # -- saving ------------------------------------------------------------------------------------
    def action_save(self, then=None) -> None:
        if self.loaded is None:
            self.notify("This file could not be read, so it cannot be saved from here", severity="error")
            return
        text = self.text
        report = validate(text, schema=self.schema, path=self.path, command=self.command, workdir=self.workdir,
                          check_files=False)

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._ask_diff(text, report, then)

        if not report.syntax_ok:
            from .confirm import ConfirmScreen

            f = report.findings[0]
            self.query_one(YamlEditor).move_cursor((max(0, f.line - 1), max(0, f.col - 1)), center=True)
            self.app.push_screen(ConfirmScreen(
                f"YAML syntax error at line {f.line}, column {f.col}",
                f"{f.message}\nLLaMA-Factory cannot read the file like this. Save it anyway?", yes="Save anyway"),
                confirmed)
            return
        self._ask_diff(text, report, then)

    def _ask_diff(self, text: str, report: Report, then) -> None:
        from .diffview import SaveScreen

        if text == self.disk_text and self.loaded is not None and self.loaded.stamp is not None:
            self.notify("No changes to save", timeout=3)
            if then:
                then()
            return
        diff = cfgfile.diff(self.disk_text, text, self.path.name) if self.loaded and self.loaded.stamp else ""
        full = self.report if self.report is not None and self.report.syntax_ok else report
        e, w = len(full.errors), len(full.warnings)
        summary = Text()
        if e or w:
            summary.append(f"{e} error(s), {w} warning(s) — saving anyway keeps your work; launching checks again",
                           style=PALETTE.warning if not e else PALETTE.danger)
        else:
            summary.append("✓ valid", style=PALETTE.ok)
        summary.append(f"\nwritten atomically; the previous version is kept in {backup_dir()}", style=PALETTE.muted)

        def go(choice: str | None) -> None:
            if choice == "save":
                self._write(text, force=False, then=then)

        self.app.push_screen(SaveScreen(self.path.name, diff, summary), go)

    @work(thread=True, exclusive=True, group="save")
    def _write(self, text: str, force: bool, then=None) -> None:
        keep = self.app.ctx.settings.keep_backups
        expected = self.loaded.stamp if self.loaded is not None else None
        try:
            saved = cfgfile.save(self.path, text, expected=expected, backup_dir=backup_dir(), keep=keep,
                                 force=force)
        except cfgfile.Conflict as exc:
            self.app.call_from_thread(self._conflict, text, exc, then)
            return
        except cfgfile.ConfigFileError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=12)
            return
        self.app.call_from_thread(self._saved, text, saved, then)

    def _saved(self, text: str, saved: cfgfile.Saved, then) -> None:
        if not self._alive:
            return
        self.loaded = cfgfile.Loaded(self.path, text, saved.stamp)
        self.disk_text = text
        self._warned_disk = False
        self._header()
        where = f" · previous version: {saved.backup}" if saved.backup else ""
        self.notify(f"Saved {self.path.name}{where}", timeout=6)
        if then:
            then()

    def _conflict(self, text: str, exc: cfgfile.Conflict, then) -> None:
        if not self._alive:
            return
        from .diffview import ConflictScreen

        diff = cfgfile.diff(exc.disk_text or "", text, self.path.name)

        def decide(choice: str | None) -> None:
            if choice == "overwrite":
                self._write(text, force=True, then=then)
            elif choice == "reload":
                self._reload()
                self.notify("Reloaded from disk; your edits were dropped (ctrl+z brings them back)", timeout=8)

        self.app.push_screen(ConflictScreen(self.path.name, diff, deleted=exc.disk_stamp is None), decide)

    # -- editing helpers ---------------------------------------------------------------------------
    def set_value(self, key: str, value: str, *, append: bool = False) -> None:
        """Write `key: value` (replacing the value on the key's line, or adding the key at the end)."""
        ed = self.query_one(YamlEditor)
        scalar = yaml_scalar(value)
        for row in range(ed.document.line_count):
            line = ed.document.get_line(row)
            m = KEY_LINE.match(line)
            if m and not m.group("indent") and m.group("key") == key:
                span = value_span(line)
                if span is None:
                    continue
                start, end = span
                old = line[start:end]
                if append and old and old not in ("null", "~"):
                    scalar = yaml_scalar(f"{old.strip(chr(34) + chr(39))},{value}")
                sep = "" if start > m.end("key") + 1 else " "
                ed.replace(sep + scalar, (row, start), (row, end))
                ed.move_cursor((row, start + len(sep) + len(scalar)))
                return
        text = ed.text
        prefix = "" if not text or text.endswith("\n") else "\n"
        end = ed.document.end
        ed.insert(f"{prefix}{key}: {scalar}\n", end)
        ed.move_cursor((ed.document.line_count - 2, len(key) + 2 + len(scalar)))

    def action_complete(self) -> None:
        from .pick import PickScreen

        ed = self.query_one(YamlEditor)
        row, col = ed.cursor_location
        line = ed.document.get_line(row)
        m = KEY_LINE.match(line)
        cmd = self.current_command()
        if m and not m.group("indent") and col > m.end("key"):
            key = m.group("key")
            choices = self._choices_for(key)
            if not choices:
                self.notify(f"{key} has no fixed choices" + (" · F2 picks a value" if key in PICKABLE else ""),
                            timeout=4)
                return
            found = pickers.templates(choices) if key == "template" else pickers.Found(tuple(
                pickers.Choice(c, c, "", "choice") for c in choices))
            self.app.push_screen(PickScreen(f"{key}: choices", lambda: found), lambda c: c and
                                 self.set_value(key, c.value))
            return
        word = ed.word_before_cursor()
        present = set(self.report.values) if self.report else set()

        def load() -> pickers.Found:
            out = []
            for name in self.schema.names_for(cmd):
                arg = self.schema.args[name]
                if name in present:
                    continue
                groups = "/".join(GROUP_WORDS[g] for g in arg.groups)
                help1 = (arg.help or "").split(". ")[0][:90]
                out.append(pickers.Choice(name, name, f"{groups} · {arg.type_words()} · {help1}", "key"))
            return pickers.Found(tuple(out))

        def chosen(c) -> None:
            if c is None:
                return
            r, cc = ed.cursor_location
            start = cc - len(ed.word_before_cursor())
            arg = self.schema.args[c.value]
            default = "" if arg.default is None else yaml_scalar(str(arg.default).lower()
                                                                 if isinstance(arg.default, bool) else str(arg.default))
            ed.replace(f"{c.value}: {default}", (r, start), (r, cc))

        self.app.push_screen(PickScreen(f"Keys for `{cmd}` (LLaMA-Factory {self.schema.version})", load,
                                        query=word, hint="keys already in the file are left out"), chosen)

    def action_pick(self) -> None:
        from .pick import PickScreen

        ed = self.query_one(YamlEditor)
        key = ed.key_at(ed.cursor_location[0])
        if key not in PICKABLE:
            menu = pickers.Found(tuple(pickers.Choice(k, k, what, "key") for k, what in (
                ("model_name_or_path", "models in the Hugging Face cache and local model folders"),
                ("adapter_name_or_path", "LoRA adapters in output folders"),
                ("dataset", "datasets in dataset_info.json under dataset_dir"),
                ("eval_dataset", "datasets for evaluation"),
                ("deepspeed", "DeepSpeed JSON configs nearby"),
                ("template", f"chat templates of LLaMA-Factory {self.schema.version}"))))
            self.app.push_screen(PickScreen("Pick a value for…", lambda: menu), lambda c: c and
                                 self._pick_for(c.value))
            return
        self._pick_for(key)

    def _pick_for(self, key: str) -> None:
        from .pick import PickScreen

        values = self.report.values if self.report else {}
        here = self.path.parent
        workdir = self.workdir
        if key == "model_name_or_path":
            def load() -> pickers.Found:  # runs in the picker's thread: stat calls included
                extra = [p for p in (workdir / "models", here / "models", Path.home() / "models") if p.is_dir()]
                return pickers.models(os.environ, extra)
            hint = f"cache: {pickers.hf_cache_dir(os.environ)}"
        elif key == "adapter_name_or_path":
            out = values.get("output_dir")

            def load() -> pickers.Found:
                roots = [p for p in dict.fromkeys((workdir / "saves", here / "saves", workdir, here)) if p.is_dir()]
                if isinstance(out, str):
                    roots.append(Path(out).expanduser().parent)
                return pickers.adapters(roots)
            hint = "folders with adapter_config.json"
        elif key in ("dataset", "eval_dataset"):
            raw = str(values.get("dataset_dir", "data"))

            def load() -> pickers.Found:
                from ...core.configs.lfrefs import resolve

                folder, _ = resolve(raw, self.path, workdir)
                return pickers.datasets(folder or Path(raw))
            hint = f"from {raw}/dataset_info.json"
        elif key == "deepspeed":
            load, hint = (lambda: pickers.deepspeed_configs([here, self.workdir],
                                                            [self.workdir / "examples" / "deepspeed"])), ""
        else:
            load, hint = (lambda: pickers.templates(self.schema.templates)), ""

        def chosen(c) -> None:
            if c is not None:
                self.set_value(key, c.value)
                self.query_one(YamlEditor).focus()

        self.app.push_screen(PickScreen(f"Pick {key}", load, hint=hint), chosen)

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
    def action_cycle_command(self) -> None:
        cur = self.current_command()
        order = list(COMMANDS)
        nxt = order[(order.index(cur) + 1) % len(order)] if cur in order else "train"
        self.command = nxt
        self.notify(f"Validating as `llamafactory-cli {nxt}`", timeout=3)
        self._header()
        self._schedule(0.0)

    def action_problems(self) -> None:
        self.query_one("#problems", OptionList).focus()

    def action_deep(self) -> None:
        """F8: the deep check; F8 again while it runs cancels it (it can take a minute: imports torch)."""
        if self._deep_cancel is not None:
            self._deep_cancel.set()
            self._deep_status("cancelling…")
            return
        if self.report is not None and not self.report.syntax_ok:
            self.notify("Fix the YAML syntax first", severity="warning", timeout=4)
            return
        import threading

        self._deep_cancel = threading.Event()
        self._deep_t0 = time.monotonic()
        self._deep_timer = self.set_interval(1.0, lambda: self._deep_status())
        self._deep_status()
        self._deep(self.text, self.current_command(), self._deep_cancel)

    def _deep_status(self, note: str = "") -> None:
        if not self._alive or self._deep_cancel is None:
            return
        secs = time.monotonic() - self._deep_t0
        t = Text(f" deep check: LLaMA-Factory's parser in the training env… {secs:.0f} s", style=PALETTE.accent)
        t.append(f"  {note}" if note else "  F8 cancels", style=PALETTE.muted)
        self.query_one("#edstatus", Cell).show(t)

    @work(thread=True, exclusive=True, group="deep")
    def _deep(self, text: str, command: str, cancel) -> None:
        from ...core.configs.lfenv import deep_check

        res = deep_check(text, command, self.app.ctx.lf_python(), workdir=self.workdir, name=self.path.name,
                         cancel=cancel)
        self.app.call_from_thread(self._deep_done, res)

    def _deep_done(self, res) -> None:
        self._deep_cancel = None
        if self._deep_timer is not None:
            self._deep_timer.stop()
            self._deep_timer = None
        if not self._alive:
            return
        self._status()
        if res.error_type == "Cancelled":
            self.notify(f"Deep check cancelled after {res.seconds:.0f} s", timeout=4)
            return
        if res.ok:
            self.notify(f"Deep check: LLaMA-Factory {res.version} accepts it ({res.seconds:.1f} s)", timeout=8)
        elif res.machine:
            self.notify(f"Deep check — depends on this machine, not the file: {res.error_type}: {res.message}",
                        severity="warning", timeout=15)
        else:
            self.notify(f"Deep check failed: {res.error_type}: {res.message}", severity="error", timeout=20)

    def action_backups(self) -> None:
        from .pick import PickScreen

        def load() -> pickers.Found:
            items = []
            for p in cfgfile.backups(self.path, backup_dir()):
                try:
                    st = p.stat()
                except OSError:
                    continue
                import time

                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime))
                items.append(pickers.Choice(str(p), when, f"{st.st_size} bytes · {p.name}", "backup"))
            return pickers.Found(tuple(items), () if items else ("no backups yet: one is kept at each save",))

        def chosen(c) -> None:
            if c is not None:
                self._read_backup(Path(c.value), c.label)

        self.app.push_screen(PickScreen(f"Backups of {self.path.name}", load, hint=str(backup_dir())), chosen)

    @work(thread=True, group="backup")
    def _read_backup(self, path: Path, label: str) -> None:
        try:
            old = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"cannot read the backup: {exc}", severity="error")
            return
        self.app.call_from_thread(self._offer_backup, old, label)

    def _offer_backup(self, old: str, label: str) -> None:
        from .diffview import SaveScreen

        if not self._alive:
            return
        diff = cfgfile.diff(self.text, old, self.path.name)

        def restore(choice: str | None) -> None:
            if choice == "save":
                ed = self.query_one(YamlEditor)
                ed.replace(old, ed.document.start, ed.document.end)
                self.notify("Backup restored into the editor (not saved yet; ctrl+z undoes)", timeout=6)

        self.app.push_screen(SaveScreen(f"restore of {label}", diff, Text(
            "Restore this version into the editor? (- now, + the backup)", style=PALETTE.muted)), restore)

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
            from .launch import LaunchScreen

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

    def action_close(self) -> None:
        find = self.query_one("#find", Input)
        if find.has_class("open"):
            find.remove_class("open")
            self.query_one(YamlEditor).focus()
            return
        if not self.modified:
            self.dismiss()
            return
        from .confirm import ConfirmScreen

        def answer(discard: bool | None) -> None:
            if discard:
                self.dismiss()

        self.app.push_screen(ConfirmScreen(f"{self.path.name} has unsaved edits",
                                           "Close and drop them? (ctrl+s saves instead)", yes="Drop edits"), answer)
