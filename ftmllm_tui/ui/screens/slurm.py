"""The Slurm view: the cluster (partitions, nodes with their GPUs, who holds what) and the jobs (yours
first; `a` for everybody's) with the reason a pending job waits and, for runs the app submitted,
LLaMA-Factory's progress and latest loss read from the run's output_dir.

Slurm is polled in a thread worker (core/slurm, one round of calls), re-armed with a timer after each
answer so polls never overlap, every ``[slurm] refresh_s`` (5 s by default: the controller is shared).
Stopping goes through Slurm (scancel; stop-and-save through srun --overlap), from a dialog that starts
on Cancel.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from ...core.runs.registry import RunRecord
from ...core.runs.runctl import Progress, read_progress
from ...core.slurm.query import ClusterState, Job, SlurmError, finished_jobs, read_cluster
from ..palette import PALETTE
from ..widgets.cell import Cell
from ..widgets.fast_table import Col, FastTable
from .dialog import Dialog


@dataclass(frozen=True)
class SlurmData:
    state: ClusterState | None = None
    error: str | None = None
    runs: dict[str, tuple[RunRecord, Progress | None]] = field(default_factory=dict)
    note: str | None = None  # finished jobs: why none are listed (accounting off)
    finished: tuple = ()


def gather(registry, user: str | None = None) -> SlurmData:
    """One refresh (runs in a worker thread): the cluster, plus the records and progress of the jobs
    the app submitted."""
    try:
        state = read_cluster(user=user)
    except SlurmError as e:
        return SlurmData(error=str(e))
    runs: dict[str, tuple[RunRecord, Progress | None]] = {}
    ids = {j.run_id for j in state.jobs if j.run_id}
    if ids and registry is not None:
        for rid in ids:
            try:
                rec = registry.load(rid)
            except (OSError, ValueError, TypeError):
                continue
            runs[rid] = (rec, read_progress(rec.output_dir) if rec.kind == "train" else None)
    try:
        finished, note = finished_jobs(user=state.user)
    except SlurmError as e:
        finished, note = [], f"sacct: {e}"
    return SlurmData(state=state, runs=runs, note=note, finished=tuple(finished))


def state_style(state: str) -> str:
    s = state.lower()
    if "drain" in s or "down" in s or "fail" in s:
        return PALETTE.danger
    if s.startswith("idle"):
        return PALETTE.free
    if s.startswith(("mixed", "alloc")):
        return PALETTE.warning
    return PALETTE.muted


def gpu_bar(alloc: int, total: int, width: int = 8) -> Text:
    t = Text()
    if total <= 0:
        return Text("-", style=PALETTE.muted)
    if total > width:  # scale
        a = round(alloc / total * width)
        t.append("■" * a, style=PALETTE.warning)
        t.append("□" * (width - a), style=PALETTE.free)
    else:
        t.append("■" * alloc, style=PALETTE.warning)
        t.append("□" * (total - alloc), style=PALETTE.free)
    return t


def limit(time_limit: str) -> str:
    return "∞" if time_limit.upper() in ("UNLIMITED", "INFINITE") else time_limit


def job_state_text(j: Job) -> Text:
    style = {"RUNNING": PALETTE.ok, "PENDING": PALETTE.warning}.get(j.state, PALETTE.muted)
    return Text(j.state.lower(), style=style)


class SlurmScreen(Screen):
    HELP_TITLE = "Slurm: the cluster and its jobs"
    BINDINGS = [
        Binding("a", "toggle_all", "All jobs", tooltip="Your jobs / everybody's jobs (toggle)"),
        Binding("l", "follow", "Follow", tooltip="Follow the job: the run's log, progress and loss (Enter too)"),
        Binding("x", "stop", "Stop", tooltip="Stop the selected job through Slurm (only your own jobs)"),
        Binding("u", "usage", "GPU use", tooltip="GPU usage of the selected running job, on its nodes (srun --overlap; on demand)"),
        Binding("n", "submit", "Submit", tooltip="Submit a LLaMA-Factory run to Slurm (the sbatch script, editable)"),
        Binding("tab", "switch_table", "Nodes/Jobs", show=False, tooltip="Move between the nodes and the jobs"),
        Binding("R", "refresh_now", "Refresh", show=False, tooltip="Ask Slurm now (otherwise every slurm.refresh_s seconds)"),
        Binding("escape,g", "back", "Back", tooltip="Back to the view before"),
    ]
    DEFAULT_CSS = """
    SlurmScreen { layout: vertical; }
    SlurmScreen #stitle { height: 1; width: 1fr; background: $panel; padding: 0 1; }
    SlurmScreen #sholders { height: 1; width: 1fr; padding: 0 1; }
    SlurmScreen #snodes { height: 4; }
    SlurmScreen #sjobs { height: 1fr; }
    SlurmScreen #sdetail { height: 1; width: 1fr; padding: 0 1; }
    SlurmScreen #snote { height: 1; width: 1fr; padding: 0 1; }
    """

    def __init__(self, source=None, **kw):
        """``source``: a callable returning SlurmData (default: ask Slurm, ``gather``)."""
        super().__init__(**kw)
        self.source = source
        self.show_all = False
        self.data = SlurmData()
        self._timer = None
        self._polling = False
        self._job_by_id: dict[str, Job] = {}

    def compose(self) -> ComposeResult:
        yield Cell(Text("ftmllm-tui Slurm · asking the controller…"), id="stitle")
        yield FastTable(id="snodes")
        yield Cell(id="sholders")
        yield FastTable(id="sjobs")
        yield Cell(id="sdetail")
        yield Cell(id="snote")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#sjobs", FastTable).focus()
        self.poll()

    @property
    def refresh_s(self) -> float:
        return float(getattr(self.app.settings, "refresh_s", 5.0))

    def poll(self) -> None:
        if self._polling:
            return
        self._polling = True
        self._poll()

    @work(thread=True, exclusive=True, group="slurm-poll")
    def _poll(self) -> None:
        data = self.source() if self.source is not None else gather(getattr(self.app.ctx, "registry", None))
        self.app.call_from_thread(self._got, data)

    def _got(self, data: SlurmData) -> None:
        self._polling = False
        if data.state is None and self.data.state is not None:
            data = SlurmData(state=self.data.state, error=data.error, runs=self.data.runs, note=self.data.note)
        self.data = data
        self.update()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.refresh_s, self.poll)

    # -- drawing -----------------------------------------------------------------------------------
    def update(self) -> None:
        d = self.data
        s = d.state
        width = self.size.width or 80
        title = Text("ftmllm-tui ", style=f"bold {PALETTE.accent}")
        if s is None:
            title.append("Slurm · " + (d.error or "asking the controller…"),
                         style=PALETTE.danger if d.error else "")
            self.query_one("#stitle", Cell).show(title)
            return
        title.append(f"Slurm {s.version} · {len(s.nodes)} node{'s' if len(s.nodes) != 1 else ''} · "
                     f"{s.gpus_free} of {s.gpus_total} GPUs free")
        title.append(f"  ⟳{self.refresh_s:g}s · {s.took_s * 1000:.0f} ms", style=PALETTE.muted)
        if d.error:
            title.append(f"  {d.error}", style=PALETTE.danger)
        self.query_one("#stitle", Cell).show(title)
        self._show_nodes(s, width)
        holders = s.holders()
        ht = Text("GPUs held: ", style=PALETTE.muted)
        if not holders:
            ht.append("nobody", style=PALETTE.muted)
        for i, (user, n) in enumerate(holders.items()):
            if i:
                ht.append("  ")
            ht.append(f"{user} {n}", style=("bold " if user == s.user else "") + PALETTE.user(user))
        parts = ", ".join(f"{p.name}{'*' if p.default else ''} {p.available}" for p in s.partitions)
        if parts:
            ht.append(f"   partitions: {parts}", style=PALETTE.muted)
        self.query_one("#sholders", Cell).show(ht)
        self._jobs_table(s, d, width)
        self._detail()
        note = Text("")
        if d.note:
            note = Text(f"finished jobs: {d.note}", style=PALETTE.muted)
        elif d.finished:
            last = d.finished[-1]
            note = Text(f"finished (sacct, last day): {len(d.finished)}; latest {last.id} {last.name} "
                        f"{last.state} exit {last.exit_code}", style=PALETTE.muted)
        self.query_one("#snote", Cell).show(note)

    def _show_nodes(self, s: ClusterState, width: int) -> None:
        table = self.query_one("#snodes", FastTable)
        h = self.size.height or 24
        table.styles.height = max(2, min(len(s.nodes) + 1, h // 3))
        name_w = min(16, max([4] + [len(n.name) for n in s.nodes]))
        fixed = name_w + 11 + 9 + 6 + 6 + 5 + 7 + 8
        rest = max(6, width - fixed - 2)
        table.set_columns((Col("node", "NODE", name_w), Col("state", "STATE", 11), Col("bar", "GPUS", 9),
                           Col("alloc", "ALLOC", 6, "right"), Col("type", "TYPE", 6), Col("free", "FREE", 5, "right"),
                           Col("cpus", "CPUS", 7, "right"), Col("reason", "PARTITIONS / REASON", rest)))
        order, cells = [], {}
        for n in s.nodes:
            order.append(n.name)
            why = Text(",".join(n.partitions), style=PALETTE.muted)
            if n.reason:
                why = Text(n.reason, style=PALETTE.danger)
            typ = n.gpu_type
            cells[n.name] = (Text(n.name, style="bold"), Text(n.state, style=state_style(n.state)),
                             gpu_bar(n.gpus_alloc, n.gpus_total),
                             Text(f"{n.gpus_alloc}/{n.gpus_total}"), Text(typ.strip() or "-", style=PALETTE.muted),
                             Text(str(n.gpus_free), style=PALETTE.free if n.gpus_free else PALETTE.muted),
                             Text(f"{n.cpus_alloc}/{n.cpus_total}"), why)
        table.set_rows(order, cells)

    def _jobs_table(self, s: ClusterState, d: SlurmData, width: int) -> None:
        table = self.query_one("#sjobs", FastTable)
        jobs = s.jobs_for(None if self.show_all else s.user)
        self._job_by_id = {j.id: j for j in jobs}
        wide = width >= 110
        cols = [Col("id", "JOBID", 7), Col("name", "NAME", 10), Col("user", "USER", 7), Col("state", "STATE", 8),
                Col("reason", "REASON", 11), Col("gpus", "GPUS", 4, "right"), Col("time", "TIME/LIMIT", 12),
                Col("prog", "PROG", 4, "right"), Col("loss", "LOSS", 6, "right")]
        if wide:
            cols[1] = Col("name", "NAME", 20)
            cols.insert(4, Col("part", "PARTITION", 10))
            cols.insert(7, Col("nodes", "NODES", 12))
        used = sum(c.width + 1 for c in cols)
        cols.append(Col("run", "RUN", max(3, width - used - 2)))
        table.set_columns(tuple(cols))
        order, cells = [], {}
        for j in jobs:
            rec_prog = d.runs.get(j.run_id or "")
            prog = rec_prog[1] if rec_prog else None
            pct = f"{prog.percentage:.0f}%" if prog and prog.percentage is not None else ""
            loss = f"{prog.loss:.3f}" if prog and prog.loss is not None else ""
            mine = j.user == s.user
            row = [Text(j.id, style="bold" if mine else PALETTE.muted), Text(j.name),
                   Text(j.user, style=("bold " if mine else "") + PALETTE.user(j.user)), job_state_text(j),
                   Text(j.reason, style=PALETTE.warning if j.pending else PALETTE.muted),
                   Text(str(j.gpus) if j.gpus else "-"), Text(f"{j.elapsed}/{limit(j.time_limit)}"),
                   Text(pct), Text(loss)]
            if wide:
                row.insert(4, Text(j.partition))
                row.insert(7, Text(j.nodelist or f"({j.nodes})", style=PALETTE.muted))
            row.append(Text(j.run_id or "", style=PALETTE.muted))
            order.append(j.id)
            cells[j.id] = tuple(row)
        table.set_rows(order, cells)

    def _detail(self) -> None:
        j = self.selected_job()
        t = Text("")
        if j is None:
            s = self.data.state
            who = "anybody's" if self.show_all else "your"
            if s is not None and not self._job_by_id:
                t = Text(f"no {who} jobs in the queue" + ("" if self.show_all else " · a: everybody's")
                         + " · n: submit a run", style=PALETTE.muted)
        else:
            t = Text(f"job {j.id} · {j.partition} · {j.nodes} node(s) {j.nodelist or ''}", style=PALETTE.muted)
            if j.account:
                t.append(f" · account {j.account}", style=PALETTE.muted)
            if j.run_id:
                t.append(f" · run {j.run_id}", style=PALETTE.accent)
            elif j.stdout:
                t.append(f" · {j.stdout}", style=PALETTE.muted)
        self.query_one("#sdetail", Cell).show(t)

    def selected_job(self) -> Job | None:
        key = self.query_one("#sjobs", FastTable).cursor_key
        return self._job_by_id.get(key) if key else None

    @on(FastTable.RowHighlighted)
    def _highlighted(self, event) -> None:
        self._detail()

    @on(FastTable.RowSelected)
    def _selected(self, event) -> None:
        if event.table.id == "sjobs":
            self.action_follow()

    # -- actions -----------------------------------------------------------------------------------
    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.notify("everybody's jobs" if self.show_all else "your jobs", timeout=2)
        self.update()

    def action_refresh_now(self) -> None:
        self.poll()

    def action_switch_table(self) -> None:
        jobs = self.query_one("#sjobs", FastTable)
        nodes = self.query_one("#snodes", FastTable)
        (nodes if jobs.has_focus else jobs).focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_follow(self) -> None:
        j = self.selected_job()
        if j is None:
            return
        from ...core.follow.follow import for_record, resolve
        from .detail import open_detail

        rec_prog = self.data.runs.get(j.run_id or "")
        if rec_prog is not None:
            open_detail(self.app, for_record(rec_prog[0], self.app.ctx.registry))
            return
        if j.stdout:
            try:
                open_detail(self.app, resolve(j.stdout.replace("%j", j.id), None))
                return
            except LookupError as e:
                self.notify(str(e), severity="warning", timeout=4)
                return
        self.notify(f"job {j.id} has no output file this app can read", timeout=3)

    def action_stop(self) -> None:
        if self.app.ctx.readonly:
            self.notify("Read-only mode: stopping is disabled", severity="warning", timeout=3)
            return
        j = self.selected_job()
        if j is None:
            return
        s = self.data.state
        if s is not None and j.user != s.user:
            self.notify(f"job {j.id} belongs to {j.user}: Slurm lets you cancel only your own jobs",
                        severity="warning", timeout=4)
            return
        rec = self.data.runs.get(j.run_id or "", (None, None))[0]
        self.app.push_screen(SlurmStopScreen(j, rec), lambda _r: self.poll())

    def action_usage(self) -> None:
        j = self.selected_job()
        if j is None:
            return
        if j.state != "RUNNING":
            self.notify(f"job {j.id} is {j.state.lower()}: GPU usage needs a running job", timeout=3)
            return
        self.app.push_screen(SlurmUsageScreen(j))

    def action_submit(self) -> None:
        if self.app.ctx.readonly:
            self.notify("Read-only mode: submitting is disabled", severity="warning", timeout=3)
            return
        from .slurm_submit import SlurmSubmitScreen

        self.app.push_screen(SlurmSubmitScreen(), lambda _r: self.poll())

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()


class SlurmStopScreen(Dialog[bool]):
    """Stop a Slurm job: what will be sent, Cancel focused, then each step as it happens."""

    HELP_TITLE = "Stop a Slurm job"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SlurmStopScreen { align: center middle; }
    SlurmStopScreen > #dlg { width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; background: $surface; padding: 0 1; }
    SlurmStopScreen #sbody { height: auto; max-height: 100%; }
    SlurmStopScreen #foot { dock: bottom; height: auto; }
    SlurmStopScreen #progress { color: $text-muted; height: auto; margin-top: 1; }
    SlurmStopScreen #buttons { height: 1; margin-top: 1; }
    SlurmStopScreen Button { margin-right: 2; }
    """

    def __init__(self, job: Job, record: RunRecord | None):
        super().__init__()
        self.job, self.record = job, record
        self.running = False
        self.done = False
        self._hurry = threading.Event()
        self._lines: list[str] = []

    def compose(self) -> ComposeResult:
        j, r = self.job, self.record
        with Vertical(id="dlg") as v:
            v.border_title = f"Stop Slurm job {j.id}"
            v.border_subtitle = "Cancel is the default · Esc cancels"
            with VerticalScroll(id="sbody"):
                what = f"{j.name} · {j.user} · {j.state.lower()}" + (f" ({j.reason})" if j.reason else "")
                what += f" · {j.nodes} node(s) {j.nodelist} · {j.gpus} GPU(s)"
                if r is not None:
                    what += f"\nrun {r.id} · {r.kind}"
                yield Static(Text(what))
                g = self.app.ctx.settings.stop_grace_s
                if j.pending:
                    how = "The job is pending: it is simply cancelled (scancel)."
                else:
                    how = (f"Stop: scancel --signal=INT --full (SIGINT to every process of the job on every "
                           f"node; torchrun forwards it), up to {g:g} s, then scancel (Slurm's SIGTERM, "
                           "KillWait, SIGKILL); then checked that the job left the queue.")
                    if r is not None and r.kind == "train":
                        how += ("\nStop and save: first srun --overlap into the job runs ftmllm-tui's "
                                "stop-and-save on each node (SIGABRT to the trainers: LLaMA-Factory stops at "
                                "the next step and saves), then the normal stop.")
                how += "\nSlurm enforces that only your own jobs can be cancelled."
                yield Static(Text(how, style=PALETTE.muted))
            with Vertical(id="foot"):
                yield Static("", id="progress")
                with Horizontal(id="buttons"):
                    yield Button("Cancel", id="cancel", variant="primary", compact=True)
                    yield Button("Stop", id="stop", variant="error", compact=True)
                    if r is not None and r.kind == "train" and not j.pending:
                        yield Button("Stop and save", id="save", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id
        if bid in ("cancel", "close"):
            if self.running:
                return
            self.dismiss(self.done)
            return
        if bid == "hurry":
            self._hurry.set()
            return
        if self.running:
            return
        self.running = True
        buttons = self.query_one("#buttons", Horizontal)
        buttons.remove_children()
        buttons.mount(Button("Next step now", id="hurry", variant="error", compact=True))
        self._stop(save=bid == "save")

    def _log(self, line: str) -> None:
        self._lines.append(line)
        self.query_one("#progress", Static).update("\n".join(self._lines[-6:]))

    @work(thread=True, exclusive=True, group="slurm-stop")
    def _stop(self, save: bool) -> None:
        from ...core.slurm.stop import stop_job, stop_run

        ctx = self.app.ctx
        log = lambda m: self.app.call_from_thread(self._log, m)  # noqa: E731
        kw = dict(audit=ctx.audit, grace_int=ctx.settings.stop_grace_s, save_first=save,
                  save_timeout=ctx.settings.stop_and_save_timeout_s, progress=log, hurry=self._hurry)
        try:
            if self.record is not None:
                rep = stop_run(ctx.registry, self.record, **kw)
            else:
                rep, _ = stop_job(self.job.id, **kw)
            msg = (f"Job {self.job.id} left the queue in {rep.took_s:.1f} s." if rep.all_gone
                   else f"Job {self.job.id} is still in the queue: see the steps above.")
        except SlurmError as e:
            msg = f"Slurm: {e}"
        self.app.call_from_thread(self._done, msg)

    def _done(self, msg: str) -> None:
        self.running = False
        self.done = True
        self._log(msg)
        buttons = self.query_one("#buttons", Horizontal)
        buttons.remove_children()
        close = Button("Close", id="close", variant="primary", compact=True)
        buttons.mount(close)
        close.focus()

    def action_cancel(self) -> None:
        if self.running:
            self.notify("Stopping: the dialog closes when Slurm has ended the job. \"Next step now\" skips "
                        "the current wait.", timeout=4)
            return
        self.dismiss(self.done)


class SlurmUsageScreen(Dialog[None]):
    """A running job's GPUs on each of its nodes, asked once (srun --jobid --overlap)."""

    HELP_TITLE = "GPU usage of a Slurm job"
    BINDINGS = [Binding("escape", "close", "Close")]
    DEFAULT_CSS = """
    SlurmUsageScreen { align: center middle; }
    SlurmUsageScreen > #dlg { width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    SlurmUsageScreen #ubody { height: auto; max-height: 100%; }
    SlurmUsageScreen #buttons { dock: bottom; height: 1; margin-top: 1; }
    """

    def __init__(self, job: Job):
        super().__init__()
        self.job = job

    def compose(self) -> ComposeResult:
        with Vertical(id="dlg") as v:
            v.border_title = f"GPU usage of job {self.job.id} ({self.job.name})"
            with VerticalScroll(id="ubody"):
                yield Static(Text(f"srun --jobid={self.job.id} --overlap on {self.job.nodes} node(s)…",
                                  style=PALETTE.muted), id="usage")
            with Horizontal(id="buttons"):
                yield Button("Close", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()
        self._ask()

    @work(thread=True, exclusive=True, group="slurm-usage")
    def _ask(self) -> None:
        from ...core.slurm.usage import job_gpu_usage

        try:
            nodes = job_gpu_usage(self.job.id, self.job.nodes, run_id=self.job.run_id)
            t = Text()
            for n in nodes:
                t.append(f"{n.node}: ", style="bold")
                if n.error:
                    t.append(n.error + "\n", style=PALETTE.warning)
                    continue
                t.append(f"{len(n.gpus)} GPU(s) ({n.source})\n", style=PALETTE.muted)
                for g in n.gpus:
                    util = "-" if g.util_pct is None else f"{g.util_pct:.0f}%"
                    mem = (f"{g.mem_used_mib / 1024:.1f}/{g.mem_total_mib / 1024:.0f}G"
                           if g.mem_used_mib is not None and g.mem_total_mib else "-")
                    t.append(f"  GPU {g.index} {g.name:<14} util {util:>4}  mem {mem}\n")
                for p in n.processes:
                    t.append(f"  pid {p.get('pid')} GPU {p.get('gpu')} {p.get('user')} "
                             f"{(p.get('gpu_memory_bytes') or 0) / 2**30:.1f}G\n", style=PALETTE.muted)
        except SlurmError as e:
            t = Text(str(e), style=PALETTE.danger)
        self.app.call_from_thread(self.query_one("#usage", Static).update, t)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def open_slurm(app) -> None:
    """The Slurm view (J), when Slurm mode is on ([slurm] enabled; auto: sinfo answers)."""
    if isinstance(app.screen, SlurmScreen):
        return
    setting = getattr(app.settings, "enabled", "auto")
    if setting == "false":
        app.notify("Slurm is turned off in the settings ([slurm] enabled = false)", severity="warning", timeout=4)
        return
    app.push_screen(SlurmScreen())  # no Slurm here: its worker says so in the title (no disk on the UI thread)

