"""The Runs view: every run the app launched (and external ones), their state and progress."""

from __future__ import annotations

import subprocess
import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input

from ...core import fmt
from ...core.background import BackgroundCaller
from ...core.runs.runctl import RunView, collect, external_runs, run_duration
from ..palette import PALETTE
from ..widgets.fast_table import Col, FastTable
from ..widgets.textline import TextLine, TextLines, fit_path

POLL_S = 2.0


def gpus_label(gpus: tuple[int, ...] | None) -> str:
    """cpu, 0, 0,1, 0-3, 0-3,6."""
    if not gpus:
        return "cpu"
    groups: list[list[int]] = []
    for g in sorted(gpus):
        if groups and g == groups[-1][-1] + 1:
            groups[-1].append(g)
        else:
            groups.append([g])
    return ",".join(",".join(map(str, r)) if len(r) <= 2 else f"{r[0]}-{r[-1]}" for r in groups)


def run_cells(v: RunView, now: float) -> dict[str, Text]:
    """The cells of one run, by column key (the output column is cut to its width later)."""
    r, s = v.status.record, v.status
    state = Text(s.state, style=PALETTE.state(s.state))
    if v.stalled:
        state.append(" stalled", style=PALETTE.state("stalled"))
    if s.orphaned:
        state.append(" orphans", style=PALETTE.state("orphans"))
    if s.state == "failed" and s.exit_code is not None:
        state.append(f" ({s.exit_code})", style=PALETTE.muted)
    job = getattr(v, "slurm_job", None)
    if job is not None and job.pending and job.reason:  # a Slurm run waiting in the queue
        state.append(f" ({job.reason})", style=PALETTE.muted)
    if r.saved_adapter:  # stop and save wrote the model
        state.append(" saved", style=PALETTE.state("finished"))
    p = v.progress
    prog = Text("-", style=PALETTE.muted)
    if p and p.step is not None:
        prog = Text(f"{p.step}/{p.total or '?'}")
        if p.percentage is not None:
            prog.append(f" {p.percentage:.0f}%", style=PALETTE.muted)
    loss = Text("-" if not p or p.loss is None else f"{p.loss:.4f}")
    eta = p.remaining if p and s.state == "running" and p.remaining else ""
    name = Text(r.name, style="bold" if not r.external else "italic")
    if r.external:
        name.append(" (external)", style=PALETTE.muted)
    started = time.strftime("%m-%d %H:%M", time.localtime(r.created_at)) if r.created_at else "-"
    host = r.host if ":" in r.id else ""  # another host's run (core/hosts/runs.py)
    return {"host": Text(host, style="bold"), "name": name, "kind": Text(r.kind), "state": state, "gpus": Text(f"job {r.slurm_job}" if r.slurm_job else gpus_label(r.gpus)),
            "progress": prog, "loss": loss, "elapsed": Text(fmt.duration(run_duration(v, now))),
            "eta": Text(eta or "-"), "user": Text(r.user or "?"), "started": Text(started, style=PALETTE.muted),
            "id": Text(r.id, style=PALETTE.muted), "output": Text(r.output_dir or "-", style=PALETTE.muted),
            "reason": _reason_cell(v)}


def _reason_cell(v: RunView) -> Text:
    """Why it failed (core/runs/reasons.py), empty otherwise."""
    why = getattr(v, "reason", None)
    return Text(why.summary if why is not None else "", style=PALETTE.danger)


# -- columns ------------------------------------------------------------------------------------------
ORDER = ("host", "name", "kind", "state", "gpus", "progress", "loss", "elapsed", "eta", "reason", "user", "started",
         "id", "output")  # host: only with other hosts (--hosts)
LABELS = {"host": "HOST", "name": "NAME", "kind": "KIND", "state": "STATE", "gpus": "GPUS", "progress": "PROGRESS",
          "loss": "LOSS", "elapsed": "TIME", "eta": "ETA", "user": "USER", "started": "STARTED", "id": "ID",
          "output": "OUTPUT", "reason": "REASON"}
