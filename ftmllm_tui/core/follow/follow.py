"""What to follow for a reference given by a user: a run (id, prefix or name), an output_dir, a
trainer_log.jsonl / trainer_state.json, or any log file. Runs the app did not launch get the same
treatment: only paths are needed."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ftmllm_tui.core.follow.metrics import Metrics, Progress, TrainerLog, ema, load_results, load_trainer_state, parse_console
from ftmllm_tui.core.follow.plot import Chart, Line, render
from ftmllm_tui.core.runs.registry import Registry, RunRecord

CONSOLE_IN_OUTPUT_DIR = ("running_log.txt",)  # what LLaMA-Factory writes itself (LlamaBoard mode)


@dataclass(frozen=True)
class Followed:
    label: str
    record: RunRecord | None = None
    output_dir: Path | None = None
    trainer_log: Path | None = None
    trainer_state: Path | None = None
    console: Path | None = None
    swanlab: Path | None = None  # a SwanLab local logdir (or one run folder) of this run
    run_dir: Path | None = None  # the run's folder (exit_code, run.json): tells when it has ended

    @property
    def metrics_path(self) -> Path | None:
        return self.trainer_log or self.trainer_state


def output_dir_of(record: RunRecord) -> Path | None:
    if not record.output_dir:
        return None
    p = Path(record.output_dir).expanduser()
    return p if p.is_absolute() else Path(record.cwd or ".") / p


def swanlab_logdir(config: dict, cwd: str | Path | None) -> Path | None:
    """Where a config's local SwanLab logs go (``use_swanlab`` with mode local or offline)."""
    if not isinstance(config, dict) or not config.get("use_swanlab"):
        return None
    if str(config.get("swanlab_mode", "cloud")) not in ("local", "offline"):
        return None
    d = Path(str(config.get("swanlab_logdir") or "swanlog")).expanduser()
    return d if d.is_absolute() else Path(cwd or ".") / d


def for_record(record: RunRecord, registry: Registry | None) -> Followed:
    out = output_dir_of(record)
    console = registry.dir(record.id) / "console.log" if registry is not None and not record.external else None
    if console is None and out is not None:
        console = next((out / n for n in CONSOLE_IN_OUTPUT_DIR if (out / n).exists()), None)
    swan = None
    cfg_path = registry.dir(record.id) / "config.yaml" if registry is not None and not record.external \
        else (Path(record.config) if record.config else None)
    if cfg_path is not None:
        try:
            import yaml

            swan = swanlab_logdir(yaml.safe_load(cfg_path.read_text()), record.cwd)
        except Exception:
            swan = None
    return Followed(label=record.name, record=record, output_dir=out,
                    trainer_log=out / "trainer_log.jsonl" if out else None,
                    trainer_state=out / "trainer_state.json" if out else None, console=console,
                    swanlab=swan,
                    run_dir=registry.dir(record.id) if registry is not None and not record.external else None)


def ended_state(run_dir: Path | None) -> tuple[str, int | None] | None:
    """(state, exit code) of a run that has ended, from its folder; None while it runs (or when
    nothing tells). ``stopped`` when a stop was requested, else ``finished`` / ``failed`` by the
    exit code the runner wrote."""
    if run_dir is None:
        return None
    code: int | None = None
    try:
        code = int((run_dir / "exit_code").read_text().strip())
    except (OSError, ValueError):
        code = None
    stopped = False
    try:
        import json

        d = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        if isinstance(d, dict) and d.get("stop_requested_at") is not None:
            report = d.get("stop_report") or []
            stopped = code is not None or (bool(report) and all(
                isinstance(o, dict) and o.get("result") in ("stopped", "killed", "exited", "already gone") for o in report))
    except (OSError, ValueError):
        pass
    if stopped:
        return "stopped", code
    if code is None:
        return None
    return ("finished" if code == 0 else "failed"), code


def resolve(ref: str, registry: Registry | None) -> Followed:
    """Raises LookupError with a message saying what was tried."""
    p = Path(ref).expanduser()
    if p.is_dir() and not (p / "trainer_log.jsonl").exists() and not (p / "trainer_state.json").exists():
        from ftmllm_tui.core.follow.swanlab_local import find_runs

        if find_runs(p):  # a SwanLab logdir or run folder
            return Followed(label=p.name or str(p), swanlab=p)
    if p.is_dir():
        console = next((p / n for n in CONSOLE_IN_OUTPUT_DIR if (p / n).exists()), None)
        return Followed(label=p.name or str(p), output_dir=p, trainer_log=p / "trainer_log.jsonl",
                        trainer_state=p / "trainer_state.json", console=console)
    if p.is_file():
        if p.name.endswith(".jsonl"):
            return Followed(label=p.parent.name or p.name, output_dir=p.parent, trainer_log=p)
        if p.name == "trainer_state.json":
            return Followed(label=p.parent.name or p.name, output_dir=p.parent, trainer_state=p)
        return Followed(label=p.name, console=p)
    if registry is not None:
        try:
            return for_record(registry.find(ref), registry)
        except KeyError as e:
            if getattr(e, "matches", None):  # several runs: say which
                raise LookupError(str(e)) from None
            raise LookupError(f"{ref!r} is neither a file, a directory nor a run (no run id, id prefix or name "
                              "matches it; see `ftmllm-tui runs`)") from None
    raise LookupError(f"{ref} not found")


