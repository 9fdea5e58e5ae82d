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
from ...core.follow.follow import Followed, metrics_for
from ...core.follow.metrics import Metrics, ema, load_results
from ...core.follow.plot import Line, render
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


class CompareScreen(Screen):
    HELP_TITLE = "Compare runs"
    HELP_EXTRA = [
        ("wheel", "scroll the results table (↑ ↓ PgUp PgDn too)"),
        ("results", "deltas against the first run: green better, red worse"),
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
        self.metrics: list[Metrics] = []
        self.results: list[dict[str, float]] = []
        self._caller: BackgroundCaller | None = None

    def compose(self) -> ComposeResult:
        yield TextLine(id="ctitle")
        yield PlotView(id="cplot")
        with VerticalScroll():
            yield Static("", id="results")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._caller = BackgroundCaller(self._load, lambda r, took: self.app.call_from_thread(self._loaded, r),
                                        lambda e: self.app.call_from_thread(self.notify, str(e),
                                                                            severity="error"),
                                        name="ftmllm-compare")
        self._caller.request()
        self._title()

    def on_unmount(self) -> None:
        if self._caller is not None:
            self._caller.stop()

    def _load(self):
        metrics, results = [], []
        for t in self.targets:
            metrics.append(metrics_for(t))
            results.append(load_results(t.output_dir) if t.output_dir is not None else {})
        return metrics, results

    def _loaded(self, r) -> None:
        self.metrics, self.results = r
        self.query_one("#results", Static).update(results_table([t.label for t in self.targets],
                                                                self.results))
        self._draw()

    def common(self) -> list[str]:
        names = [set(m.names()) for m in self.metrics if m.series]
        both = sorted(set.intersection(*names)) if names else []
        preferred = [n for n in ("loss", "eval_loss", "lr") if n in both]
        return preferred + [n for n in both if n not in preferred and n != "epoch"]

    def _draw(self) -> None:
        plot = self.query_one("#cplot", PlotView)
        lines, names, colours = [], [], []
        for i, (t, m) in enumerate(zip(self.targets, self.metrics)):
            s = m.get(self.metric)
            if s is None or not len(s):
                continue
            y = ema(list(s.y), self.smooth) if self.smooth else s.y
            lines.append(Line(t.label, s.x, y))
            names.append(t.label)
            colours.append(PALETTE.series[i % len(PALETTE.series)])
        w, h = plot.chart_size
        chart = render(lines, w, h, logy=self.logy) if lines else None
        note = " · ".join(x for x in (f"EMA {self.smooth:.1f}" if self.smooth else "",
                                      "log y" if self.logy else "") if x)
        plot.show(self.metric, chart, names, colours, note)
        self._title()

    def restyle(self) -> None:
        if self.metrics:
            self._draw()

    def _title(self) -> None:
        t = Text("Compare ", style="bold")
        t.append(", ".join(x.label for x in self.targets))
        t.append(f"   metric {self.metric}", style=PALETTE.muted)
        self.query_one("#ctitle", TextLine).show(t)

    def on_resize(self) -> None:
        if self.metrics:
            self.call_after_refresh(self._draw)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_metric(self) -> None:
        names = self.common()
        if not names:
            return
        self.metric = names[(names.index(self.metric) + 1) % len(names)] if self.metric in names else names[0]
        self._draw()

    def action_smooth(self) -> None:
        self.smooth = 0.0 if self.smooth else 0.6
        self._draw()

    def action_logy(self) -> None:
        self.logy = not self.logy
        self._draw()
