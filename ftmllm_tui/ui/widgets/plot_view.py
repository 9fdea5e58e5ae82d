"""Shows a chart made by core.plot (rendered off the UI thread) with a title and a legend."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ...core.follow.plot import Chart
from ..palette import PALETTE



def chart_text(chart: Chart, colours: list[str]) -> Text:
    t = Text()
    for i, row in enumerate(chart.rows):
        if i:
            t.append("\n")
        for text, owner in row:
            t.append(text, style=colours[owner % len(colours)] if owner is not None else PALETTE.muted)
    return t


class PlotView(Widget):
    DEFAULT_CSS = """
    PlotView { height: 1fr; width: 1fr; padding: 0 1 0 0; }
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self._text = Text("waiting for metrics…", style=PALETTE.muted)
        self.key: tuple = ()  # what the current chart was made from (data version, size, options)

    @property
    def chart_size(self) -> tuple[int, int]:
        """Width and height available for the chart (one row for the title and legend)."""
        return max(20, self.content_size.width), max(3, self.content_size.height - 1)

    def show(self, title: str, chart: Chart | None, names: list[str], colours: list[str],
             note: str = "", *, patterns: bool = False, chart_colours: list[str] | None = None) -> None:
        """``patterns``: the chart draws series in dot patterns; the legend shows them.
        ``chart_colours``: per series of the chart when they differ from the legend's (raw curves
        drawn dim under smoothed ones)."""
        from ...core.follow.plot import legend_sample

        t = Text()
        t.append(title, style="bold")
        for i, (name, c) in enumerate(zip(names, colours)):
            t.append(f"  {legend_sample(i)} " if patterns else "  ━━ ", style=c)
            t.append(name)
        if note:
            t.append(f"  {note}", style=PALETTE.muted)
        t.append("\n")
        if chart is None:
            t.append("no data yet", style=PALETTE.muted)
        else:
            t.append_text(chart_text(chart, chart_colours or colours))
        if t != self._text:
            self._text = t
            self.refresh()

    def render(self) -> Text:
        return self._text
