"""Dataset browser (D, and ctrl+g in the editor on a `dataset:` line): the entries of a dataset_info.json, then one
dataset's rows as LLaMA-Factory reads them, with the row checks and the row's images.

Every read of the disk is in a thread worker: the entries' row counts, opening a file (a JSON array is parsed
whole; a JSONL file only as far as the rows shown), counting the rows of a large JSONL (in the background, the
first rows are on screen before), search, checks and the token-length histogram.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...core.models import datasets as ds
from ...core.models.cache import human_bytes
from ..palette import PALETTE
from ..widgets.cell import Cell

def role_style(role: str) -> str:
    """The theme's colours (mono and high-contrast stay what they are): user accent, assistant ok, tools warning."""
    base = {"user": PALETTE.accent, "assistant": PALETTE.ok, "chosen": PALETTE.ok, "system": PALETTE.muted,
            "observation": PALETTE.warning, "function": PALETTE.warning}.get(role, PALETTE.danger)
    return f"bold {base}"


def editor_context(app) -> dict:
    """dataset_dir (resolved), dataset names, cutoff_len and model path of the config open in the editor, if any."""
    from .editor import EditorScreen

    ed = next((s for s in reversed(app.screen_stack) if isinstance(s, EditorScreen)), None)
    if ed is None or ed.report is None:
        return {}
    from ...core.configs.lfrefs import resolve

    values = ed.report.values
    raw = str(values.get("dataset_dir") or "data")
    folder, _ = resolve(raw, ed.path, ed.workdir)
    names = [n.strip() for n in str(values.get("dataset") or "").split(",") if n.strip()]
    model = values.get("model_name_or_path")
    model_dir = None
    if isinstance(model, str):
        m, _ = resolve(model, ed.path, ed.workdir)
        model_dir = m if m is not None and m.is_dir() else None
    cutoff = values.get("cutoff_len")
    return {"dataset_dir": folder, "names": names, "cutoff_len": cutoff if isinstance(cutoff, int) else None,
            "model_dir": model_dir}


def open_datasets(app, dataset_dir: str | Path | None = None, name: str | None = None) -> None:
    ctx = editor_context(app)
    folder = Path(dataset_dir) if dataset_dir else ctx.get("dataset_dir")
    if folder is None and Path("data", "dataset_info.json").is_file():
        folder = Path("data")

    def go(value) -> None:
        if not value:
            return
        app.push_screen(DatasetsScreen(Path(value).expanduser(), open_name=name, context=ctx))

    if folder is not None:
        go(folder)
        return
    from .confirm import PromptScreen

    app.push_screen(PromptScreen("Dataset folder (the config's dataset_dir, holding dataset_info.json)",
                                 "path/to/data"), go)