# -- following: one poll gives new log lines, progress and (when something changed) charts ----------


@dataclass(frozen=True)
class PlotRequest:
    loss_size: tuple[int, int] = (80, 12)
    lr_size: tuple[int, int] | None = None
    metrics: tuple[str, ...] = ("loss", "eval_loss")
    smooth: float = 0.0
    logy: bool = False
    last_steps: int | None = None  # window: the last N steps, None = all
    patterns: bool = False  # series in dot patterns (themes that tell series apart by shape)


@dataclass(frozen=True)
class FollowUpdate:
    lines: list[str]
    reset: bool
    pending: str
    console_missing: bool
    progress: Progress
    charts: dict[str, Chart] | None  # None: unchanged since the last poll
    series: tuple[str, ...] = ()
    source: str = ""
    results: dict[str, float] = field(default_factory=dict)
    log_age_s: float | None = None  # seconds since the metrics source last grew
    chart_names: tuple[str, ...] = ()  # the series drawn in charts["loss"], in colour order
    chart_raw: int = 0  # with smoothing: the first chart_raw series of charts["loss"] are the raw curves
    ended: tuple[str, int | None] | None = None  # (state, exit code) once the run has ended
    earlier: list[str] = field(default_factory=list)  # lines from before those shown (asked for), in order
    more_before: bool = False  # the console log has lines before the first one given out


class Follower:
    """Owns the readers of one followed run; called from a worker thread only."""

    def __init__(self, target: Followed, *, last_lines: int = 2000, strip_ansi: bool = False):
        from ftmllm_tui.core.follow.logs import TailReader

        self.target = target
        self.reader = TailReader(target.console, last_lines=last_lines, strip_ansi=strip_ansi) \
            if target.console else None
        self.tlog = TrainerLog(target.trainer_log) if target.trainer_log else None
        self._state_mtime: float | None = None
        self._state_metrics: Metrics | None = None
        self._console_lines: list[str] = []  # HF dict lines, when there is nothing better
        self._swan_reader = None
        self._swan_sig: tuple = ()
        self._version = 0
        self._drawn: tuple | None = None
        self._names: tuple[str, ...] = ()
        self._raw = 0
        import collections

        self.want_earlier: collections.deque[int | None] = collections.deque()  # asks (any thread): N or None=all

    def earlier(self, limit: int) -> list[str]:
        """Lines before the first one shown, as asked through :attr:`want_earlier`: the largest
        ask wins (None = back to the top), never more than ``limit`` lines."""
        asks = []
        while self.want_earlier:
            asks.append(self.want_earlier.popleft())
        if not asks or self.reader is None or limit <= 0:
            return []
        n = None if None in asks else max(a for a in asks if a is not None)
        return self.reader.read_before(limit if n is None else min(n, limit))

    def _swan(self) -> tuple[Metrics | None, bool]:
        if self.target.swanlab is None:
            return None, False
        from ftmllm_tui.core.follow.swanlab_local import SwanRunReader, find_runs

        if self._swan_reader is None:
            runs = find_runs(self.target.swanlab)
            if not runs:
                return None, False
            self._swan_reader = SwanRunReader(runs[0])  # the newest run in the logdir
        run = self._swan_reader.poll()
        sig = tuple((k, len(s.steps)) for k, s in sorted(run.series.items()))
        changed = sig != self._swan_sig
        self._swan_sig = sig
        return swan_metrics(run), changed

    def _metrics(self, new_lines: list[str]) -> tuple[Metrics | None, bool, float | None]:
        """(metrics, changed, mtime of the source)."""
        if self.tlog is not None:
            changed = self.tlog.poll()
            m = self.tlog.metrics
            if m.series or m.progress.step is not None:
                try:
                    mtime = os.stat(self.tlog.path).st_mtime
                except OSError:
                    mtime = None
                return m, changed, mtime
        st = self.target.trainer_state
        if st is not None:
            try:
                mtime = os.stat(st).st_mtime
            except OSError:
                mtime = None
            if mtime is not None:
                changed = mtime != self._state_mtime
                if changed:
                    self._state_mtime = mtime
                    self._state_metrics = load_trainer_state(st)
                if self._state_metrics is not None and self._state_metrics.series:
                    return self._state_metrics, changed, mtime
        m, changed = self._swan()
        if m is not None and m.series:
            return m, changed, None
        hits = [ln for ln in new_lines if "{'" in ln and "loss" in ln]
        if hits or not self._console_lines:
            self._console_lines += hits
            return parse_console(self._console_lines), bool(hits), None
        return parse_console(self._console_lines), False, None

    def poll(self, req: PlotRequest, *, room: int = 200_000) -> FollowUpdate:
        """``room``: how many earlier lines the caller can still take (see :attr:`want_earlier`)."""
        lines: list[str] = []
        reset = missing = False
        pending = ""
        earlier: list[str] = []
        if self.reader is not None:
            chunk = self.reader.poll()
            if not chunk.reset:
                earlier = self.earlier(room)
            lines, reset, missing = chunk.lines, chunk.reset, chunk.missing
            pending = self.reader.pending
            if reset:
                self._console_lines = []
        m, changed, mtime = self._metrics(lines)
        if changed:
            self._version += 1
        charts = None
        key = (self._version, req)
        if m is not None and key != self._drawn:
            charts = self._render(m, req)
            self._drawn = key
        results = load_results(self.target.output_dir) if (changed and self.target.output_dir) else {}
        return FollowUpdate(lines=lines, reset=reset, pending=pending, console_missing=missing,
                            progress=m.progress if m else Progress(), charts=charts,
                            series=tuple(m.names()) if m else (), source=m.source if m else "",
                            results=results,
                            log_age_s=None if mtime is None else max(0.0, time.time() - mtime),
                            chart_names=self._names, chart_raw=self._raw, ended=ended_state(self.target.run_dir),
                            earlier=earlier,
                            more_before=self.reader is not None and self.reader.more_before)

    @staticmethod
    def _line(m: Metrics, name: str, req: PlotRequest) -> Line | None:
        s = m.get(name)
        if s is None or not len(s):
            return None
        x, y = s.x, s.y
        if req.last_steps:
            import bisect

            i = bisect.bisect_right(x, x[-1] - req.last_steps)
            x, y = x[i:], y[i:]
        if req.smooth:
            y = ema(list(y), req.smooth)
        return Line(name, x, y)

    def _render(self, m: Metrics, req: PlotRequest) -> dict[str, Chart]:
        out: dict[str, Chart] = {}
        lines = [ln for ln in (self._line(m, n, req) for n in req.metrics) if ln is not None]
        self._names = tuple(ln.name for ln in lines)
        raw: list[Line] = []
        if req.smooth and not req.patterns:  # the raw curves under the smoothed ones (drawn dim)
            raw = [ln for ln in (self._line(m, n, replace(req, smooth=0.0)) for n in req.metrics) if ln is not None]
        self._raw = len(raw)
        w, h = req.loss_size
        out["loss"] = render(raw + lines, w, h, logy=req.logy, patterns=req.patterns) if lines else render([], w, h)
        if req.lr_size is not None:
            lr = self._line(m, "lr", PlotRequest(last_steps=req.last_steps))
            lw, lh = req.lr_size
            out["lr"] = render([lr] if lr else [], lw, lh)
        return out


