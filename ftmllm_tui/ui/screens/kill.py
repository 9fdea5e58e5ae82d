"""Signal processes picked in the process table (k): the same guard, modal and audit as a stop."""

from __future__ import annotations

import os
import signal

import psutil
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Static

from ...core.runs.kill import Plan, Refusal, make_plan, signal_processes
from ...core.gpus.proctree import describe
from ..palette import PALETTE
from .dialog import Dialog
from .stop import show_report, targets_table

SIGNALS = {"int": signal.SIGINT, "term": signal.SIGTERM, "kill": signal.SIGKILL}


def plan_for(picked: list[tuple[int, float | None, tuple[int, ...], int | None]], *,
             allow_others: bool) -> Plan:
    """``picked``: (pid, create_time when shown, GPUs, GPU memory). A changed identity is refused."""
    procs, refused, gpu = [], [], {}
    for pid, ctime, gpus, mem in picked:
        try:
            p = describe(psutil.Process(pid))
        except psutil.Error:
            p = None
        if p is None:
            continue  # gone already
        if ctime is not None and abs(p.create_time - ctime) > 1e-3:
            refused.append(Refusal(p, "PID reused: not the process that was shown"))
            continue
        procs.append(p)
        gpu[pid] = (gpus, mem)
    plan = make_plan(procs, allow_others=allow_others, gpu_of=lambda pid: gpu.get(pid, ((), None)))
    return Plan(plan.targets, plan.refused + tuple(refused))


def plural(n: int) -> str:
    return f"{n} process{'es' if n != 1 else ''}"


def kill_title(plan: Plan | None, picked: int) -> str:
    """What the buttons will signal: refused processes are listed, never counted as targets."""
    if plan is None:
        return f"Signal processes: checking {plural(picked)}…"
    if not plan.targets:
        return "Nothing to signal" + (f" · {len(plan.refused)} refused" if plan.refused else "")
    return f"Signal {plural(len(plan.targets))}" + (f" · {len(plan.refused)} refused" if plan.refused else "")


class KillScreen(Dialog):
    HELP_TITLE = "Signal processes"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    # the buttons (and the as-root input) are docked at the bottom: always on screen; the list scrolls
    DEFAULT_CSS = """
    KillScreen { align: center middle; }
    KillScreen > #dlg { width: 75%; min-width: 110; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; background: $surface; padding: 0 1; }
    KillScreen #targetbox { height: auto; max-height: 100%; }
    KillScreen #foot { dock: bottom; height: auto; }
    KillScreen #buttons { height: 1; margin-top: 1; }
    KillScreen Button { margin-right: 2; }
    KillScreen #others { display: none; margin-top: 1; background: $panel; }
    KillScreen #others.-shown { display: block; }
    """

    def __init__(self, picked):
        super().__init__()
        self.picked = picked
        self.plan: Plan | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dlg") as v:
            v.border_title = kill_title(None, len(self.picked))
            v.border_subtitle = "Cancel is the default · Esc cancels"
            with VerticalScroll(id="targetbox"):
                yield Static("Checking…", id="targets")
            with Vertical(id="foot"):
                yield Input(placeholder="as root: type  yes  to include other users' processes", id="others",
                            compact=True)
                with Horizontal(id="buttons"):
                    yield Button("Cancel", id="cancel", variant="primary", compact=True)
                    yield Button("SIGINT", compact=True, id="int", variant="warning", disabled=True)
                    yield Button("SIGTERM", compact=True, id="term", variant="error", disabled=True)
                    yield Button("SIGKILL", compact=True, id="kill", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._plan(False)

    @work(thread=True, exclusive=True, group="kill-plan")
    def _plan(self, allow_others: bool) -> None:
        plan = plan_for(self.picked, allow_others=allow_others)
        self.app.call_from_thread(self._planned, plan)

    def _planned(self, plan: Plan) -> None:
        self.plan = plan
        self.query_one("#dlg").border_title = kill_title(plan, len(self.picked))
        self.query_one("#targets", Static).update(targets_table(plan) if (plan.targets or plan.refused)
                                                  else Text("These processes are gone.", style=PALETTE.muted))
        for b in self.query(Button):
            if b.id != "cancel":
                b.disabled = plan.empty
        if os.geteuid() == 0 and any("owned by" in r.reason for r in plan.refused):
            self.query_one("#others", Input).add_class("-shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "others" and event.value.strip().lower() == "yes":
            self._plan(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id in ("cancel", "close"):
            self.dismiss(None)
            return
        if self.plan is None or self.plan.empty or event.button.id not in SIGNALS:
            return
        for b in self.query(Button):
            b.disabled = True
        self._send(SIGNALS[event.button.id])

    @work(thread=True, exclusive=True, group="kill-send")
    def _send(self, sig: int) -> None:
        assert self.plan is not None
        report = signal_processes(self.plan, sig, audit=self.app.ctx.audit)
        self.app.call_from_thread(self._done, report)

    def _done(self, report) -> None:
        show_report(self, report)

    def action_cancel(self) -> None:
        self.dismiss(None)
