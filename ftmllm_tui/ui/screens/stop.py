"""Stopping a run (DESIGN.md §5): every target listed, Cancel focused, progress, a per-process report."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from ...core import fmt
from ...core.runs.kill import Plan, Report
from ...core.runs.runctl import execute_stop, plan_run_stop
from ...core.runs.registry import RunRecord
from ..palette import PALETTE
from .dialog import Dialog


def gpu_lookup(app):
    """pid -> (GPUs, GPU memory) from the latest snapshot."""
    snap = getattr(app, "snapshot", None)
    by_pid: dict[int, tuple[list[int], int]] = {}
    if snap is not None:
        for r in snap.processes:
            g, m = by_pid.setdefault(r.pid, ([], 0))
            g.append(r.gpu_index)
            by_pid[r.pid] = (g, m + (r.gpu.gpu_memory_bytes or 0))

    def of(pid: int):
        g, m = by_pid.get(pid, ([], None))
        return tuple(g), m

    return of


def targets_table(plan: Plan) -> Table:
    t = Table(box=None, padding=(0, 1), header_style="bold")
    for col in ("USER", "PID", "ROLE", "GPU", "GPU-MEM", "COMMAND"):
        t.add_column(col, no_wrap=col != "COMMAND", overflow="ellipsis")
    for x in plan.targets:
        t.add_row(x.proc.user, str(x.proc.pid), x.role, ",".join(map(str, x.gpus)) or "-",
                  fmt.bytes_h(x.gpu_memory_bytes) if x.gpu_memory_bytes else "-",
                  fmt.short_command(x.proc.cmdline))
    for r in plan.refused:
        t.add_row(Text(r.proc.user, style=PALETTE.danger), str(r.proc.pid), "refused", "-", "-",
                  Text(f"{fmt.short_command(r.proc.cmdline)} — {r.reason}", style=PALETTE.danger))
    return t


def show_report(screen, report: Report) -> None:
    """The per-process outcomes replace the targets; the buttons become one Close."""
    screen.query_one("#targets", Static).update(report_table(report))
    buttons = screen.query_one("#buttons", Horizontal)
    buttons.remove_children()
    close = Button("Close", id="close", variant="primary", compact=True)
    buttons.mount(close)
    close.focus()


def report_table(report: Report) -> Table:
    t = Table(box=None, padding=(0, 1), header_style="bold")
    for col in ("PID", "ROLE", "OUTCOME", "LAST SIGNAL", "GONE AFTER"):
        t.add_column(col)
    good = {"stopped", "killed", "exited", "already gone"}
    for o in report.outcomes:
        t.add_row(str(o.pid), o.role, Text(o.result, style=PALETTE.ok if o.result in good else PALETTE.danger),
                  o.last_signal or "-", "-" if o.gone_after_s is None else f"{o.gone_after_s:.2f} s")
    return t


class StopScreen(Dialog[Report | None]):
    HELP_TITLE = "Stop a run"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    # The explanation and the buttons are docked at the bottom of the dialog: always on screen, even with the
    # ten processes of an 8-GPU torchrun at 80x24; the command and the process list scroll above them.
    DEFAULT_CSS = """
    StopScreen { align: center middle; }
    StopScreen > #dlg { width: 75%; min-width: 110; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; background: $surface; padding: 0 1; }
    StopScreen #targetbox { height: auto; max-height: 100%; }
    StopScreen #foot { dock: bottom; height: auto; }
    StopScreen #progress { color: $text-muted; height: auto; margin-top: 1; }
    StopScreen #buttons { height: 1; margin-top: 1; }
    StopScreen Button { margin-right: 2; }
    """

    def __init__(self, record: RunRecord):
        super().__init__()
        self.record = record
        self.plan: Plan | None = None
        self.running = False
        self._hurry = None  # a threading.Event while a stop waits out a grace period
        self.report: Report | None = None

    def compose(self) -> ComposeResult:
        r = self.record
        with Vertical(id="dlg") as v:
            v.border_title = f"Stop run {r.name}"
            v.border_subtitle = "Cancel is the default · Esc cancels"
            with VerticalScroll(id="targetbox"):
                yield Static(Text(f"{r.id} · {r.kind} · " + fmt.command_line(r.argv)[:200],
                                  style=PALETTE.muted), id="command")
                yield Static("Finding every process of the run…", id="targets")
            with Vertical(id="foot"):
                yield Static("", id="progress")
                with Horizontal(id="buttons"):
                    yield Button("Cancel", id="cancel", variant="primary", compact=True)
                    yield Button("Stop", compact=True, id="stop", variant="error", disabled=True)
                    if r.kind == "train":
                        yield Button("Stop and save", compact=True, id="save", variant="warning",
                                     disabled=True)
                    yield Button("Force kill", compact=True, id="force", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._make_plan()

    @work(thread=True, exclusive=True, group="stop-plan")
    def _make_plan(self) -> None:
        ctx = self.app.ctx
        plan = plan_run_stop(ctx.registry, self.record, gpu_of=gpu_lookup(self.app))
        self.app.call_from_thread(self._planned, plan)

    def _planned(self, plan: Plan) -> None:
        self.plan = plan
        targets = self.query_one("#targets", Static)
        if plan.empty:
            targets.update(Text("No live process of this run." + (" Some were refused:" if plan.refused
                                                                    else ""), style=PALETTE.muted))
            if plan.refused:
                targets.update(targets_table(plan))
            return
        targets.update(targets_table(plan))
        for b in self.query(Button):
            if b.id != "cancel":
                b.disabled = False
        workers = sum(1 for t in plan.targets if t.role == "worker")
        ctx = self.app.ctx
        msg = (f"Stop: SIGINT to the launcher's group, {ctx.settings.stop_grace_s:g} s, SIGTERM, "
               f"{ctx.settings.term_grace_s:g} s, SIGKILL; then verified.")
        if self.record.kind == "train":
            msg += ("\nStop and save: SIGABRT to the workers; LLaMA-Factory stops at the next step and "
                    "saves the model.")
            if workers > 1:
                msg += (f" With {workers} ranks and an evaluation after training, ranks can hang: it "
                        f"falls back to Stop after {ctx.settings.stop_and_save_timeout_s:g} s.")
        self.query_one("#progress", Static).update(Text(msg, style=PALETTE.muted))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id
        if bid in ("cancel", "close"):
            self.dismiss(self.report)
            return
        if bid in ("next-chat", "next-export"):
            self._next_step(bid.removeprefix("next-"))
            return
        if self.running:
            if bid == "force" and self._hurry is not None:  # "Next signal now": skip the current wait
                self._hurry.set()
            return
        if self.plan is None:
            return
        import threading

        self.running = True
        self._hurry = threading.Event()
        for b in self.query(Button):
            b.disabled = True
        if bid != "force":  # a stubborn run: the wait for each grace period can be cut short
            force_btn = self.query_one("#force", Button)
            force_btn.label = "Next signal now"
            force_btn.disabled = False
        self._lines: list[str] = []
        self._stop(force=bid == "force", save=bid == "save")

    def _log(self, line: str) -> None:
        self._lines.append(line)
        self.query_one("#progress", Static).update("\n".join(self._lines[-6:]))

    @work(thread=True, exclusive=True, group="stop-run")
    def _stop(self, force: bool, save: bool) -> None:
        ctx = self.app.ctx
        assert self.plan is not None
        report = execute_stop(
            ctx.registry, ctx.tmux, self.record, self.plan, audit=ctx.audit,
            grace_int=ctx.settings.stop_grace_s, grace_term=ctx.settings.term_grace_s, force=force,
            save_first=save, save_timeout=ctx.settings.stop_and_save_timeout_s,
            progress=lambda m: self.app.call_from_thread(self._log, m), hurry=self._hurry)
        self.app.call_from_thread(self._done, report)

    def _done(self, report: Report) -> None:
        self.report = report
        self.running = False
        if self.query("#force"):
            self.query_one("#force", Button).disabled = True
        show_report(self, report)
        self._log(report.summary() + ("" if report.all_gone else ": see the outcomes."))
        if report.save is not None and report.save.get("saved"):
            self._log(f"Saved adapter: {report.save['dir']}. Next: chat with it or merge and export it "
                      "(a config is written from the run's, then the launch dialog opens).")
            buttons = self.query_one("#buttons", Horizontal)
            buttons.mount(Button("Chat with it", id="next-chat", compact=True))
            buttons.mount(Button("Export it", id="next-export", compact=True))

    def _next_step(self, step: str) -> None:
        """Write a chat / export config for the saved adapter next to the run's config, then open the
        launch dialog on it (this dialog closes)."""
        from .nextsteps import start_next_step

        start_next_step(self.app, self.record, self.report.save["dir"], step,
                        before=lambda: self.dismiss(self.report))

    def action_cancel(self) -> None:
        if not self.running:
            self.dismiss(self.report)
        else:
            self.notify("Stopping: signals are out, the dialog closes when every process is checked. "
                        "\"Next signal now\" skips the wait.", timeout=4)
