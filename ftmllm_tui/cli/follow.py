"""Sub-commands for following runs: `logs` (like tail -f) and `plot` (a chart as text)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from .common import EXIT_BAD, EXIT_ENV, EXIT_OK  # noqa: F401 (EXIT_* for callers)
from .common import fail as _fail
SERIES_COLOURS = ("#5fafff", "#ffaf5f", "#87d787", "#d787d7", "#ff5f87", "#d7d75f", "#5fd7d7", "#af87ff")


def add_parsers(sub) -> None:
    lg = sub.add_parser(
        "logs", help="print a run's console log (or any log file); -f follows it",
        epilog="examples:\n"
               "  ftmllm-tui logs gpu-proof -f\n"
               "  ftmllm-tui logs saves/qwen-sft -n 200     (an output_dir: its running_log.txt)")
    lg.add_argument("ref", help="run id / prefix / name or output_dir (its console log), or any file (as it is)")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (Ctrl-C ends)")
    lg.add_argument("-n", "--lines", type=int, default=40, help="how many last lines first (default 40)")

    pl = sub.add_parser(
        "plot", help="chart of loss / eval_loss / lr as text (any terminal or file)",
        epilog="examples:\n"
               "  ftmllm-tui plot gpu-proof\n"
               "  ftmllm-tui plot saves/try1 saves/try2 --metric eval_loss --smooth 0.6\n"
               "  ftmllm-tui plot saves/try1/trainer_log.jsonl --log --last 1000 > loss.txt")
    pl.add_argument("refs", nargs="+", metavar="REF",
                    help="run, output_dir or trainer_log.jsonl; several: overlay their first metric")
    pl.add_argument("--metric", default=None, help="comma-separated series (default loss,eval_loss + lr)")
    pl.add_argument("--width", type=int, default=None, help="columns (default: the terminal's, or 100)")
    pl.add_argument("--height", type=int, default=None, help="rows of the main chart (default 20)")
    pl.add_argument("--smooth", type=float, default=0.0, metavar="W", help="EMA weight in [0, 1)")
    pl.add_argument("--log", action="store_true", help="log-scale y")
    pl.add_argument("--last", type=int, default=None, metavar="N", help="only the last N steps")


def _registry(args):
    from ..context import RunContext
    from ..settings import load_settings

    return RunContext.create(load_settings(), tmux_socket=args.tmux_socket).registry


def cmd_logs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..core.follow.follow import resolve
    from ..core.follow.logs import TailReader

    given = Path(args.ref).expanduser()
    followed = None
    if given.is_file():  # a file given by path is tailed as it is (trainer_log.jsonl too), like tail -f
        path = given
    else:  # a directory or a run: its console log
        try:
            followed = resolve(args.ref, _registry(args))
        except LookupError as e:
            followed = _external(args.ref)  # `runs` lists it as external-PID
            if followed is None:
                return _fail(str(e))
        path = followed.console
    ended = _run_ended(args, followed)
    if path is None:
        return _fail(f"no console log for {args.ref} (for an output_dir, LLaMA-Factory writes "
                     "running_log.txt only under LlamaBoard; give the log file)")
    tty = sys.stdout.isatty()
    reader = TailReader(path, last_lines=max(0, args.lines), strip_ansi=not tty)
    out = sys.stdout
    try:
        chunk = reader.poll()
        if chunk.missing:
            return _fail(f"{path} does not exist (yet)")
        for line in chunk.lines:
            out.write(line + "\n")
        if not args.follow:
            for line in reader.flush():  # a last line without its newline
                out.write(line + "\n")
        out.flush()
        quiet_since = time.monotonic()
        next_check = 0.0
        while args.follow:
            if not chunk.more:
                time.sleep(0.25)
            chunk = reader.poll()
            if chunk.reset:
                out.write(f"--- {path} was truncated or replaced: from the top ---\n")
            for line in chunk.lines:
                out.write(line + "\n")
            if chunk.lines or chunk.reset:
                out.flush()
                quiet_since = time.monotonic()
            now = time.monotonic()
            if ended is not None and now >= next_check:  # a run's log: stop once the run has ended and
                next_check = now + 1.0                     # its log stopped growing (tail -f never would)
                why = ended()
                if why and now - quiet_since >= LOG_QUIET_S:
                    for line in reader.flush():
                        out.write(line + "\n")
                    out.flush()
                    print(f"ftmllm-tui: {args.ref}: the run has ended ({why}); its log is complete",
                          file=sys.stderr)
                    break
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK  # `ftmllm-tui logs RUN | head`: the CLI entry (cli.run) ends quietly on the closed pipe


LOG_QUIET_S = 1.0  # logs -f of an ended run: how long its log must have stayed the same before it ends


def _external(ref: str):
    """An external run (``external-PID`` in `runs`) to follow: LLaMA-Factory's running_log.txt in its
    output_dir, else the file its stdout goes to; None when no such run is listed."""
    import re
    from pathlib import Path

    from ..core.follow.follow import for_record
    from ..core.runs.runctl import external_runs

    if not re.fullmatch(r"external-\d+", ref):
        return None
    view = next((v for v in external_runs(set()) if v.status.record.id == ref), None)
    if view is None:
        return None
    followed = for_record(view.status.record, None)
    if followed.console is None:
        try:
            out = Path(os.readlink(f"/proc/{view.status.pids[0]}/fd/1"))
            if out.is_file():
                from dataclasses import replace

                followed = replace(followed, console=out)
        except (OSError, IndexError):
            pass
    return followed


def _run_ended(args, followed):
    """For `logs -f` of a run: a check that says how the run ended ("finished, exit 0", "lost: its tmux
    session is gone"), or None while it runs; None (no check) for files and output_dirs. Slurm and
    external runs end as the `runs` command says (core/runs/runctl.py)."""
    from ..core.follow.follow import ended_state

    rec = getattr(followed, "record", None)
    run_dir = getattr(followed, "run_dir", None)
    if rec is not None and rec.external:
        from ..core.runs.runctl import external_run_alive

        return lambda: None if external_run_alive(rec) else "its process is gone"
    if rec is None or run_dir is None:
        return None
    if getattr(rec, "slurm_job", ""):
        return _slurm_ended(args, rec)
    tmux = None
    if rec.tmux_session:
        from ..context import RunContext
        from ..settings import load_settings

        tmux = RunContext.create(load_settings(), tmux_socket=args.tmux_socket or rec.tmux_socket or None).tmux

    def check() -> str | None:
        state = ended_state(run_dir)
        if state is not None:
            return state[0] + ("" if state[1] is None else f", exit {state[1]}")
        if tmux is not None:
            try:
                alive = tmux.has_session(rec.tmux_session)
            except Exception:  # noqa: BLE001 - no tmux: cannot tell, keep following
                return None
            if not alive and ended_state(run_dir) is None:
                return "lost: its tmux session is gone and it wrote no exit code"
        return None

    return check


def _slurm_ended(args, rec):
    """A Slurm run has ended when `runs` says so: its exit code, or its job gone from the queue (lost)."""
    from ..context import RunContext
    from ..core.runs.runctl import ended, slurm_run_state
    from ..core.slurm.runs import queue_jobs
    from ..settings import load_settings

    ctx = RunContext.create(load_settings(), tmux_socket=args.tmux_socket)
    registry, every = ctx.registry, ctx.settings.refresh_s

    def check() -> str | None:
        try:
            now = registry.find(rec.id)  # a stop may have been recorded since
        except KeyError:
            now = rec
        state, code = slurm_run_state(registry, now, lambda ids: queue_jobs(ids, min_interval=every))
        if not ended(state):
            return None
        if state == "lost":
            return f"lost: job {rec.slurm_job} left the queue without an exit code"
        return state + ("" if code is None else f", exit {code}") + f" (job {rec.slurm_job})"

    return check


def chart_text(chart, names: list[str], colours: list[str], tty: bool) -> str:
    if not tty:
        return "\n".join(chart.plain())
    from rich.console import Console
    from rich.text import Text

    console = Console(force_terminal=True, color_system="auto", width=10_000)
    lines = []
    for row in chart.rows:
        t = Text()
        for text, owner in row:
            t.append(text, style=colours[owner] if owner is not None else "")
        with console.capture() as cap:
            console.print(t, end="")
        lines.append(cap.get())
    return "\n".join(lines)


def cmd_plot(args: argparse.Namespace) -> int:
    from ..core.follow.follow import metrics_for, resolve
    from ..core.follow.metrics import ema
    from ..core.follow.plot import Line, render

    if not 0 <= args.smooth < 1:
        return _fail("--smooth must be in [0, 1)")
    registry = _registry(args)
    sets = []
    for ref in args.refs:
        try:
            target = resolve(ref, registry)
        except LookupError as e:
            return _fail(str(e))
        m = metrics_for(target)
        if m is None or not m.series:
            return _fail(f"no metrics in {ref} (no trainer_log.jsonl, trainer_state.json, SwanLab "
                         "logs or loss lines)",
                         EXIT_BAD)
        sets.append((target.label, m))

    tty = sys.stdout.isatty()
    colour = tty and not os.environ.get("NO_COLOR")  # without colour the series get dot patterns
    width = args.width or (shutil.get_terminal_size((100, 24)).columns if tty else 100)
    height = args.height or 20

    def series_line(m, name: str, label: str) -> Line | None:
        s = m.get(name)
        if s is None or not len(s):
            return None
        x, y = s.as_lists()
        if args.last:
            cut = x[-1] - args.last
            keep = [i for i, v in enumerate(x) if v > cut]
            x, y = [x[i] for i in keep], [y[i] for i in keep]
        if args.smooth:
            y = ema(y, args.smooth)
        return Line(label, x, y)

    out = []
    if len(sets) > 1:  # overlay one metric of every run
        metric = (args.metric or "loss").split(",")[0]
        lines = [series_line(m, metric, label) for label, m in sets]
        shown = [(ln, c) for ln, c in zip(lines, SERIES_COLOURS * 4) if ln is not None]
        chart = render([ln for ln, _ in shown], width, height, logy=args.log, patterns=not colour)
        out.append(f"{metric} — " + ", ".join(ln.name for ln, _ in shown))
        out.append(chart_text(chart, [ln.name for ln, _ in shown], [c for _, c in shown], tty))
        out.append(_legend([(ln.name, c) for ln, c in shown], tty))
    else:
        label, m = sets[0]
        wanted = args.metric.split(",") if args.metric else ["loss", "eval_loss"]
        lines = [series_line(m, n, n) for n in wanted]
        shown = [(ln, c) for ln, c in zip(lines, SERIES_COLOURS) if ln is not None]
        if not shown:
            return _fail(f"none of {', '.join(wanted)} in {label}; it has: {', '.join(m.names())}",
                         EXIT_BAD)
        p = m.progress
        head = f"{label}: " + ", ".join(ln.name for ln, _ in shown)
        if p.step is not None:
            head += f"   step {p.step}" + (f"/{p.total}" if p.total else "")
        if m.approximate_steps:
            head += "   (from console lines: x is the order of logging)"
        out.append(head)
        out.append(chart_text(render([ln for ln, _ in shown], width, height, logy=args.log, patterns=not colour),
                              [], [c for _, c in shown], tty))
        out.append(_legend([(ln.name, c) for ln, c in shown], tty))
        if args.metric is None and m.get("lr") is not None:
            lr = series_line(m, "lr", "lr")
            if lr is not None:
                out.append("lr")
                out.append(chart_text(render([lr], width, max(5, height // 3)), [], ["#87d787"], tty))
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


def _legend(items: list[tuple[str, str]], tty: bool) -> str:
    """Colour strokes on a terminal; without colour (a file, a pipe, NO_COLOR) each series' dot
    pattern, as drawn in the chart."""
    from ..core.follow.plot import legend_sample

    if not tty or os.environ.get("NO_COLOR"):
        return "  ".join(f"{legend_sample(i)} {name}" for i, (name, _) in enumerate(items))
    parts = [f"\x1b[38;2;{int(c[1:3], 16)};{int(c[3:5], 16)};{int(c[5:7], 16)}m━━\x1b[0m {name}"
             for name, c in items]
    return "  ".join(parts)