SWAN_NAMES = {"train/loss": "loss", "eval/loss": "eval_loss", "train/learning_rate": "lr",
              "train/epoch": "epoch", "train/grad_norm": "grad_norm"}


def swan_metrics(run) -> Metrics:
    """A SwanLab run as Metrics, with LLaMA-Factory's names where they mean the same thing."""
    from ftmllm_tui.core.follow.metrics import Series

    m = Metrics(source=f"SwanLab {run.path}")
    for key, s in run.series.items():
        name = SWAN_NAMES.get(key, key)
        ser = Series(name)
        ser.extend_sorted(list(s.steps), list(s.values))
        m.series[name] = ser
    loss = m.series.get("loss")
    if loss is not None and len(loss):
        m.progress.step = int(loss.x[-1])
    ep = m.series.get("epoch")
    if ep is not None and len(ep):
        m.progress.epoch = float(ep.y[-1])
    return m


def metrics_for(target: Followed) -> Metrics:
    """The best metrics of a target, read once: trainer_log, trainer_state, SwanLab, console."""
    from ftmllm_tui.core.follow.metrics import TrainerLog, load_trainer_state

    if target.trainer_log is not None and target.trainer_log.is_file():
        t = TrainerLog(target.trainer_log)
        t.poll()
        if t.metrics.series or t.metrics.progress.step is not None:
            return t.metrics
    if target.trainer_state is not None and target.trainer_state.is_file():
        m = load_trainer_state(target.trainer_state)
        if m.series:
            return m
    if target.swanlab is not None:
        from ftmllm_tui.core.follow.swanlab_local import find_runs, read_run

        runs = find_runs(target.swanlab)
        if runs:
            m = swan_metrics(read_run(runs[0]))
            if m.series:
                return m
    if target.console is not None and target.console.is_file():
        with open(target.console, encoding="utf-8", errors="replace") as f:
            return parse_console(f)
    return Metrics(source=target.label)