RIGHT = {"loss", "elapsed", "eta"}
MIN = {"name": 12, "state": 10, "progress": 11}
MAX = {"name": 40, "state": 24, "progress": 17, "gpus": 11, "user": 12, "id": 48, "kind": 8, "host": 14, "reason": 40}
MIN_OUTPUT = 16
# how the columns give way when the table is too narrow: drop one, or shrink NAME (down to n)
NARROWING: tuple[tuple[str, str | int], ...] = (
    ("drop", "reason"), ("drop", "id"), ("drop", "started"), ("drop", "user"), ("shrink", 18), ("drop", "gpus"), ("drop", "eta"),
    ("drop", "kind"), ("shrink", 0), ("drop", "loss"), ("drop", "host"))
DESCENDING_FIRST = {"elapsed", "started", "id", "progress"}  # newest, longest, furthest first
STATE_ORDER = ("running", "starting", "failed", "stopped", "lost", "finished")


def fit_columns(width: int, natural: dict[str, int], *, with_output: bool = True,
                with_host: bool = False, keep: str | None = None) -> dict[str, int]:
    """Column widths for ``width`` cells (one space before each column): the low-value columns
    go first (never ``keep``, the sorted one), NAME gives way down to its minimum, and what is left
    over goes to OUTPUT."""
    w = {k: max(MIN.get(k, 0), min(MAX.get(k, 999), max(len(LABELS[k]), natural.get(k, 0))))
         for k in ORDER if k != "output" and (k != "host" or with_host) and (k != "reason" or natural.get("reason"))}

    def total() -> int:
        return sum(n + 1 for n in w.values())

    for how, what in NARROWING:
        if total() <= width:
            break
        if how == "drop":
            if what != keep:  # the sorted column stays: a sort by a column you cannot see is a puzzle
                w.pop(str(what), None)
            continue
        for k in ("name", "state", "progress"):  # shrink, NAME first, down to the stage's floor
            floor = max(MIN[k], int(what)) if k == "name" else MIN[k]
            if k in w:
                w[k] = max(floor, w[k] - (total() - width))
    spare = width - total()
    if with_output and spare - 1 >= MIN_OUTPUT:
        w["output"] = spare - 1
    return w


def sort_value(v: RunView, key: str, now: float):
    """What a column sorts by (None: no value, always listed last)."""
    r, s, p = v.status.record, v.status, v.progress
    if key == "name":
        return r.name.lower()
    if key == "state":
        return (STATE_ORDER.index(s.state) if s.state in STATE_ORDER else len(STATE_ORDER), r.name.lower())
    if key == "gpus":
        return (-1,) if r.gpus is None else tuple(r.gpus)
    if key == "progress":
        if p is None or p.step is None:
            return None
        return p.percentage if p.percentage is not None else (100 * p.step / p.total if p.total else 0)
    if key == "loss":
        return None if p is None else p.loss
    if key == "elapsed":
        return run_duration(v, now)
    if key == "eta":
        if p is None or s.state != "running" or not p.remaining:
            return None
        return fmt_seconds(p.remaining)
    if key in ("started", "id"):
        return r.created_at or None
    if key == "output":
        return r.output_dir
    if key == "reason":
        return v.reason.summary if getattr(v, "reason", None) is not None else None
    return str(getattr(r, key, "") or "")


def fmt_seconds(text: str) -> float | None:
    """Seconds from a trainer's "1 day, 2:03:04" / "0:12:34" / "12:34"."""
    days = 0
    if "day" in text:
        head, _, text = text.partition(",")
        try:
            days = int(head.split()[0])
        except (ValueError, IndexError):
            return None
    try:
        parts = [float(x) for x in text.strip().split(":")]
    except ValueError:
        return None
    secs = 0.0
    for x in parts:
        secs = secs * 60 + x
    return days * 86400 + secs


