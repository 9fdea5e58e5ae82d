"""Compare runs while they train: every poll reads only what the runs appended (trainer_log.jsonl
incrementally, trainer_state / SwanLab / console as in the detail view) and redraws the overlay when
something changed. Called from one worker thread."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ftmllm_tui.core.follow.follow import Followed, Follower
from ftmllm_tui.core.follow.metrics import Metrics, ema, load_results
from ftmllm_tui.core.follow.plot import Chart, Line, render

PREFERRED = ("loss", "eval_loss", "lr")


@dataclass(frozen=True)
class CompareRequest:
    size: tuple[int, int] = (80, 12)
    metric: str = "loss"
    smooth: float = 0.0  # EMA weight; the raw curves are drawn too (under the smoothed ones)
    logy: bool = False
    patterns: bool = False  # dot patterns per run (no raw curves then: they would look alike)


@dataclass(frozen=True)
class CompareUpdate:
    chart: Chart | None  # None: nothing changed since the last poll
    names: tuple[str, ...] = ()  # the runs drawn, in colour order
    owners: tuple[int, ...] = ()  # per series of the chart: its run's index in names, -1 for a raw curve
    metrics: tuple[str, ...] = ()  # every metric any run has (preferred first)
    missing: tuple[str, ...] = ()  # runs without the metric (yet)
    results: list[dict[str, float]] | None = None  # *_results.json per run; None: unchanged
    last_eval: tuple[tuple[float, float] | None, ...] = ()  # (eval_loss, step) of each run's last evaluation
    steps: tuple[int | None, ...] = ()
    sources: tuple[str, ...] = field(default=())


def available(metrics: list[Metrics]) -> tuple[str, ...]:
    """The metrics any of the runs has: loss, eval_loss, lr first (a run still waiting for its first
    evaluation does not hide eval_loss from the others)."""
    names: set[str] = set()
    for m in metrics:
        names |= set(m.names())
    return tuple([n for n in PREFERRED if n in names] + sorted(n for n in names if n not in PREFERRED
                                                                and n != "epoch"))


class Comparer:
    def __init__(self, targets: list[Followed]):
        self.targets = targets
        self.followers = [Follower(replace(t, console=None)) for t in targets]  # metrics only, no log
        self._versions = [0] * len(targets)
        self._drawn: tuple | None = None
        self._results_for: tuple | None = None

    def poll(self, req: CompareRequest) -> CompareUpdate:
        metrics: list[Metrics] = []
        for i, f in enumerate(self.followers):
            m, changed, _mtime = f._metrics([])
            if changed:
                self._versions[i] += 1
            metrics.append(m if m is not None else Metrics(source=self.targets[i].label))
        key = (tuple(self._versions), req)
        chart, names, owners = None, (), ()
        missing = tuple(t.label for t, m in zip(self.targets, metrics)
                        if m.get(req.metric) is None or not len(m.get(req.metric)))
        if key != self._drawn:
            chart, names, owners = self._render(metrics, req)
            self._drawn = key
        results = None
        if tuple(self._versions) != self._results_for:
            results = [load_results(t.output_dir) if t.output_dir is not None else {} for t in self.targets]
            self._results_for = tuple(self._versions)
        last_eval = []
        for m in metrics:
            s = m.get("eval_loss")
            last_eval.append((float(s.y[-1]), float(s.x[-1])) if s is not None and len(s) else None)
        return CompareUpdate(chart, names, owners, available(metrics), missing, results, tuple(last_eval),
                             tuple(m.progress.step for m in metrics), tuple(m.source for m in metrics))

    def _render(self, metrics: list[Metrics], req: CompareRequest):
        raw: list[Line] = []
        smooth: list[Line] = []
        names: list[str] = []
        for t, m in zip(self.targets, metrics):
            s = m.get(req.metric)
            if s is None or not len(s):
                continue
            names.append(t.label)
            if req.smooth:
                if not req.patterns:
                    raw.append(Line(t.label, s.x, s.y))
                smooth.append(Line(t.label, s.x, ema(list(s.y), req.smooth)))
            else:
                smooth.append(Line(t.label, s.x, s.y))
        w, h = req.size
        if not smooth:
            return render([], w, h), tuple(names), ()
        owners = tuple([-1] * len(raw) + list(range(len(smooth))))
        chart = render(raw + smooth, w, h, logy=req.logy, patterns=req.patterns and not raw)
        return chart, tuple(names), owners
