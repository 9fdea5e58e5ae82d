"""The Runs view: every run the app launched (and external ones), their state and progress."""

from __future__ import annotations

import subprocess
import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from ...core import fmt
from ...core.background import BackgroundCaller
from ...core.runctl import RunView, collect, external_runs
from ..palette import PALETTE
from ..widgets.cell import Cell
from ..widgets.fast_table import Col, FastTable

POLL_S = 2.0


def run_cells(v: RunView, now: float) -> tuple[Text, ...]:
    r, s = v.status.record, v.status
    state = Text(s.state, style=PALETTE.state(s.state))
    if v.stalled:
        state.append(" stalled", style=PALETTE.state("stalled"))
    if s.orphaned:
        state.append(" orphans", style=PALETTE.state("orphans"))
    if s.state == "failed" and s.exit_code is not None:
        state.append(f" ({s.exit_code})", style=PALETTE.muted)
    gpus = "cpu" if r.gpus is None else ",".join(map(str, r.gpus))
    p = v.progress
    prog = Text("-", style=PALETTE.muted)
    if p and p.step is not None:
        prog = Text(f"{p.step}/{p.total or '?'}")
        if p.percentage is not None:
            prog.append(f" {p.percentage:.0f}%", style=PALETTE.muted)
    loss = Text("-" if not p or p.loss is None else f"{p.loss:.4f}")
    end = s.ended_at if s.state in ("finished", "failed") and s.ended_at else now
    elapsed = fmt.duration(end - r.created_at) if r.created_at else "-"
    eta = p.remaining if p and s.state == "running" and p.remaining else ""
    name = Text(r.name, style="bold" if not r.external else "italic")
    if r.external:
        name.append(" (external)", style=PALETTE.muted)
    return (name, Text(r.kind), state, Text(gpus), prog, loss, Text(elapsed), Text(eta or "-"),
            Text(r.user or "?"), Text(r.id, style=PALETTE.muted))


COLS = (Col("name", "NAME", 22), Col("kind", "KIND", 7), Col("state", "STATE", 16),
        Col("gpus", "GPUS", 5), Col("progress", "PROGRESS", 13), Col("loss", "LOSS", 8, "right"),
        Col("elapsed", "TIME", 8, "right"), Col("eta", "ETA", 8, "right"), Col("user", "USER", 8),
        Col("id", "ID", 40))


class RunsTable(FastTable):
    pass


class RunsScreen(Screen):
    BINDINGS = [
        Binding("n", "launch", "Launch", tooltip="Launch a new run"),
        Binding("a", "attach", "Attach", tooltip="Attach to the run's tmux session (detach: ctrl-b d)"),
        Binding("x", "stop", "Stop", tooltip="Stop the run: SIGINT → SIGTERM → SIGKILL, every process"),
        Binding("l", "detail", "Follow", tooltip="Follow the run: log, progress, loss and lr charts"),
        Binding("o", "log", "Pager", show=False, tooltip="Open the run's console.log in your pager"),
        Binding("space", "mark", "Mark", show=False, tooltip="Mark / unmark a run for compare"),
        Binding("C", "compare", "Compare", tooltip="Compare the marked runs (curves and results)"),
        Binding("c", "config", "Config", show=False, tooltip="Open the config as launched"),
        Binding("R", "relaunch", "Relaunch", show=False, tooltip="Launch again with the same settings"),
        Binding("w", "swanlab", "SwanLab", show=False,
                tooltip="Serve the run's local SwanLab logs (swanlab watch) on a free port"),
        Binding("d", "forget", "Forget", show=False, tooltip="Forget the record of an ended run"),
        Binding("escape,g", "home", "GPUs", tooltip="Back to GPUs & processes"),
    ]
    DEFAULT_CSS = """
    #runbar { height: 1; width: 1fr; padding: 0 1; background: $panel; }
    #rundetail { height: auto; max-height: 6; width: 1fr; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self.views: list[RunView] = []
        self._caller: BackgroundCaller | None = None
        self._problems: list[str] = []

    def compose(self) -> ComposeResult:
        yield Cell(id="runbar")
        yield RunsTable(id="runs")
        yield Cell(id="rundetail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(RunsTable)
        table.set_columns(COLS)
        table.focus()
        self._caller = BackgroundCaller(self._collect, lambda r, took: self.app.call_from_thread(
            self._show, *r), lambda e: self.app.call_from_thread(
            self.notify, f"Reading runs failed: {e}", severity="error"), name="ftmllm-runs")
        self._caller.request()
        self.set_interval(POLL_S, self._caller.request)
        self._render_bar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """--readonly: launching, stopping, relaunching and forgetting do not exist."""
        if self.app.ctx.readonly and action in ("launch", "stop", "relaunch", "forget", "swanlab"):
            return False
        return True

    def on_unmount(self) -> None:
        if self._caller is not None:
            self._caller.stop()

    marked: set[str] = set()

    def _collect(self):
        ctx = self.app.ctx
        views, problems = collect(ctx.registry, ctx.tmux, stall_minutes=ctx.settings.stall_minutes)
        views += external_runs({v.status.record.id for v in views})
        return views, problems

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
        for v in views:
            c = run_cells(v, now)
            if v.status.record.id in self.marked:
                c = (Text("● ", style=f"bold {PALETTE.accent}") + c[0],) + c[1:]
            cells[v.status.record.id] = c
        table.set_rows([v.status.record.id for v in views], cells)
        self._render_bar()
        self._render_detail()

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
        if self.app.ctx.readonly:
            t.append("  READ-ONLY", style=f"bold {PALETTE.warning}")
        self.query_one("#runbar", Cell).show(t)

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
            if v.status.pids:
                t.append(f"\n{len(v.status.pids)} processes: {' '.join(map(str, v.status.pids[:12]))}",
                         style=PALETTE.muted)
        self.query_one("#rundetail", Cell).show(t)

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
        if recorded and v.status.record.external:
            self.notify("An external run: it was not launched here (stop its processes with k in the "
                        "GPU view)", severity="warning", timeout=6)
            return None
        return v

    def action_detail(self) -> None:
        v = self._need(recorded=False)
        if v is None:
            return
        from ...core.follow import for_record
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
        from ...core.follow import for_record
        from .compare import CompareScreen

        picked = [v for v in self.views if v.status.record.id in self.marked]
        if len(picked) < 2:
            self.notify("Mark two or more runs with space, then C", severity="warning", timeout=4)
            return
        self.app.push_screen(CompareScreen([for_record(v.status.record, self.app.ctx.registry)
                                            for v in picked]))

    def action_home(self) -> None:
        self.app.pop_screen()

    def action_launch(self) -> None:
        if not self.app.ctx.readonly:
            self.app.open_launch()

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
