"""Configs view: the YAML files under the configured folders, recent ones first, the bundled examples,
each with its validation state; Enter edits, e opens $EDITOR, l launches, n starts a new file."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from ...core.configs import recent
from ...core.configs import cfgfile
from ...core.configs.lfvalidate import guess_command, validate
from ..palette import PALETTE
from ..widgets.cell import Cell

SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "wandb", "swanlog", "saves", "output"}


@dataclass(frozen=True)
class Entry:
    path: Path
    source: str          # "recent" | "dir" | "example"
    mtime: float


def bundled_examples() -> Path | None:
    try:
        p = Path(str(resources.files("ftmllm_tui") / "configs"))
    except (TypeError, ModuleNotFoundError):
        return None
    return p if p.is_dir() else None


def _yaml_files(folder: Path, depth: int = 2) -> list[Path]:
    out: list[Path] = []
    try:
        for entry in os.scandir(folder):
            if entry.name.startswith(".") or entry.name in SKIP_DIRS:
                continue
            if entry.is_dir(follow_symlinks=False) and depth > 0:
                out += _yaml_files(Path(entry.path), depth - 1)
            elif entry.name.endswith((".yaml", ".yml")) and entry.is_file():
                out.append(Path(entry.path))
    except OSError:
        pass
    return out


def scan(dirs: list[Path], store: Path, examples: Path | None) -> tuple[list[Entry], list[str]]:
    seen: set[Path] = set()
    out: list[Entry] = []
    notes: list[str] = []

    def add(p: Path, source: str) -> None:
        try:
            real = p.resolve()
            st = real.stat()
        except OSError:
            return
        if real in seen:
            return
        seen.add(real)
        out.append(Entry(p, source, st.st_mtime))

    for p in recent.load(store):
        add(p, "recent")
    for d in dirs:
        if not d.is_dir():
            notes.append(f"{d} does not exist")
            continue
        for p in sorted(_yaml_files(d)):
            add(p, "dir")
    if examples is not None:
        for p in sorted(_yaml_files(examples)):
            add(p, "example")
    return out, notes


def short_dir(p: Path) -> str:
    """A folder as short as it can be said: relative to the working directory, ~ for home."""
    try:
        rel = p.relative_to(Path.cwd())
        return "./" + str(rel) if str(rel) != "." else "."
    except ValueError:
        pass
    home = Path.home()
    try:
        return "~/" + str(p.relative_to(home))
    except ValueError:
        return str(p)


class ConfigsScreen(Screen):
    HELP_TITLE = "Configs"
    HELP_EXTRA = [("type in the filter", "matches the file name and folder")]
    BINDINGS = [
        Binding("enter", "edit", "Edit", priority=True, tooltip="Open in the config editor"),
        Binding("e", "external", "$EDITOR", tooltip="Open in $EDITOR (the TUI is suspended)"),
        Binding("l", "launch", "Launch", tooltip="Launch this config"),
        Binding("n", "new", "New", tooltip="A new config file"),
        Binding("slash", "filter", "Filter", tooltip="Filter by name or folder"),
        Binding("f5", "rescan", "Rescan", show=False, tooltip="Look for files again"),
        Binding("escape,g", "back", "GPUs", tooltip="Back (Esc clears the filter first)"),
    ]
    DEFAULT_CSS = """
    ConfigsScreen #ctitle { height: 1; }
    ConfigsScreen DataTable { height: 1fr; }
    ConfigsScreen #cfilter { display: none; }
    ConfigsScreen #cfilter.open { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Entry] = []
        self.checks: dict[Path, Text] = {}
        self.commands: dict[Path, str] = {}
        self.shown: list[Entry] = []
        self.sort: tuple[int, bool] | None = None  # (column, reverse) after a header click

    def compose(self) -> ComposeResult:
        yield Cell(id="ctitle")
        yield Input(placeholder="filter (Enter keeps it, Esc clears)", id="cfilter", compact=True)
        t = DataTable(id="ctable", cursor_type="row", zebra_stripes=False)
        t.add_columns("", "FILE", "AS", "CHECK", "MODIFIED", "FOLDER")
        yield t
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.action_rescan()

    def _dirs(self) -> list[Path]:
        return [Path(os.path.expandvars(d)).expanduser().absolute() for d in self.app.ctx.settings.config_dirs]

    def _store(self) -> Path:
        from ...settings import state_dir

        return state_dir() / "recent_configs.json"

    def action_rescan(self) -> None:
        self._scan(self._dirs(), self._store())

    @work(thread=True, exclusive=True, group="scan")
    def _scan(self, dirs: list[Path], store: Path) -> None:
        entries, notes = scan(dirs, store, bundled_examples())
        self.app.call_from_thread(self._scanned, entries, notes)
        schema, _why = self.app.ctx.lf_schema()
        for e in entries:
            try:  # as `validate` and the editor read it: bytes that are not UTF-8 are a problem at their line
                text = cfgfile.read(e.path).text
            except cfgfile.ConfigFileError as exc:
                cell = Text(f"unreadable: {str(exc).rsplit(': ', 1)[-1]}", style=PALETTE.danger)
                self.app.call_from_thread(self._checked, e.path, cell, None)
                continue
            r = validate(text, schema=schema, path=e.path, workdir=Path.cwd())
            if r.errors:
                cell = Text(f"✗ {len(r.errors)}" + (f" ! {len(r.warnings)}" if r.warnings else ""),
                            style=PALETTE.danger)
            elif r.warnings:
                cell = Text(f"! {len(r.warnings)}", style=PALETTE.warning)
            else:
                cell = Text("✓", style=PALETTE.ok)
            self.app.call_from_thread(self._checked, e.path, cell, r.command)

    def _scanned(self, entries: list[Entry], notes: list[str]) -> None:
        if not self.is_attached or not self.query(DataTable):
            return
        self.entries = entries
        title = Text(" Configs", style="bold")
        title.append(f"  {len(entries)} files · folders: {', '.join(short_dir(d) for d in self._dirs())}",
                     style=PALETTE.muted)
        if notes:
            title.append("  · " + "; ".join(notes), style=PALETTE.warning)
        self.query_one("#ctitle", Cell).show(title)
        self._refill()

    def _checked(self, path: Path, cell: Text, command: str | None) -> None:
        if not self.is_attached or not self.query(DataTable):
            return
        self.checks[path] = cell
        if command:
            self.commands[path] = command
        t = self.query_one(DataTable)
        key = str(path)
        if key in t.rows:
            t.update_cell(key, t.ordered_columns[3].key, cell)
            if command:
                t.update_cell(key, t.ordered_columns[2].key, command)

    def restyle(self) -> None:
        """The theme changed: the check marks carry palette colours; check again."""
        self.checks.clear()
        self.action_rescan()

    def _refill(self) -> None:
        t = self.query_one(DataTable)
        words = self.query_one("#cfilter", Input).value.lower().split()
        keep = t.cursor_row
        t.clear()
        self.shown = [e for e in self.entries if all(w in str(e.path).lower() for w in words)]
        if self.sort is not None:
            col, rev = self.sort
            keys = {0: lambda e: e.source, 1: lambda e: e.path.name.lower(),
                    2: lambda e: self.commands.get(e.path) or guess_command({}, e.path),
                    3: lambda e: self.checks.get(e.path, Text("")).plain, 4: lambda e: e.mtime,
                    5: lambda e: str(e.path.parent)}
            self.shown.sort(key=keys.get(col, keys[1]), reverse=rev)
        for e in self.shown:
            mark = {"recent": Text("★", style=PALETTE.accent), "example": Text("ex", style=PALETTE.muted)}.get(
                e.source, Text(""))
            cmd = self.commands.get(e.path) or guess_command({}, e.path)
            check = self.checks.get(e.path, Text("…", style=PALETTE.muted))
            t.add_row(mark, Text(e.path.name, style="bold"), cmd, check,
                      "" if e.source == "example" else time.strftime("%Y-%m-%d %H:%M", time.localtime(e.mtime)),
                      "(bundled examples)" if e.source == "example" else short_dir(e.path.parent),
                      key=str(e.path))
        if self.shown:
            t.move_cursor(row=min(keep, len(self.shown) - 1))

    def selected(self) -> Entry | None:
        t = self.query_one(DataTable)
        if not self.shown or t.cursor_row < 0 or t.cursor_row >= len(self.shown):
            return None
        return self.shown[t.cursor_row]

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        """Click a column header: sort by it; again: reverse."""
        col = event.column_index
        self.sort = (col, not self.sort[1]) if self.sort and self.sort[0] == col else (col, col == 4)
        self._refill()

    @on(DataTable.RowSelected)
    def _row_selected(self, _event) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        if self.query_one("#cfilter", Input).has_focus:  # Enter in the filter: to the list
            self.query_one(DataTable).focus()
            return
        e = self.selected()
        if e is not None:
            self.app.open_editor(e.path, example=e.source == "example")

    def action_external(self) -> None:
        import shlex
        import subprocess

        e = self.selected()
        if e is None:
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        try:
            with self.app.suspend():
                subprocess.call([*shlex.split(editor), str(e.path)])
        except Exception as exc:  # noqa: BLE001
            self.notify(f"cannot run {editor}: {exc}", severity="error", timeout=8)
        self.action_rescan()

    def action_launch(self) -> None:
        e = self.selected()
        if e is None:
            return
        if self.app.ctx.readonly:
            self.notify("Read-only mode: launching is disabled", severity="warning")
            return
        from .launch import LaunchScreen

        cmd = self.commands.get(e.path) or "train"
        self.app.push_screen(LaunchScreen(config=str(e.path), kind=cmd if cmd != "eval" else "train"),
                             self.app.launched)

    def action_new(self) -> None:
        """A new config: from a skeleton per kind of job, a bundled example, or empty; then where to
        write it (nothing is written until the editor saves)."""
        from ...core.configs import pickers
        from ...core.configs.skeletons import SKELETONS
        from .pick import PickScreen

        def load() -> pickers.Found:  # in the picker's thread: reads the examples' first lines
            items = [pickers.Choice(f"skeleton:{k}", f"{k} (skeleton)", what, "skeleton")
                     for k, (what, _text) in SKELETONS.items()]
            examples = bundled_examples()
            for p in sorted(examples.glob("*.y*ml")) if examples is not None else []:
                try:
                    head = next((ln.lstrip("# ").strip() for ln in p.read_text(encoding="utf-8").splitlines()
                                 if ln.startswith("#") and ln.strip("# ")), "")
                except OSError:
                    head = ""
                items.append(pickers.Choice(str(p), p.name, f"bundled example · {head}" if head else
                                            "bundled example", "example"))
            items.append(pickers.Choice("empty:", "empty file", "start from nothing", "empty"))
            return pickers.Found(tuple(items))

        self.app.push_screen(PickScreen("Start a new config from…", load,
                                        hint="a skeleton per kind of job, a bundled example, or an empty file"),
                             self._new_from)

    def _new_from(self, choice) -> None:
        from ...core.configs.skeletons import SKELETONS
        from .confirm import PromptScreen
        from .editor import EditorScreen

        if choice is None:
            return
        first = self._dirs()[0] if self._dirs() else Path.cwd()
        if choice.kind == "skeleton":
            kind = choice.value.split(":", 1)[1]
            name, text, source = f"{kind}.yaml", SKELETONS[kind][1], None
        elif choice.kind == "example":
            name, text, source = Path(choice.value).name, None, Path(choice.value)
        else:
            name, text, source = "new.yaml", None, None

        def go(value: str | None) -> None:
            if not value:
                return
            p = Path(value).expanduser()
            if not p.is_absolute():
                p = Path.cwd() / p
            if p.suffix not in (".yaml", ".yml"):
                p = p.with_suffix(".yaml")
            if source is not None:
                self.app.push_screen(EditorScreen(p, copy_from=source, note=f"A copy of {source.name}: saving "
                                                  f"writes {p}"))
            elif text is not None:
                self.app.push_screen(EditorScreen(p, text=text, note=f"A new config from the {choice.label}: "
                                                  f"saving writes {p}"))
            else:
                self.app.open_editor(p)

        self.app.push_screen(PromptScreen("Write the new config to", "path/to/new.yaml",
                                          value=str(first / name)), go)

    def action_filter(self) -> None:
        box = self.query_one("#cfilter", Input)
        box.add_class("open")
        box.focus()

    @on(Input.Changed, "#cfilter")
    def _filter(self, _event) -> None:
        self._refill()

    @on(Input.Submitted, "#cfilter")
    def _filter_done(self, _event) -> None:
        self.query_one(DataTable).focus()

    def action_back(self) -> None:
        box = self.query_one("#cfilter", Input)
        if box.has_class("open"):
            box.value = ""
            box.remove_class("open")
            self.query_one(DataTable).focus()
            return
        self.dismiss()

    def on_screen_resume(self) -> None:
        self.action_rescan()
