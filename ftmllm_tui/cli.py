"""Entry point: ``ftmllm-tui`` starts the TUI; sub-commands are the scriptable contract.

Exit codes: 0 ok, 1 the thing checked is bad, 2 usage or environment error (one line on stderr
that says what to do).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_BAD, EXIT_ENV = 0, 1, 2


def _fail(msg: str) -> int:
    print(f"ftmllm-tui: {msg}", file=sys.stderr)
    return EXIT_ENV


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ftmllm-tui",
        description="Terminal companion for fine-tuning LLMs with LLaMA-Factory on shared GPU servers.",
    )
    p.add_argument("--version", action="version", version=f"ftmllm-tui {__version__}")
    p.add_argument("--replay", metavar="FILE", help="replay a recording (JSONL) instead of live NVML")
    p.add_argument("--readonly", action="store_true", help="hide every action that changes anything")
    p.add_argument("--interval", type=float, metavar="S", help="refresh interval in seconds")
    p.add_argument("--open", metavar="REF", help="start in the detail view of a run, output_dir or log")
    p.add_argument("--tmux-socket", metavar="NAME",
                   help="tmux -L NAME for runs (default: FTMLLM_TMUX_SOCKET, settings, your server)")
    p.add_argument("--llamafactory-cli", metavar="CMD",
                   help="command (or prefix) that runs LLaMA-Factory (default: FTMLLM_LLAMAFACTORY_CLI, "
                        "settings, llamafactory-cli on PATH)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("snapshot", help="print one snapshot of GPUs and GPU processes, then exit")
    s.add_argument("--json", action="store_true", help="JSON (schema in README) instead of a table")
    s.add_argument("--replay", dest="sub_replay", metavar="FILE", help="take it from a recording")

    r = sub.add_parser("record", help="record NVML sweeps to a JSONL file (attach it to a bug report)")
    r.add_argument("out", metavar="OUT.jsonl", help="file to write ('-' for stdout)")
    r.add_argument("--seconds", type=float, default=30.0, help="how long to record (default 30)")
    r.add_argument("--interval", dest="rec_interval", type=float, default=1.0,
                   help="seconds between sweeps (default 1)")
    from . import cli_configs, cli_follow, cli_runs

    cli_runs.add_parsers(sub)
    cli_follow.add_parsers(sub)
    cli_configs.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "snapshot":
        return cmd_snapshot(args)
    if args.command == "record":
        return cmd_record(args)
    if args.command in ("launch", "runs", "stop"):
        from . import cli_runs

        return getattr(cli_runs, f"cmd_{args.command}")(args)
    if args.command in ("logs", "plot"):
        from . import cli_follow

        return getattr(cli_follow, f"cmd_{args.command}")(args)
    if args.command in ("validate", "edit"):
        from . import cli_configs

        return getattr(cli_configs, f"cmd_{args.command}")(args)
    return cmd_tui(args)


def _replay_path(path: str) -> Path | None:
    return Path(path).expanduser()


def cmd_snapshot(args: argparse.Namespace) -> int:
    from .core.nvml import NvmlUnavailable
    from .core.report import snapshot_json, snapshot_text
    from .core.samplers import ReplayError, open_sampler

    from .settings import load_settings

    settings = load_settings()
    for w in settings.warnings:
        print(f"ftmllm-tui: {w}", file=sys.stderr)
    replay = args.sub_replay or args.replay
    try:
        opened = open_sampler(_replay_path(replay) if replay else None, fallback=False,
                              proc_util_every_s=0)
    except NvmlUnavailable as e:
        return _fail(f"{e}. Run it on the GPU host, or pass --replay FILE to read a recording.")
    except ReplayError as e:
        return _fail(str(e))
    sampler = opened.sampler
    sampler.free_rule = settings.free_rule()
    try:
        snap = sampler.sample()
        if snap.source == "nvml" and any(r.info.cpu_pct is not None for r in snap.processes):
            # CPU % needs two readings: take a second sample a moment later
            import time

            time.sleep(0.2)
            snap = sampler.sample()
    finally:
        sampler.close()
    if args.json:
        json.dump(snapshot_json(snap), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 0
        print(snapshot_text(snap, width=width))
    return EXIT_OK


def cmd_record(args: argparse.Namespace) -> int:
    from .core.nvml import NvmlUnavailable
    from .core.samplers import ReplayError, open_sampler, write_recording

    if args.seconds <= 0 or args.rec_interval <= 0:
        return _fail("--seconds and --interval must be positive")
    try:
        opened = open_sampler(_replay_path(args.replay) if args.replay else None, fallback=False)
    except NvmlUnavailable as e:
        return _fail(f"{e}. Recording needs NVML: run it on the GPU host.")
    except ReplayError as e:
        return _fail(str(e))
    stopping = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    try:
        out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
    except OSError as e:
        return _fail(f"cannot write {args.out}: {e.strerror}")
    try:
        n = write_recording(opened.sampler, out, seconds=args.seconds, interval=args.rec_interval,
                            app_version=__version__, stop=lambda: bool(stopping))
    finally:
        if out is not sys.stdout:
            out.close()
        opened.sampler.close()
    if args.out != "-":
        print(f"recorded {n} sweeps to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_tui(args: argparse.Namespace) -> int:
    from .core.samplers import ReplayError, open_sampler
    from .settings import load_settings

    settings = load_settings()
    if args.interval is not None:
        from dataclasses import replace

        settings = replace(settings, refresh_interval=args.interval).clamp()
    try:
        opened = open_sampler(_replay_path(args.replay) if args.replay else None,
                              proc_util_every_s=settings.process_util_interval)
    except ReplayError as e:
        return _fail(str(e))
    opened.sampler.free_rule = settings.free_rule()
    banner = None
    if opened.reason:
        banner = (f"{opened.reason[0].upper()}{opened.reason[1:]}. Showing a REPLAY of a real 2×H200 "
                  "recording; --replay FILE replays another.")
        print(f"ftmllm-tui: {opened.reason}; replaying a bundled recording (REPLAY)", file=sys.stderr)
    first = None
    try:  # a few ms: lets the first frame show data, and primes CPU % for the next sample
        first = opened.sampler.sample()
    except Exception:
        pass
    from . import splash

    drew = first is not None and splash.enabled(sys.stdout)
    if drew:
        splash.draw(first)
    try:
        from .ui.app import FtmApp

        from .context import RunContext

        ctx = RunContext.create(settings, tmux_socket=args.tmux_socket,
                                llamafactory_cli=args.llamafactory_cli, readonly=args.readonly)
        app = FtmApp(opened.sampler, settings=settings, banner=banner, readonly=args.readonly,
                     first=first, ctx=ctx, open_ref=args.open,
                     edit_path=getattr(args, "edit", None))
        app.run()
    except BaseException:
        if drew:
            splash.undo()
        raise
    return app.return_code or EXIT_OK


def run() -> None:  # console script
    sys.exit(main())


if __name__ == "__main__":
    run()
