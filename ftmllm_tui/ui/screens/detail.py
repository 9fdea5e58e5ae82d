"""Run detail: live log, progress and ETA, loss / eval_loss and learning-rate charts."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from ...core import fmt
from ...core.background import BackgroundCaller
from ...core.follow.follow import Followed, FollowUpdate, Follower, PlotRequest
from ...core.follow.logs import first_error
from ..palette import PALETTE
from ..widgets.log_view import LogView
from ..widgets.plot_view import PlotView
from ..widgets.textline import TextLine

POLL_S = 1.0
JOB_KINDS = ("download", "ollama")  # jobs of core/models, not trainings: their log and their own progress
PLOT_ACTIONS = ("smooth", "weight", "logy", "window", "layout")  # nothing to chart for a job
WINDOWS = (None, 100, 1000, 10000)
LAYOUTS = ("split", "plot", "log")


def progress_text(u: FollowUpdate | None, stalled_after_s: float) -> Text:
    t = Text()
    if u is None:
        return Text("reading…", style=PALETTE.muted)
    p = u.progress
    if p.step is None:
        t.append("no progress yet", style=PALETTE.muted)
    else:
        t.append(f"step {p.step}", style="bold")
        if p.total:
            t.append(f"/{p.total}")
        pct = p.percentage if p.percentage is not None else (100 * p.step / p.total if p.total else None)
        if pct is not None:
            t.append(f"  {pct:.1f}%", style=f"bold {PALETTE.accent}")
            bar = 12
            done = round(pct / 100 * bar)
            t.append("  " + "█" * done, style=PALETTE.accent)
            t.append("·" * (bar - done), style=PALETTE.bar_empty)
        if p.remaining and u.ended is None:  # an ended run has no time left
            t.append(f"  ETA {p.remaining}", style="bold")
        if p.elapsed:
            t.append(f"  elapsed {p.elapsed}", style=PALETTE.muted)
    # the warning before the rates: at 80 columns the end of the line is cut
    if u.log_age_s is not None and u.log_age_s > stalled_after_s and (p.percentage or 0) < 100 \
            and u.ended is None:
        t.append(f"  ⚠ no new step for {fmt.duration(u.log_age_s)}", style=f"bold {PALETTE.danger}")
    if p.step is not None:
        if p.throughput:
            t.append(f"  {p.throughput:.0f} tok/s", style=PALETTE.muted)
        elif p.steps_per_s:
            t.append(f"  {p.steps_per_s:.2f} steps/s", style=PALETTE.muted)
        if p.epoch is not None:
            t.append(f"  epoch {p.epoch:.2f}", style=PALETTE.muted)
    return t


def job_text(kind: str, u: FollowUpdate | None, prog, created_at: float | None, now: float) -> Text:
    """The progress line of a download (files, bytes, rate, ETA from its progress.json, as `runs --json`
    has them) or an ollama create job (running / how it ended, how long): no steps, no stall warning."""
    from ...core.models.cache import human_bytes

    if u is None:
        return Text("reading…", style=PALETTE.muted)
    ended = u.ended
    t = Text()
    if kind == "download":
        if prog is None:
            t.append("download: no progress yet" if ended is None else "download: no progress was written",
                     style=PALETTE.muted)
            return t
        t.append(f"{prog.step}/{prog.total} files", style="bold")
        if prog.percentage is not None:
            pct = prog.percentage
            t.append(f"  {pct:.1f}%", style=f"bold {PALETTE.accent}")
            bar = 12
            done = round(min(100.0, pct) / 100 * bar)
            t.append("  " + "█" * done, style=PALETTE.accent)
            t.append("·" * (bar - done), style=PALETTE.bar_empty)
        if prog.bytes_total is not None:
            t.append(f"  {human_bytes(prog.bytes_done or 0)} of {human_bytes(prog.bytes_total)}")
        if prog.rate and ended is None:
            t.append(f"  {human_bytes(prog.rate)}/s", style=PALETTE.muted)
        if prog.remaining and ended is None:
            t.append(f"  ETA {prog.remaining}", style="bold")
        return t
    label = "ollama create" if kind == "ollama" else kind
    if ended is None:
        t.append(f"{label}: running", style="bold")
        if created_at:
            t.append(f"  for {fmt.duration(max(0.0, now - created_at))}", style=PALETTE.muted)
    else:
        state, code = ended
        t.append(f"{label}: {state}", style=f"bold {PALETTE.state(state)}")
        if code is not None and not (state == "finished" and code == 0):
            t.append(f", exit {code}", style=PALETTE.state(state))
    return t


class RunDetailScreen(Screen):
    HELP_TITLE = "Run detail (follow)"
    HELP_EXTRA = [
        ("wheel", "scroll the log: up pauses following, back at the end it follows again"),
        ("Enter", "in the search box: next match (Esc closes the box, the highlights stay)"),
    ]
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Close the search box, else back to the runs"),
        Binding("end,F", "follow", "Follow", key_display="End",
                tooltip="Jump to the end and follow new lines (F too)"),
        Binding("slash", "search", "Search", tooltip="Search the log (Enter: next match)"),
        Binding("n", "next_match", "Next", show=False, tooltip="Next match"),
        Binding("N", "prev_match", "Prev", show=False, tooltip="Previous match"),
        Binding("e", "first_error", "Error", show=False,
                tooltip="Jump to the line the failure reason was read from, else the first error or traceback"),
        Binding("W", "wrap", "Wrap", show=False, tooltip="Wrap long log lines (toggle)"),
        Binding("s", "smooth", "Smooth", tooltip="Smoothing on/off (EMA); [ and ] change the weight"),
        Binding("left_square_bracket", "weight(-0.1)", "Less smooth", show=False, key_display="[",
                tooltip="Smoothing weight down (EMA, 0.1 steps)"),
        Binding("right_square_bracket", "weight(0.1)", "More smooth", show=False, key_display="]",
                tooltip="Smoothing weight up (EMA, 0.1 steps)"),
        Binding("L", "logy", "Log y", show=False, tooltip="Log-scale y (toggle)"),
        Binding("z", "window", "Window", show=False, tooltip="Steps shown: all, last 100, 1000, 10000"),
        Binding("v", "layout", "Layout", tooltip="Plot and log / plot only / log only"),
        Binding("ctrl+s", "save_log", "Save log", show=False, tooltip="Save the log lines on screen"),
        Binding("o", "ollama", "Ollama", show=False,
                tooltip="Export runs: create the export in ollama (the Modelfile first, editable)"),
    ]
    DEFAULT_CSS = """
    RunDetailScreen #dtitle { height: 1; width: 1fr; background: $panel; padding: 0 1; }
    RunDetailScreen #dprogress { height: 1; width: 1fr; padding: 0 1; }
    RunDetailScreen #plots { height: 45%; min-height: 8; }
    RunDetailScreen #lrplot { width: 34%; display: none; }
    RunDetailScreen.-wide #lrplot { display: block; }
    RunDetailScreen.-plot #plots { height: 1fr; }
    RunDetailScreen.-plot #logbox { display: none; }
    RunDetailScreen.-log #plots { display: none; }
    RunDetailScreen.-job #plots { display: none; }
    RunDetailScreen #logbar { height: 1; width: 1fr; background: $panel; padding: 0 1; }
    RunDetailScreen #search { display: none; height: 1; background: $boost; }
    RunDetailScreen #search.-shown { display: block; }
    """

    def __init__(self, target: Followed, *, stalled_after_s: float = 900.0):
        super().__init__()
        self.target = target
        self.stalled_after_s = stalled_after_s
        self.smooth = 0.0
        self.smooth_weight = 0.6
        self.logy = False
        self.window_i = 0
        self.layout_i = 0
        self.last: FollowUpdate | None = None
        self.follower: Follower | None = None
        self._caller: BackgroundCaller | None = None
        self._req = PlotRequest()
        import collections

        self._earlier_asks: collections.deque[int | None] = collections.deque()  # for the worker
        self._room = 200_000  # earlier lines the log can still take (read by the worker)
        rec = target.record
        self.job_kind = rec.kind if rec is not None and rec.kind in JOB_KINDS else None
        self._job_progress = None  # a download's Progress, read by the worker

    def compose(self) -> ComposeResult:
        yield TextLine(id="dtitle")
        yield TextLine(id="dprogress")
        with Horizontal(id="plots"):
            yield PlotView(id="lossplot")
            yield PlotView(id="lrplot")
        with Vertical(id="logbox"):
            yield TextLine(id="logbar")
            yield LogView(id="log")
        yield Input(placeholder="search the log (Enter: next, Esc: close)", id="search", compact=True)
        yield Footer(compact=True)

    def _title(self) -> None:
        """Name, the state once ended (stopped, exit 130 / finished / failed, exit 1), kind, GPUs, id;
        the output_dir's tail last (shortened from the left at 80 columns)."""
        t = self.target
        title = Text(t.label, style="bold")
        ended = self.last.ended if self.last is not None else None
        if ended is not None:
            state, code = ended
            title.append(f"  {state}", style=f"bold {PALETTE.state(state)}")
            if code is not None and not (state == "finished" and code == 0):
                title.append(f", exit {code}", style=PALETTE.state(state))
        why = getattr(self, "reason", None)
        if why is not None:  # core/runs/reasons.py; `e` jumps to the line
            title.append(f"  ✗ {why.summary}" + (" (e: the line)" if why.text else ""),
                         style=f"bold {PALETTE.danger}")
        if t.record is not None:
            r = t.record
            title.append(f"  {r.kind}", style=PALETTE.muted)
            if self.job_kind is None:  # a download or ollama job uses no GPU
                title.append(f"  GPUs {'cpu' if r.gpus is None else ','.join(map(str, r.gpus))}",
                             style=PALETTE.muted)
            title.append(f"  {r.id}", style=PALETTE.muted)
        if t.output_dir:
            title.append("  ")
        self.query_one("#dtitle", TextLine).show(title, tail_path=str(t.output_dir or ""), tail_style=PALETTE.muted)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.job_kind is not None and action in PLOT_ACTIONS:
            return False  # a job has no chart: no smoothing, log y, window or layout keys
        return True

    def on_mount(self) -> None:
        self.set_class(self.job_kind is not None, "-job")
        self._title()
        self.query_one(LogView).focus()
        self._apply_layout()
        self.follower = None
        self._caller = BackgroundCaller(self._poll, lambda u, took: self.app.call_from_thread(self._show, u),
                                        lambda e: self.app.call_from_thread(
                                            self.notify, f"Reading the run failed: {e}", severity="error"),
                                        name="ftmllm-follow")
        self._caller.request()
        self.set_interval(POLL_S, self._caller.request)
        self._logbar()

    def on_unmount(self) -> None:
        if self._caller is not None:
            self._caller.stop()

    def on_resize(self) -> None:
        self._apply_layout()
        self._request_plot()

    # -- data ------------------------------------------------------------------------------------
    def _request_plot(self) -> None:
        loss = self.query_one("#lossplot", PlotView)
        lr = self.query_one("#lrplot", PlotView)
        self._req = PlotRequest(loss_size=loss.chart_size,
                                lr_size=lr.chart_size if self.has_class("-wide") else None,
                                smooth=self.smooth, logy=self.logy, last_steps=WINDOWS[self.window_i],
                                patterns=PALETTE.shapes)
        if self._caller is not None:
            self._caller.request()

    def _poll(self) -> FollowUpdate:
        if self.follower is None:  # opened in the worker: the first read can be a big file's tail
            target = self.target
            if self.job_kind is not None:  # a job: its log only, no trainer_log to chart
                from dataclasses import replace

                target = replace(target, trainer_log=None, trainer_state=None, swanlab=None)
            self.follower = Follower(target)
        if self.job_kind == "download" and self.target.run_dir is not None:
            from ...core.runs.runctl import download_progress

            self._job_progress = download_progress(self.target.run_dir)
        while self._earlier_asks:
            self.follower.want_earlier.append(self._earlier_asks.popleft())
        u = self.follower.poll(self._req, room=self._room)
        from .reason_line import reason_of

        why = reason_of(self.target, u.ended)  # why it failed (cached by the log's size): the top line, `e`
        if why != getattr(self, "reason", None):
            self.reason = why
            self.app.call_from_thread(self._title)
        return u

    def _show(self, u: FollowUpdate) -> None:
        was_ended = self.last.ended if self.last is not None else None
        self.last = u
        if u.ended != was_ended:
            self._title()
        log = self.query_one(LogView)
        if u.reset:
            log.clear()
        if u.earlier:
            log.prepend(u.earlier)
        log.more_above = u.more_before
        if not u.more_before:
            log.top_pending = False
        log.append(u.lines, u.pending)
        self._room = log.room
        self.query_one("#dprogress", TextLine).show(self._progress_text(u))
        if u.charts is not None and self.job_kind is None:
            note = []
            if self.smooth:
                note.append(f"EMA {self.smooth:.1f}")
            if self.logy:
                note.append("log y")
            if WINDOWS[self.window_i]:
                note.append(f"last {WINDOWS[self.window_i]} steps")
            names = list(u.chart_names)
            colours = list(PALETTE.series[:len(names)])
            if self.smooth and u.chart_raw:
                note[0] += " over raw (dim)"
            self.query_one("#lossplot", PlotView).show(
                "loss", u.charts.get("loss"), names, colours, " · ".join(note),
                patterns=self._req.patterns, chart_colours=[PALETTE.muted] * u.chart_raw + colours)
            if "lr" in u.charts:
                self.query_one("#lrplot", PlotView).show("learning rate", u.charts["lr"], ["lr"],
                                                         [PALETTE.series[2]])
        self._logbar()

    def _progress_text(self, u: FollowUpdate | None) -> Text:
        if self.job_kind is None:
            return progress_text(u, self.stalled_after_s)
        rec = self.target.record
        return job_text(self.job_kind, u, self._job_progress, rec.created_at if rec else None, time.time())

    def restyle(self) -> None:
        """The theme changed: progress, charts and the log bar carry palette colours."""
        if self.last is not None:
            self.query_one("#dprogress", TextLine).show(self._progress_text(self.last))
        self._request_plot()
        self._logbar()
        self.query_one(LogView).refresh()

    def _logbar(self) -> None:
        """The short status first (lines, following or paused, matches), the log's path last: at
        80 columns the path is shortened from the left."""
        log = self.query_one(LogView)
        t = Text("log", style="bold")
        if log.more_above and not log.room:
            t.append(f" · showing the last {len(log.lines)} lines · ", style=PALETTE.warning)
        elif log.more_above:
            t.append(f" · last {len(log.lines)} lines, Home reads back · ")
        else:
            t.append(f" · {len(log.lines)} lines · ")
        if log.follow:
            t.append("following", style=f"bold {PALETTE.ok}")
        else:
            t.append("paused", style=f"bold {PALETTE.warning}")
            if log.new_while_paused:
                t.append(f" · {log.new_while_paused} new lines (End to follow)", style=PALETTE.warning)
        if log.search:
            t.append(f" · “{log.search}” {len(log.matches)} matches", style=PALETTE.accent)
        if log.wrap:
            t.append(" · wrap", style=PALETTE.muted)
        if self.last is not None and self.last.console_missing:
            t.append(" · file missing", style=PALETTE.danger)
        t.append(" · ")
        path = str(self.target.console) if self.target.console else "(no console log)"
        self.query_one("#logbar", TextLine).show(t, tail_path=path, tail_style=PALETTE.muted)

    @on(LogView.Status)
    def _status(self) -> None:
        self._logbar()

    @on(LogView.WantEarlier)
    def _want_earlier(self, event: LogView.WantEarlier) -> None:
        """Read the lines above the first one held, in the worker (the whole file for Home)."""
        self._earlier_asks.append(event.n)
        if self._caller is not None:
            self._caller.request()

    def _apply_layout(self) -> None:
        self.set_class(self.size.width >= 110, "-wide")
        for name in LAYOUTS:
            self.set_class(LAYOUTS[self.layout_i] == name and name != "split", f"-{name}")
        self.call_after_refresh(self._request_plot)

    # -- actions -----------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.query_one("#search", Input).has_class("-shown"):
            self._close_search()
            return
        self.app.pop_screen()

    def action_follow(self) -> None:
        self.query_one(LogView).action_bottom()

    def action_search(self) -> None:
        if LAYOUTS[self.layout_i] == "plot":  # searching is about the log: show it
            self.layout_i = 0
            self._apply_layout()
        box = self.query_one("#search", Input)
        box.add_class("-shown")
        box.value = self.query_one(LogView).search
        box.focus()

    def _close_search(self) -> None:
        self.query_one("#search", Input).remove_class("-shown")
        self.query_one(LogView).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        log = self.query_one(LogView)
        log.set_search(event.value)
        if event.value and log.more_above and log.room:  # search the whole file: read the rest in
            self._want_earlier(LogView.WantEarlier(None))
        self._logbar()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if self.query_one(LogView).next_match(1) is None and event.value:
            self.notify(f"“{event.value}” not found", severity="warning", timeout=3)
        self._logbar()

    def action_next_match(self) -> None:
        if self.query_one(LogView).next_match(1) is None:
            self.notify("No matches (/ to search)", timeout=2)

    def action_prev_match(self) -> None:
        if self.query_one(LogView).next_match(-1) is None:
            self.notify("No matches (/ to search)", timeout=2)

    def action_first_error(self) -> None:
        log = self.query_one(LogView)
        why = getattr(self, "reason", None)
        if why is not None:  # the line the failure reason was read from
            from .reason_line import line_of

            i = line_of(why, log.lines)
            if i is not None:
                log.go_to_line(i)
                self._logbar()
                return
        i = first_error(log.lines)
        if i is None:
            self.notify("No error or traceback in the log", timeout=3)
            return
        log.go_to_line(i)
        self._logbar()

    def action_wrap(self) -> None:
        self.query_one(LogView).toggle_wrap()
        self._logbar()

    def action_smooth(self) -> None:
        self.smooth = 0.0 if self.smooth else self.smooth_weight
        self._request_plot()

    def action_weight(self, delta: float) -> None:
        self.smooth_weight = round(min(0.95, max(0.1, self.smooth_weight + delta)), 2)
        self.smooth = self.smooth_weight
        self.notify(f"Smoothing weight {self.smooth_weight:.2f}", timeout=2)
        self._request_plot()

    def action_logy(self) -> None:
        self.logy = not self.logy
        self._request_plot()

    def action_window(self) -> None:
        self.window_i = (self.window_i + 1) % len(WINDOWS)
        w = WINDOWS[self.window_i]
        self.notify("All steps" if w is None else f"Last {w} steps", timeout=2)
        self._request_plot()

    def action_layout(self) -> None:
        self.layout_i = (self.layout_i + 1) % len(LAYOUTS)
        self._apply_layout()
        if LAYOUTS[self.layout_i] != "plot":  # the log is shown again: its keys work at once
            self.query_one(LogView).focus()

    def action_ollama(self) -> None:
        from .ollama import open_ollama_for_run

        open_ollama_for_run(self.app, self.target.record)

    def action_save_log(self) -> None:
        lines = self.query_one(LogView).visible_lines()
        name = f"ftmllm-{self.target.label}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        path = Path.cwd() / name
        try:
            import re

            path.write_text("\n".join(re.sub(r"\x1b\[[0-9;]*m", "", ln) for ln in lines) + "\n")
        except OSError as e:
            self.notify(f"Cannot save: {e.strerror}", severity="error")
            return
        self.notify(f"Saved {len(lines)} lines to {path}", timeout=5)


def open_detail(app, target: Followed) -> None:
    stall = getattr(getattr(app, "ctx", None), "settings", None)
    minutes = stall.stall_minutes if stall is not None else 15.0
    app.push_screen(RunDetailScreen(target, stalled_after_s=minutes * 60))