class DatasetsScreen(Screen):
    HELP_TITLE = "Datasets"
    BINDINGS = [
        Binding("enter", "open", "Rows", priority=True, tooltip="Browse the rows of this dataset"),
        Binding("c", "check", "Check", tooltip="Check every row of every local dataset (background)"),
        Binding("f5", "rescan", "Reload", show=False, tooltip="Read dataset_info.json again"),
        Binding("escape,g", "back", "Back", tooltip="Back to the previous view"),
    ]
    DEFAULT_CSS = """
    DatasetsScreen #dtitle { height: 1; }
    DatasetsScreen DataTable { height: 1fr; }
    DatasetsScreen #ddetail { height: auto; max-height: 4; }
    """

    def __init__(self, dataset_dir: Path, *, open_name: str | None = None, context: dict | None = None) -> None:
        super().__init__()
        self.dataset_dir = Path(dataset_dir)
        self.open_name = open_name
        self.context = context or {}
        self.entries: list[ds.Entry] = []
        self.problems: list[str] = []
        self.counts: dict[str, str] = {}
        self.checks: dict[str, str] = {}
        self._quit_ev = threading.Event()

    def compose(self) -> ComposeResult:
        yield Cell(id="dtitle")
        t = DataTable(id="dtable", cursor_type="row", zebra_stripes=False)
        t.add_columns("NAME", "FORMAT", "RANKING", "SOURCE", "ROWS", "SIZE", "CHECK", "FILE / URL")
        yield t
        yield Cell(id="ddetail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self._title("reading dataset_info.json…")
        self.action_rescan()

    def on_unmount(self) -> None:
        self._quit_ev.set()

    def _title(self, note: str = "") -> None:
        self.query_one("#dtitle", Cell).show(Text.assemble((" Datasets", "bold"), f"  {self.dataset_dir}  ",
                                                           (note, PALETTE.muted)))

    def action_rescan(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="ds-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            from ...core.models.cache import models_env

            ents, problems = ds.entries(self.dataset_dir, models_env(os.environ, self.app.settings.env))
        except ds.DatasetError as e:
            self.app.call_from_thread(self._title, str(e))
            return
        self.app.call_from_thread(self._show_entries, ents, problems)
        for e in ents:  # row counts, one file at a time
            if self._quit_ev.is_set():
                return
            if e.path is None or not e.path.exists():
                continue
            try:
                n = sum(ds.RowSource(p).count(stop=self._quit_ev.is_set) for p in e.files())
                self.counts[e.name] = f"{n:,}"
            except ds.DatasetError:
                self.counts[e.name] = "error"
            self.app.call_from_thread(self._fill)

    def _show_entries(self, ents, problems) -> None:
        self.entries, self.problems = ents, problems
        note = f"{len(ents)} entr{'y' if len(ents) == 1 else 'ies'}" + (f" · {len(problems)} problem(s): {problems[0]}" if problems else "")
        self._title(note)
        self._fill()
        if self.open_name:
            name, self.open_name = self.open_name, None
            idx = next((i for i, e in enumerate(self.entries) if e.name == name), None)
            if idx is not None:
                self.query_one(DataTable).move_cursor(row=idx)
                self.action_open()

    def _fill(self) -> None:
        t = self.query_one(DataTable)
        cur = t.cursor_row
        t.clear()
        for e in self.entries:
            if e.source == "file":
                rows = self.counts.get(e.name, "…" if e.size is not None else "-")
                where = e.target if e.size is not None else f"{e.target} (missing)"
            else:
                rows = self.counts.get(e.name, "…") if e.path is not None else "-"
                where = f"{e.source}: {e.target}" + (" (cached)" if e.cached else " (not cached)" if e.cached is False
                                                      else "")
            t.add_row(e.name, e.formatting, "yes" if e.ranking else "", e.source, rows,
                      human_bytes(e.size) if e.size is not None else "-", self.checks.get(e.name, ""), where,
                      key=e.name)
        if self.entries:
            t.move_cursor(row=min(max(cur, 0), len(self.entries) - 1))
        self._detail()

    def on_data_table_row_highlighted(self, event) -> None:
        self._detail()

    def current(self) -> ds.Entry | None:
        t = self.query_one(DataTable)
        return self.entries[t.cursor_row] if 0 <= t.cursor_row < len(self.entries) else None

    def _detail(self) -> None:
        e = self.current()
        if e is None:
            return
        cols = ", ".join(f"{k}={v}" for k, v in e.columns.items()) or "default columns"
        tags = ", ".join(f"{k}={v}" for k, v in e.tags.items())
        self.query_one("#ddetail", Cell).show(Text(f" columns: {cols}" + (f" · tags: {tags}" if tags else "")))

    def action_open(self) -> None:
        e = self.current()
        if e is None:
            return
        if e.path is None:
            self.notify(f"{e.name} comes from {e.source}: {e.target}, not in the HF cache; download it first (M, d, "
                        "--repo-type dataset) or browse local files", timeout=8)
            return
        files = e.files() if e.path is not None and e.path.exists() else []
        if not files:
            self.notify(f"{e.target}: no .json or .jsonl file " + (f"in {e.path}" if e.source != "file" else
                        f"in {self.dataset_dir}"), severity="error", timeout=6)
            return
        self.app.push_screen(RowsScreen(e, files[0], self.dataset_dir, context=self.context))

    def action_check(self) -> None:
        self._check_all()

    @work(thread=True, exclusive=True, group="ds-check", exit_on_error=False)
    def _check_all(self) -> None:
        for e in self.entries:
            if e.path is None or self._quit_ev.is_set():
                continue
            self.checks[e.name] = "checking…"
            self.app.call_from_thread(self._fill)
            res = ds.check_entry(e, self.dataset_dir, stop=self._quit_ev.is_set)
            bad = sum(len(r.findings) for r in res)
            err = next((r.error for r in res if r.error), "")
            self.checks[e.name] = f"✗ {err}" if err else (f"! {bad:,}" if bad else "✓")
            self.app.call_from_thread(self._fill)

    def action_back(self) -> None:
        self.app.pop_screen()


class RowsScreen(Screen):
    HELP_TITLE = "Dataset rows"
    BINDINGS = [
        Binding("n,right", "next", "Next", tooltip="Next row"),
        Binding("p,left", "prev", "Prev", tooltip="Previous row"),
        Binding("j", "jump", "Row N", tooltip="Jump to row N"),
        Binding("slash", "search", "Search", tooltip="Search the rows' text (from the next row on)"),
        Binding("e", "next_problem", "Next problem", tooltip="Next row that LLaMA-Factory would trip on"),
        Binding("c", "check", "Check all", tooltip="Check every row (background); summary in the title"),
        Binding("t", "tokens", "Tokens", show=False,
                tooltip="Token-length histogram with the config's tokenizer (cutoff_len marked)"),
        Binding("home", "first", "First", show=False, tooltip="First row"),
        Binding("end", "last", "Last", show=False, tooltip="Last row (after counting)"),
        Binding("escape,g", "back", "Back", tooltip="Back to the datasets"),
    ]
    DEFAULT_CSS = """
    RowsScreen #rtitle { height: 1; }
    RowsScreen #rproblems { height: auto; max-height: 4; }
    RowsScreen #rbody { height: 1fr; }
    RowsScreen #rimages { height: auto; }
    RowsScreen #rimages > * { width: 40; height: 12; margin-right: 1; }
    RowsScreen #rimages > Static { height: auto; }
    """

    def __init__(self, entry: ds.Entry, path: Path, dataset_dir: Path, *, context: dict | None = None) -> None:
        super().__init__()
        self.entry, self.path, self.dataset_dir = entry, Path(path), Path(dataset_dir)
        self.context = context or {}
        self.src: ds.RowSource | None = None
        self.index = 0
        self.row: ds.Row | None = None
        self.total: int | None = None
        self.summary = ""
        self.histogram = None  # (bins, rows over cutoff_len, cutoff_len, rows counted) after t
        self._quit_ev = threading.Event()

    def compose(self) -> ComposeResult:
        yield Cell(id="rtitle")
        yield Cell(id="rproblems")
        with VerticalScroll(id="rbody"):
            yield Static(id="rtext")
            yield Horizontal(id="rimages")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._title("opening…")
        self._open()

    def on_unmount(self) -> None:
        self._quit_ev.set()

    def _title(self, note: str = "") -> None:
        total = f"{self.total:,}" if self.total is not None else (
            f"≥{self.src.known_rows:,}, counting…" if self.src is not None else "?")
        parts = [(f" {self.entry.name}", "bold"), f"  {self.path.name}  row {self.index + 1} of {total}"]
        if self.summary:
            parts.append(f"  · {self.summary}")
        if note:
            parts.append((f"  {note}", PALETTE.muted))
        self.query_one("#rtitle", Cell).show(Text.assemble(*parts))

    @work(thread=True, exclusive=True, group="rows-open", exit_on_error=False)
    def _open(self) -> None:
        try:
            src = ds.RowSource(self.path)
        except ds.DatasetError as e:
            self.app.call_from_thread(self._title, str(e))
            return
        self.src = src
        self._load_row(0)
        if src.counted:
            self.total = src.known_rows
            self.app.call_from_thread(self._title)
            return
        # count once the first row is on screen (the count competes with the UI thread for the GIL)
        self.app.call_from_thread(lambda: self.call_after_refresh(self._count))

    @work(thread=True, exclusive=True, group="rows-count", exit_on_error=False)
    def _count(self) -> None:
        import time

        src = self.src
        last = [time.monotonic()]

        def stop() -> bool:
            if time.monotonic() - last[0] > 0.5:  # show progress twice a second
                last[0] = time.monotonic()
                self.app.call_from_thread(self._title)
            return self._quit_ev.is_set()

        n = src.count(stop=stop)
        if src.counted:
            self.total = n
        self.app.call_from_thread(self._title)

    def _load_row(self, i: int) -> None:
        """Read and check row i (in a worker thread), then show it."""
        raw = self.src.row(i) if self.src is not None else None
        if raw is None:
            self.app.call_from_thread(self.notify, f"no row {i + 1}", severity="warning", timeout=3)
            return
        row = ds.normalise(self.entry, raw)
        findings = ds.check_row(self.entry, row, self.dataset_dir)
        self.app.call_from_thread(self._show_row, i, row, findings)

    def _show_row(self, i: int, row: ds.Row, findings: list) -> None:
        self.index, self.row = i, row
        self._title()
        self.query_one("#rproblems", Cell).show(
            Text("\n".join(f" ✗ {f.kind}: {f.message}" for f in findings), style=PALETTE.danger) if findings
            else Text(" ✓ nothing LLaMA-Factory would trip on", style=PALETTE.ok))
        from rich.table import Table

        out = Table.grid()  # a long turn wraps in its own column, under its text
        out.add_column(width=10, no_wrap=True)
        out.add_column(ratio=1)
        if row.error:
            out.add_row(Text(f"line {row.line}", style=PALETTE.danger), Text(row.error, style=PALETTE.danger))
        if row.system:
            out.add_row(Text("system", style=role_style("system")), Text(row.system + "\n"))
        for t in row.turns:
            out.add_row(Text(t.role, style=role_style(t.role)), Text((t.content or "(empty)") + "\n"))
        for what in ("chosen", "rejected"):
            t = getattr(row, what)
            if t is not None:
                out.add_row(Text(what, style=role_style(what)), Text((t.content or "(empty)") + "\n"))
        if row.images:
            out.add_row(Text("images", style=PALETTE.muted), Text(", ".join(row.images), style=PALETTE.muted))
        self.query_one("#rtext", Static).update(out)
        self._show_images(row)

    def _show_images(self, row: ds.Row) -> None:
        from ..widgets.images import image_widget

        box = self.query_one("#rimages", Horizontal)
        box.remove_children()
        widgets = []
        for p in row.images[:4]:
            full = p if os.path.isabs(p) else str(self.dataset_dir / p)
            w = image_widget(full) if os.path.isfile(full) else None
            widgets.append(w if w is not None else Static(Text(f"[{p}: not shown]", style=PALETTE.muted)))
        if widgets:
            box.mount_all(widgets)

    # -- moving --------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="rows-move", exit_on_error=False)
    def go(self, i: int) -> None:
        if i < 0:
            return
        self._load_row(i)

    def action_next(self) -> None:
        self.go(self.index + 1)

    def action_prev(self) -> None:
        self.go(self.index - 1)

    def action_first(self) -> None:
        self.go(0)

    def action_last(self) -> None:
        if self.total is None:
            self.notify("Still counting the rows…", timeout=3)
            return
        self.go(self.total - 1)

    def action_jump(self) -> None:
        from .confirm import PromptScreen

        def answer(v: str | None) -> None:
            if not v:
                return
            try:
                n = int(v.replace(",", "").replace("_", ""))
            except ValueError:
                self.notify(f"{v!r} is not a row number", severity="error", timeout=4)
                return
            self.go(max(0, n - 1))

        self.app.push_screen(PromptScreen("Jump to row", "1 … " + (f"{self.total:,}" if self.total else "N")), answer)

    def action_search(self) -> None:
        from .confirm import PromptScreen

        self.app.push_screen(PromptScreen("Search the rows (case-insensitive)", "text"),
                             lambda v: v and self._search(v))

    @work(thread=True, exclusive=True, group="rows-move", exit_on_error=False)
    def _search(self, text: str) -> None:
        self.app.call_from_thread(self._title, f"searching {text!r}…")
        hit = ds.search(self.src, self.entry, text, self.index + 1, stop=self._quit_ev.is_set) \
            if self.src is not None else None
        if hit is None:
            self.app.call_from_thread(self._title, f"{text!r} not found after row {self.index + 1}")
            return
        self._load_row(hit)

    @work(thread=True, exclusive=True, group="rows-move", exit_on_error=False)
    def action_next_problem(self) -> None:
        if self.src is None:
            return
        self.app.call_from_thread(self._title, "looking for the next problem…")
        for raw in self.src.rows(self.index + 1):
            if self._quit_ev.is_set():
                return
            row = ds.normalise(self.entry, raw)
            findings = ds.check_row(self.entry, row, self.dataset_dir)
            if findings:
                self.app.call_from_thread(self._show_row, raw.index, row, findings)
                return
        self.app.call_from_thread(self._title, f"no problem after row {self.index + 1}")

    @work(thread=True, exclusive=True, group="rows-check", exit_on_error=False)
    def action_check(self) -> None:
        self.summary = "checking…"
        self.app.call_from_thread(self._title)
        res = ds.check_entry(self.entry, self.dataset_dir, stop=self._quit_ev.is_set)
        mine = next((r for r in res if r.file == str(self.path)), res[0] if res else None)
        self.summary = mine.summary() if mine is not None else ""
        self.app.call_from_thread(self._title)

    @work(thread=True, exclusive=True, group="rows-tokens", exit_on_error=False)
    def action_tokens(self) -> None:
        model = self.context.get("model_dir")
        if model is None or self.src is None:
            self.app.call_from_thread(self.notify, "Token lengths need the config's model as a local folder (open "
                                      "the dataset from the editor, ctrl+g, with model_name_or_path a local folder)",
                                      severity="warning", timeout=8)
            return
        self.app.call_from_thread(self._title, "counting tokens…")
        lengths = ds.token_lengths(model, self.src, self.entry)  # in this process when `tokenizers` is here
        if lengths is None:
            python = self.app.ctx.lf_python()  # else the training environment's transformers
            if not python:
                self.app.call_from_thread(self.notify, "No tokenizer here: install `tokenizers`, or set "
                                          "runs.llamafactory_cli / configs.lf_python to the training environment",
                                          severity="warning", timeout=8)
                return
            try:
                lengths = ds.token_lengths_in_env(python, model, self.src, self.entry)
            except ds.DatasetError as e:
                self.app.call_from_thread(self.notify, str(e), severity="error", timeout=10)
                return
        self.app.call_from_thread(self._title)
        cutoff = self.context.get("cutoff_len")
        bins, cut = ds.histogram(lengths, cutoff)
        peak = max((c for *_, c in bins), default=1) or 1
        self.histogram = (bins, cut, cutoff, len(lengths))
        lines = [f"token lengths of the first {len(lengths):,} rows ({model.name}; without the template's tokens)"]
        for lo, hi, c in bins:
            mark = " ← cutoff_len" if cutoff is not None and lo <= cutoff <= hi else ""
            lines.append(f"{lo:>7}-{hi:<7} {'█' * max(0, round(30 * c / peak)):<30} {c}{mark}")
        if cutoff is not None:
            lines.append(f"cutoff_len {cutoff}: {cut:,} of {len(lengths):,} rows are cut")
        self.app.call_from_thread(self._show_histogram, "\n".join(lines))

    def _show_histogram(self, text: str) -> None:
        """In place of the row (n / p / j go back to rows)."""
        self.query_one("#rtext", Static).update(Text(text + "\n\n(n, p or j: back to the rows)"))
        self.query_one("#rimages", Horizontal).remove_children()

    def action_back(self) -> None:
        self.app.pop_screen()


def open_from_editor(editor) -> None:
    """ctrl+g in the editor: the dataset named under the cursor on a `dataset:` / `eval_dataset:` line (the first one
    elsewhere), in the config's dataset_dir."""
    from ..widgets.yaml_editor import YamlEditor

    ed = editor.query_one(YamlEditor)
    row, col = ed.cursor_location
    key = ed.key_at(row)
    ctx = editor_context(editor.app)
    name = None
    if key in ("dataset", "eval_dataset"):
        line = ed.document.get_line(row)
        value = line.split(":", 1)[1] if ":" in line else ""
        start = len(line) - len(value)
        names, pos = [], start
        for part in value.split(","):
            names.append((pos, pos + len(part), part.strip().strip("\"'")))
            pos += len(part) + 1
        name = next((n for a, b, n in names if a <= col <= b and n), None) or next((n for *_, n in names if n), None)
    elif ctx.get("names"):
        name = ctx["names"][0]
    folder = ctx.get("dataset_dir")
    if folder is None:
        editor.notify("dataset_dir not found (the config's dataset_dir, or ./data, relative to the working directory "
                      "or the config)", severity="warning", timeout=6)
        return
    editor.app.push_screen(DatasetsScreen(folder, open_name=name, context=ctx))