def run_matches(v: RunView, words: list[str]) -> bool:
    """Whether every word (lower case) is in the run's name, id, kind, state, user, config or output_dir."""
    r, s = v.status.record, v.status
    hay = " ".join(str(x) for x in (r.name, r.id, r.kind, s.state, r.user, r.config or "", r.output_dir or "",
                                    r.host, "saved" if r.saved_adapter else "")).lower()
    return all(w in hay for w in words)


def sort_views(views: list[RunView], key: str | None, reverse: bool, now: float) -> list[RunView]:
    """Views by a column; None: as recorded (newest first). Runs with no value stay at the end."""
    if key is None:
        return list(reversed(views)) if reverse else list(views)
    have = [(sort_value(v, key, now), v) for v in views]
    missing = [v for val, v in have if val is None]
    present = [(val, v) for val, v in have if val is not None]
    present.sort(key=lambda t: t[0], reverse=(key in DESCENDING_FIRST) != reverse)
    return [v for _, v in present] + missing


class RunsTable(FastTable):
    """The runs; its columns fit its width (see :func:`fit_columns`)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._runs: tuple[list[str], dict[str, dict[str, Text]]] = ([], {})
        self.sort_key: str | None = None
        self.sort_reverse = False

    def show_runs(self, order: list[str], cells: dict[str, dict[str, Text]]) -> None:
        self._runs = (order, cells)
        remote = any(c["host"].plain for c in cells.values())
        if remote:
            for c in cells.values():
                if not c["host"].plain:
                    c["host"] = Text("local", style=PALETTE.muted)
        natural = {k: max((c[k].cell_len for c in cells.values()), default=0) for k in ORDER}
        if self.sort_key in natural:  # room for the sort arrow after the label
            natural[self.sort_key] = max(natural[self.sort_key], len(LABELS[self.sort_key]) + 1)
        widths = fit_columns(self.size.width, natural,
                             with_output=any(c["output"].plain != "-" for c in cells.values()), with_host=remote,
                             keep=self.sort_key)
        cols = []
        for k in ORDER:
            if k not in widths:
                continue
            label = LABELS[k]
            if k == self.sort_key:
                label += "▼" if (k in DESCENDING_FIRST) != self.sort_reverse else "▲"
            cols.append(Col(k, label, max(widths[k], len(label)) if k != "output" else widths[k],
                            "right" if k in RIGHT else "left"))
        self.set_columns(tuple(cols), sorted_column=self.sort_key)
        rows = {}
        for key, c in cells.items():
            row = []
            for col in cols:
                t = c[col.key]
                if col.key == "output":
                    t = Text(fit_path(t.plain, col.width), style=t.style)
                row.append(t)
            rows[key] = tuple(row)
        self.set_rows(order, rows)

    def on_resize(self) -> None:
        self.show_runs(*self._runs)


class RunsScreen(Screen):
    HELP_TITLE = "Runs"
    HELP_EXTRA = [
        ("Enter", "follow the run under the cursor (as l)"),
        ("click", "a column header: sort by it (again: reverse); a row: select it; double-click: follow"),
        ("← →", "scroll sideways when the columns do not fit"),
    ]
    BINDINGS = [
        Binding("n", "launch", "Launch", tooltip="Launch a new run"),
        Binding("a", "attach", "Attach", tooltip="Attach to the run's tmux session (detach: ctrl-b d)"),
        Binding("x", "stop", "Stop", tooltip="Stop the run: SIGINT → SIGTERM → SIGKILL, every process"),
        Binding("l", "detail", "Follow", tooltip="Follow the run: log, progress, loss and lr charts"),
        Binding("o", "log", "Pager", show=False, tooltip="Open the run's console.log in your pager"),
        Binding("space", "mark", "Mark", show=False, tooltip="Mark / unmark a run for compare"),
        Binding("C", "compare", "Compare", tooltip="Compare the marked runs (curves and results)"),
        Binding("c", "config", "Config", show=False, tooltip="Open the config as launched"),
        Binding("R", "relaunch", "Relaunch", show=False, tooltip="Launch again as it was: its frozen config, Set overrides, GPUs, Env"),
        Binding("u", "use_adapter", "Use adapter", show=False,
                tooltip="A run with a saved adapter: chat with it or export it (a config written from the run's)"),
        Binding("w", "swanlab", "SwanLab", show=False,
                tooltip="Serve the run's local SwanLab logs (swanlab watch) on a free port"),
        Binding("d", "forget", "Forget", show=False, tooltip="Forget the record of an ended run"),
        Binding("s", "sort_next", "Sort", show=False, tooltip="Sort by the next column (then: as recorded)"),
        Binding("S", "sort_reverse", "Reverse", show=False, tooltip="Reverse the sort order"),
        Binding("slash", "filter", "Filter", show=False,
                tooltip="Filter the runs: name, id, kind, state, user, config, output_dir (every word must match)"),
        Binding("escape", "clear_filter", "Clear filter", tooltip="Clear the filter (shown while one is set)"),
        # Esc goes back to the view below, and the footer names it (one binding shows at a time)
        Binding("escape", "back('GPUs')", "GPUs", tooltip="Back to GPUs & processes"),
        Binding("escape", "back('Editor')", "Editor", tooltip="Back to the editor this view was opened from"),
        Binding("escape", "back('Back')", "Back", tooltip="Back to the view this one was opened from"),
        Binding("g", "home", "GPUs", show=False, tooltip="To GPUs & processes (an open editor stays open)"),
    ]
    DEFAULT_CSS = """
    #runbar { height: 1; width: 1fr; padding: 0 1; background: $panel; }
    #rundetail { height: auto; max-height: 4; width: 1fr; padding: 0 1; color: $text-muted; }
    RunsScreen.-tall #rundetail { max-height: 12; }
    RunsScreen #runfilter { display: none; height: 1; background: $boost; }  /* in the flow: above the footer */
    RunsScreen #runfilter.-shown { display: block; }
    """
    TALL = 40  # from this many rows the detail under the table shows the whole record

    def __init__(self, **kw):
        super().__init__(**kw)
        self.views: list[RunView] = []
        self._caller: BackgroundCaller | None = None
        self._problems: list[str] = []
        self._select: str | None = None  # a run to put the cursor on once it shows up

    def compose(self) -> ComposeResult:
        yield TextLine(id="runbar")
        yield RunsTable(id="runs")
        yield TextLines(id="rundetail")
        yield Input(placeholder="filter runs: name, id, kind, state, user, config (Enter keeps it, Esc clears)",
                    id="runfilter", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(RunsTable)
        table.show_runs([], {})
        table.focus()
        self.set_class(self.size.height >= self.TALL, "-tall")
        self._caller = BackgroundCaller(self._collect, lambda r, took: self.app.call_from_thread(
            self._show, *r), lambda e: self.app.call_from_thread(
            self.notify, f"Reading runs failed: {e}", severity="error"), name="ftmllm-runs")
        self._caller.request()
        self.set_interval(POLL_S, self._caller.request)
        self._render_bar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """--readonly: launching, stopping, relaunching and forgetting do not exist. Of the Esc
        bindings only the one naming the view below is active."""
        if self.app.ctx.readonly and action in ("launch", "stop", "relaunch", "forget", "swanlab", "use_adapter"):
            return False
        if action == "back":  # while a filter is set, Esc clears it first
            return not self.filter_active() and bool(parameters) and parameters[0] == self.below()
        if action == "clear_filter":
            return self.filter_active()
        return True

    def below(self) -> str:
        """What Esc goes back to: GPUs (the home view), Editor, or Back (anything else)."""
        from .editor.screen import EditorScreen
        from .home import HomeScreen

        stack = self.app.screen_stack
        i = stack.index(self) if self in stack else len(stack) - 1
        under = stack[i - 1] if i > 0 else None
        if under is None or isinstance(under, HomeScreen):
            return "GPUs"
        return "Editor" if isinstance(under, EditorScreen) else "Back"

    @property
    def marked(self) -> set[str]:
        """Runs marked for compare: kept by the app, so they survive leaving the view."""
        return getattr(self.app, "_run_marks", set())

    @marked.setter
    def marked(self, value: set[str]) -> None:
        self.app._run_marks = set(value)

    def select_run(self, run_id: str) -> None:
        """Put the cursor on a run (now, or once it shows up: a run just launched)."""
        self._select = run_id
        if any(v.status.record.id == run_id for v in self.views):
            self.query_one(RunsTable).move_cursor_to_key(run_id)
            self._select = None
            self._render_detail()

    def on_unmount(self) -> None:
        if self._caller is not None:
            self._caller.stop()

    def _collect(self):
        ctx = self.app.ctx
        from ...core.slurm.runs import queue_jobs  # Slurm runs: their jobs' states (cached refresh_s)

        views, problems = collect(ctx.registry, ctx.tmux, stall_minutes=ctx.settings.stall_minutes,
                                  slurm_queue=lambda ids: queue_jobs(ids, min_interval=ctx.settings.refresh_s))
        views += external_runs({v.status.record.id for v in views})
        from .remote_runs import remote_views

        more, errors = remote_views(self.app)  # other hosts' runs (--hosts), over SSH
        return views + more, problems + errors

    def refresh_runs(self) -> None:
        if self._caller is not None:
            self._caller.request()

    def _show(self, views: list[RunView], problems: list[str]) -> None:
        self.views = views
        if problems != self._problems:
            for p in problems:
                self.notify(p, severity="warning", timeout=8)
            self._problems = problems
        now = time.time()
        table = self.query_one(RunsTable)
        cells = {}
        words = self.filter_text().lower().split()
        if words:
            views = [v for v in views if run_matches(v, words)]
        for v in views:
            c = run_cells(v, now)
            if v.status.record.id in self.marked:
                c["name"] = Text("● ", style=f"bold {PALETTE.accent}") + c["name"]
            cells[v.status.record.id] = c
        order = sort_views(views, table.sort_key, table.sort_reverse, now)
        table.show_runs([v.status.record.id for v in order], cells)
        if self._select is not None and self._select in cells:
            table.move_cursor_to_key(self._select)
            self._select = None
        self._render_bar()
        self._render_detail()

    def on_resize(self) -> None:
        tall = self.size.height >= self.TALL
        if tall != self.has_class("-tall"):
            self.set_class(tall, "-tall")
            self._render_detail()

    # -- sorting -----------------------------------------------------------------------------------
    def sort_by(self, key: str | None, reverse: bool = False) -> None:
        table = self.query_one(RunsTable)
        table.sort_key, table.sort_reverse = key, reverse
        self._show(self.views, self._problems)

    @on(FastTable.HeaderClicked)
    def _header_clicked(self, event: FastTable.HeaderClicked) -> None:
        table = self.query_one(RunsTable)
        if table.sort_key == event.column:
            self.sort_by(event.column, not table.sort_reverse)
        else:
            self.sort_by(event.column)

    def action_sort_next(self) -> None:
        table = self.query_one(RunsTable)
        keys: list[str | None] = [None, *(c.key for c in table.cols)]
        i = keys.index(table.sort_key) if table.sort_key in keys else 0
        self.sort_by(keys[(i + 1) % len(keys)])

    def action_sort_reverse(self) -> None:
        table = self.query_one(RunsTable)
        self.sort_by(table.sort_key, not table.sort_reverse)

    def restyle(self) -> None:
        """The theme changed: rebuild what carries palette colours."""
        self._show(self.views, self._problems)

    def _render_bar(self) -> None:
        t = Text("Runs ", style="bold")
        counts: dict[str, int] = {}
        for v in self.views:
            counts[v.status.state] = counts.get(v.status.state, 0) + 1
        t.append(f"{len(self.views)}")
        for state in ("running", "failed", "stopped", "lost"):
            if counts.get(state):
                t.append(f"  {counts[state]} {state}", style=PALETTE.state(state))
        table = self.query_one(RunsTable)
        if table.sort_key is not None:
            label = LABELS.get(table.sort_key, table.sort_key)
            arrow = "▼" if (table.sort_key in DESCENDING_FIRST) != table.sort_reverse else "▲"
            t.append(f"  sort {label}{arrow}", style=PALETTE.muted)
        elif table.sort_reverse:
            t.append("  oldest first", style=PALETTE.muted)
        if self.filter_text():
            n = sum(1 for v in self.views if run_matches(v, self.filter_text().lower().split()))
            t.append(f"  filter “{self.filter_text()}” {n} of {len(self.views)}", style=f"bold {PALETTE.warning}")
        if self.app.ctx.readonly:
            t.append("  READ-ONLY", style=f"bold {PALETTE.warning}")
        self.query_one("#runbar", TextLine).show(t)

    # -- filter ------------------------------------------------------------------------------------
    def filter_text(self) -> str:
        return self.query_one("#runfilter", Input).value.strip() if self.is_mounted else ""

    def filter_active(self) -> bool:
        if not self.is_mounted:
            return False
        box = self.query_one("#runfilter", Input)
        return box.has_class("-shown") or bool(box.value.strip())

    def action_filter(self) -> None:
        box = self.query_one("#runfilter", Input)
        box.add_class("-shown")
        box.focus()
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        box = self.query_one("#runfilter", Input)
        box.value = ""
        box.remove_class("-shown")
        self.query_one(RunsTable).focus()
        self._show(self.views, self._problems)
        self.refresh_bindings()

    @on(Input.Changed, "#runfilter")
    def _filter_changed(self, _event) -> None:
        self._show(self.views, self._problems)
        self.refresh_bindings()

    @on(Input.Submitted, "#runfilter")
    def _filter_kept(self, _event) -> None:
        box = self.query_one("#runfilter", Input)
        if not box.value.strip():
            box.remove_class("-shown")
        self.query_one(RunsTable).focus()
        self.refresh_bindings()

    def selected(self) -> RunView | None:
        key = self.query_one(RunsTable).cursor_key
        return next((v for v in self.views if v.status.record.id == key), None)

    def _render_detail(self) -> None:
        v = self.selected()
        t = Text()
        if v is not None:
            r = v.status.record
            t.append(f"{r.id}  ", style="bold")
            t.append(fmt.command_line(r.argv) if r.argv else "")
            if r.url:
                t.append(f"\n{r.url}", style=f"bold {PALETTE.accent}")
                t.append(f"   ssh -L {r.port}:localhost:{r.port} {r.user}@{r.host}", style=PALETTE.muted)
            if r.output_dir:
                t.append(f"\noutput_dir {r.output_dir}", style=PALETTE.muted)
            why = getattr(v, "reason", None)
            if why is not None:  # why it failed; l opens the detail, where e jumps to the line
                t.append(f"\n✗ {why.summary}" + (f" (console.log line {why.line})" if why.line else ""),
                         style=PALETTE.danger)
                if why.fix:
                    t.append(f" → {why.fix}", style=PALETTE.muted)
            p = v.progress
            if p is not None and p.bytes_total is not None:  # a download (core/models/download.py)
                from ...core.models.cache import human_bytes

                t.append(f"\n{p.step}/{p.total} files · {human_bytes(p.bytes_done or 0)} of {human_bytes(p.bytes_total)}"
                         + (f" · {human_bytes(p.rate)}/s" if p.rate else "")
                         + (f" · ETA {p.remaining}" if p.remaining and v.status.state == "running" else ""))
            if r.saved_adapter:
                step = f" at step {r.saved_step}" if r.saved_step is not None else ""
                t.append(f"\nsaved adapter{step}: {r.saved_adapter}", style=PALETTE.ok)
            if v.status.pids:
                t.append(f"\n{len(v.status.pids)} processes: {' '.join(map(str, v.status.pids[:12]))}",
                         style=PALETTE.muted)
            if self.has_class("-tall"):  # room for the rest of the record
                self._more_detail(t, v)
        self.query_one("#rundetail", TextLines).show(t)

    @staticmethod
    def _more_detail(t: Text, v: RunView) -> None:
        r, s = v.status.record, v.status

        def when(ts: float) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))

        line = f"started {when(r.created_at)}" if r.created_at else "start unknown"
        if s.ended_at:
            line += f"  ended {when(s.ended_at)}"
        elif r.stop_requested_at:
            line += f"  stopped {when(r.stop_requested_at)}"
        elif v.last_seen and s.state == "lost":
            line += f"  last seen {when(v.last_seen)}"
        if s.exit_code is not None:
            line += f"  exit code {s.exit_code}"
        t.append(f"\n{line}", style=PALETTE.muted)
        if r.config:
            t.append(f"\nconfig {r.config}", style=PALETTE.muted)
        where = f"{r.user or '?'}@{r.host or '?'}" + (f"  cwd {r.cwd}" if r.cwd else "")
        t.append(f"\nby {where}", style=PALETTE.muted)
        if r.tmux_session:
            sock = f" (socket {r.tmux_socket})" if r.tmux_socket else ""
            t.append(f"\ntmux session {r.tmux_session}{sock}", style=PALETTE.muted)
        if r.gpus:
            t.append(f"\nGPUs {','.join(map(str, r.gpus))}", style=PALETTE.muted)
        if r.env:
            t.append("\nenv " + " ".join(f"{k}={val}" for k, val in r.env), style=PALETTE.muted)
        for note in r.notes:
            t.append(f"\n{note}", style=PALETTE.muted)

    @on(FastTable.RowHighlighted)
    def _highlighted(self, _event) -> None:
        self._render_detail()

    @on(FastTable.RowSelected)
    def _selected(self, _event) -> None:
        self.action_detail()

    # -- actions ---------------------------------------------------------------------------------
    def _need(self, *, recorded: bool = True) -> RunView | None:
        v = self.selected()
        if v is None:
            self.notify("No run selected", severity="warning", timeout=3)
            return None
        from .remote_runs import handle
        import sys

        if handle(self, v, sys._getframe(1).f_code.co_name.removeprefix("action_")):
            return None  # another host's run: done by the app there (remote_runs.py)
        if recorded and v.status.record.external:
            self.notify("An external run: it was not launched here (stop its processes with k in the "
                        "GPU view)", severity="warning", timeout=6)
            return None
        return v

    def action_detail(self) -> None:
        v = self._need(recorded=False)
        if v is None:
            return
        from ...core.follow.follow import for_record
        from .detail import open_detail

        open_detail(self.app, for_record(v.status.record, self.app.ctx.registry))

    def action_mark(self) -> None:
        v = self._need(recorded=False)
        if v is None:
            return
        self.marked = set(self.marked) ^ {v.status.record.id}
        self._show(self.views, self._problems)
        self.query_one(RunsTable).action_cursor(1)

    def action_compare(self) -> None:
        from ...core.follow.follow import for_record
        from .compare import CompareScreen

        picked = [v for v in self.views if v.status.record.id in self.marked]
        if len(picked) < 2:
            self.notify("Mark two or more runs with space, then C", severity="warning", timeout=4)
            return
        self.app.push_screen(CompareScreen([for_record(v.status.record, self.app.ctx.registry)
                                            for v in picked]))

    def action_back(self, _where: str = "") -> None:
        self.app.pop_screen()

    def action_home(self) -> None:
        """To the GPUs view: the views above it close, but an open editor stays (Esc from it)."""
        from .editor.screen import EditorScreen
        from .home import HomeScreen

        while len(self.app.screen_stack) > 1 and not isinstance(self.app.screen, HomeScreen):
            if isinstance(self.app.screen, EditorScreen):
                self.notify("The editor is still open: Esc closes it", timeout=4)
                return
            self.app.pop_screen()

    def action_launch(self) -> None:
        """The launch dialog, its config and kind taken from the selected run (a recorded one)."""
        if self.app.ctx.readonly:
            return
        v = self.selected()
        r = v.status.record if v is not None else None
        if r is not None and r.config and not r.external:
            self.app.open_launch(config=r.config, kind=r.kind)
        else:
            self.app.open_launch()

    def action_use_adapter(self) -> None:
        v = self._need()
        if v is None or self.app.ctx.readonly:
            return
        r = v.status.record
        if not r.saved_adapter:
            self.notify(f"{r.name} has no saved adapter (stop and save marks one)", severity="warning", timeout=4)
            return
        from .nextsteps import offer_next_steps

        offer_next_steps(self.app, r)

    def action_relaunch(self) -> None:
        v = self._need()
        if v is not None and not self.app.ctx.readonly:
            self.app.open_launch(from_record=v.status.record)

    def action_swanlab(self) -> None:
        v = self._need()
        if v is None or self.app.ctx.readonly:
            return
        r = v.status.record
        if r.kind != "train":
            self.notify("SwanLab dashboards are for train runs", severity="warning", timeout=3)
            return
        from ..screens.launch import LaunchScreen

        cfg = str(self.app.ctx.registry.dir(r.id) / "config.yaml")
        self.app.push_screen(LaunchScreen(config=cfg, kind="swanlab", gpus="none",
                                          name=f"{r.name}-swanlab"), self.app.launched)

    def action_stop(self) -> None:
        v = self._need()
        if v is None or self.app.ctx.readonly:
            return
        if v.status.state not in ("running", "starting"):
            self.notify(f"{v.status.record.name} is {v.status.state}: nothing to stop", timeout=4)
            return
        if v.status.record.slurm_job:  # a Slurm run: stopped through Slurm (screens/slurm.py)
            from .slurm import SlurmStopScreen

            if v.slurm_job is None:
                self.notify(f"Slurm job {v.status.record.slurm_job} is not in the queue (or Slurm does not answer)",
                            timeout=4)
                return
            self.app.push_screen(SlurmStopScreen(v.slurm_job, v.status.record), lambda _r: self.refresh_runs())
            return
        from .stop import StopScreen

        self.app.push_screen(StopScreen(v.status.record), lambda _r: self.refresh_runs())

    def action_attach(self) -> None:
        v = self._need()
        if v is None:
            return
        r = v.status.record
        ctx = self.app.ctx
        if not v.status.session_alive:
            self.notify(f"The tmux session of {r.name} is gone ({v.status.state}); press l for its log",
                        severity="warning", timeout=5)
            return
        argv = ctx.tmux.attach_argv(r.tmux_session)
        if "switch-client" in argv:
            subprocess.run(argv, check=False)
            return
        with self.app.suspend():
            subprocess.run(argv, check=False)

    def _pager(self, path) -> None:
        import os
        import shlex

        pager = shlex.split(os.environ.get("PAGER") or "less -R +G")
        try:
            with self.app.suspend():
                subprocess.run([*pager, str(path)], check=False)
        except FileNotFoundError:
            self.notify(f"{pager[0]} not found: set $PAGER", severity="error")

    def action_log(self) -> None:
        v = self._need()
        if v is not None:
            path = self.app.ctx.registry.dir(v.status.record.id) / "console.log"
            if not path.exists():
                self.notify("No console.log yet", severity="warning", timeout=3)
                return
            self._pager(path)

    def action_config(self) -> None:
        v = self._need()
        if v is not None:
            path = self.app.ctx.registry.dir(v.status.record.id) / "config.yaml"
            if not path.exists():
                self.notify("This run has no config", severity="warning", timeout=3)
                return
            self._pager(path)

    def action_forget(self) -> None:
        v = self._need()
        if v is None or self.app.ctx.readonly:
            return
        if v.status.state in ("running", "starting"):
            self.notify("Stop the run first (x)", severity="warning", timeout=4)
            return
        from .confirm import ConfirmScreen

        def done(yes: bool | None) -> None:
            if yes:
                self.app.ctx.registry.forget(v.status.record.id)
                self.notify(f"Forgot {v.status.record.name}", timeout=3)
                self.refresh_runs()

        self.app.push_screen(ConfirmScreen(
            f"Forget the record of {v.status.record.name}?",
            "Its folder (run.json, console.log, config copy) is deleted. The output_dir is kept.",
            yes="Forget"), done)
