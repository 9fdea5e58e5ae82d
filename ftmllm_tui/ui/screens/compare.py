"""Compare runs: overlaid curves and result metrics side by side with deltas against the first."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...core.background import BackgroundCaller
from ...core.follow.compare import CompareRequest, Comparer, CompareUpdate
from ...core.follow.follow import Followed
from ..palette import PALETTE
from ..widgets.plot_view import PlotView
from ..widgets.textline import TextLine


def results_table(labels: list[str], results: list[dict[str, float]]) -> Table | Text:
    keys = sorted(set().union(*[set(r) for r in results]))
    if not keys:
        return Text("No *_results.json in these output dirs yet.", style=PALETTE.muted)
    t = Table(box=None, padding=(0, 2), header_style="bold")
    t.add_column("metric")
    for i, label in enumerate(labels):
        t.add_column(label + (" (base)" if i == 0 else ""), justify="right")
    for k in keys:
        base = results[0].get(k)
        cells: list[Text | str] = [k]
        for i, r in enumerate(results):
            v = r.get(k)
            if v is None:
                cells.append(Text("-", style=PALETTE.muted))
                continue
            cell = Text(f"{v:.4g}")
            if i and base is not None:
                d = v - base
                pct = f" {d / abs(base) * 100:+.1f}%" if base else ""
                lower_better = "loss" in k or "runtime" in k or "perplexity" in k
                good = (d < 0) if lower_better else (d > 0)
                cell.append(f" ({d:+.4g}{pct})", style=(PALETTE.ok if good else PALETTE.danger)
                            if d else PALETTE.muted)
            cells.append(cell)
        t.add_row(*cells)
    return t


POLL_S = 1.0


class CompareScreen(Screen):
    HELP_TITLE = "Compare runs"
    HELP_EXTRA = [
        ("wheel", "scroll the results table (↑ ↓ PgUp PgDn too)"),
        ("results", "deltas against the first run: green better, red worse"),
        ("live", "the curves grow while the runs train; s shows smoothed curves over the raw ones"),
    ]
    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to the runs"),
        Binding("m", "metric", "Metric", tooltip="Next metric common to the runs"),
        Binding("s", "smooth", "Smooth", tooltip="Smoothing (EMA 0.6) on/off"),
        Binding("L", "logy", "Log y", tooltip="Log-scale y (toggle)"),
    ]
    DEFAULT_CSS = """
    CompareScreen #ctitle { height: 1; width: 1fr; background: $panel; padding: 0 1; }
    CompareScreen #cplot { height: 60%; }
    CompareScreen VerticalScroll { height: 1fr; }
    """

    def __init__(self, targets: list[Followed]):
        super().__init__()
        self.targets = targets
        self.metric = "loss"
        self.smooth = 0.0
        self.logy = False
        self.results: list[dict[str, float]] = []
        self.last: CompareUpdate | None = None
        self.available: tuple[str, ...] = ()
        self._comparer: Comparer | None = None
        self._req = CompareRequest()
        self._caller: BackgroundCaller | None = None

    def compose(self) -> ComposeResult:
        yield TextLine(id="ctitle")
        yield PlotView(id="cplot")
        with VerticalScroll():
            yield Static("", id="results")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Live like the detail view: a worker polls the runs every second (only new lines are read) and
        redraws when a curve grew or an option changed."""
        self._caller = BackgroundCaller(self._poll, lambda r, took: self.app.call_from_thread(self._shown, r),
                                        lambda e: self.app.call_from_thread(self.notify, str(e),
                                                                            severity="error"),
                                        name="ftmllm-compare")
        self.call_after_refresh(self._request)
        self.set_interval(POLL_S, self._caller.request)
        self._title()

    def on_unmount(self) -> None:
        if self._caller is not None:
            self._caller.stop()

    def _poll(self) -> CompareUpdate:
        if self._comparer is None:  # made in the worker: its first read can be long
            self._comparer = Comparer(self.targets)
        return self._comparer.poll(self._req)

    def _request(self) -> None:
        plot = self.query_one("#cplot", PlotView)
        self._req = CompareRequest(size=plot.chart_size, metric=self.metric, smooth=self.smooth, logy=self.logy,
                                   patterns=PALETTE.shapes)
        if self._caller is not None:
            self._caller.request()

    def _shown(self, u: CompareUpdate) -> None:
        before = self.last
        self.last = u
        self.available = u.metrics
        if u.results is not None:
            self.results = u.results
            self._table()
        elif before is None or u.last_eval != before.last_eval:
            self._table()
        if u.chart is not None:
            self._draw(u)
        self._title()

    def _table(self) -> None:
        """The result files side by side, with each run's last logged eval_loss (comparable while the
        runs still train: eval_results.json only comes at the end)."""
        u = self.last
        rows = [dict(r) for r in (self.results or [{} for _ in self.targets])]
        head = Text()
        if u is not None and any(u.last_eval):
            head.append("last evaluation: ", style="bold")
            parts = []
            for t, ev in zip(self.targets, u.last_eval):
                parts.append(f"{t.label} {ev[0]:.4g} @ step {ev[1]:g}" if ev else f"{t.label} none yet")
            head.append(" · ".join(parts), style=PALETTE.muted)
            for row, ev in zip(rows, u.last_eval):
                if ev is not None:
                    row["eval_loss (last logged)"] = ev[0]
        table = results_table([t.label for t in self.targets], rows)
        from rich.console import Group

        self.query_one("#results", Static).update(Group(head, table) if head.plain else table)

    def _draw(self, u: CompareUpdate) -> None:
        plot = self.query_one("#cplot", PlotView)
        index = {t.label: i for i, t in enumerate(self.targets)}
        colours = [PALETTE.series[index.get(n, i) % len(PALETTE.series)] for i, n in enumerate(u.names)]
        chart_colours = [PALETTE.muted if o < 0 else colours[o] for o in u.owners] or colours
        note = [f"EMA {self.smooth:.1f}" + ("" if PALETTE.shapes else " over raw (dim)") if self.smooth else "",
                "log y" if self.logy else ""]
        if u.missing:
            note.append(f"no {self.metric} yet: {', '.join(u.missing)}")
        plot.show(self.metric, u.chart, list(u.names), colours, " · ".join(x for x in note if x),
                  patterns=PALETTE.shapes, chart_colours=chart_colours)

    def restyle(self) -> None:
        self._request()

    def _title(self) -> None:
        t = Text("Compare ", style="bold")
        t.append(", ".join(x.label for x in self.targets))
        t.append(f"   metric {self.metric}", style=PALETTE.muted)
        self.query_one("#ctitle", TextLine).show(t)

    def on_resize(self) -> None:
        self.call_after_refresh(self._request)

    def action_back(self) -> None:
        self.app.pop_screen()

    def common(self) -> list[str]:
        """The metrics to cycle through: any run's (a run without one yet is named in the chart's note)."""
        return list(self.available)

    def action_metric(self) -> None:
        names = self.common()
        if not names:
            return
        self.metric = names[(names.index(self.metric) + 1) % len(names)] if self.metric in names else names[0]
        self._request()
        self._title()

    def action_smooth(self) -> None:
        self.smooth = 0.0 if self.smooth else 0.6
        self._request()

    def action_logy(self) -> None:
        self.logy = not self.logy
        self._request()
