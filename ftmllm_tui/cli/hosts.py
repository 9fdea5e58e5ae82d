"""Sub-commands for several hosts: ``stream`` (what the other hosts run) and ``snapshot --hosts``.

Nothing here imports Textual: ``stream`` runs on every remote host and must cost what the sampler
costs, no more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_OK, EXIT_BAD, EXIT_ENV = 0, 1, 2


def _fail(msg: str, as_json: bool = False) -> int:
    if as_json:
        json.dump({"error": msg}, sys.stdout)
        sys.stdout.write("\n")
    print(f"ftmllm-tui: {msg}", file=sys.stderr)
    return EXIT_ENV


def add_parsers(sub) -> None:
    st = sub.add_parser(
        "stream", help="print one JSON sweep per interval on stdout (what other hosts read over SSH)",
        epilog="The first line is a header ({\"meta\": {\"stream_schema\": 1, \"host\": ...}}), then one sweep per\n"
               "line in the format `record` writes. Reads nothing; ends when stdin or stdout closes.\n\n"
               "examples:\n"
               "  ssh gpu3 ftmllm-tui stream --interval 2\n"
               "  ftmllm-tui --replay rec.jsonl stream        (a host without GPUs streams a recording)")
    st.add_argument("--interval", dest="stream_interval", type=float, default=1.0, metavar="S",
                    help="seconds between sweeps, 0.2 to 60 (default 1)")
    st.add_argument("--count", type=int, default=None, metavar="N", help="stop after N sweeps")


def add_hosts_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", dest="sub_hosts", metavar="H1,H2",
                        help="these hosts over SSH (aliases or user@host:port; default: [cluster] hosts)")


def cmd_stream(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..core.gpus.nvml import NvmlUnavailable
    from ..core.gpus.samplers import ReplayError, open_sampler
    from ..core.hosts.stream import run_streamer

    interval = args.stream_interval
    if not 0.2 <= interval <= 60:
        return _fail("--interval must be between 0.2 and 60 seconds")
    try:
        opened = open_sampler(args.replay if args.replay else None, fallback=False)
    except NvmlUnavailable as e:
        return _fail(f"{e}. No GPU here: pass --replay FILE to stream a recording.")
    except ReplayError as e:
        return _fail(str(e))
    try:
        stdin_fd = sys.stdin.fileno() if sys.stdin is not None else None
    except (OSError, ValueError):
        stdin_fd = None
    try:
        run_streamer(opened.sampler, sys.stdout, interval=interval, app_version=__version__,
                     stdin_fd=stdin_fd, max_sweeps=args.count)
    except KeyboardInterrupt:
        pass
    finally:
        opened.sampler.close()
        try:  # stdout may be a closed pipe: do not let the interpreter's final flush complain
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def host_specs(args: argparse.Namespace, settings):
    """The hosts asked for (``--hosts`` of the sub-command, then the global one, then settings)."""
    from ..core.hosts.ssh import parse_hosts

    raw = getattr(args, "sub_hosts", None) or getattr(args, "hosts", None)
    return parse_hosts(raw if raw else list(settings.hosts))


def cmd_snapshot_hosts(args: argparse.Namespace) -> int:
    from ..core.gpus.processes import current_user
    from ..core.hosts.cluster import collect, host_json, ssh_options, totals
    from ..core.hosts.ssh import HostSpecError
    from ..settings import load_settings, state_dir

    settings = load_settings()
    try:
        specs = host_specs(args, settings)
    except HostSpecError as e:
        return _fail(str(e), args.json)
    if not specs:
        return _fail("no hosts: pass --hosts gpu1,gpu2 or set [cluster] hosts", args.json)
    opts = ssh_options(settings, state_dir())
    states = collect(specs, opts, timeout=float(getattr(args, "timeout", None) or 20), me=current_user(),
                     free_rule=settings.free_rule())
    tot = totals(states)
    if args.json:
        json.dump({"hosts": [host_json(st) for st in states],
                   "totals": {"hosts": tot.hosts, "hosts_up": tot.hosts_up, "gpus": tot.gpus, "free": tot.free,
                              "users": dict(tot.users)}}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(hosts_text(states))
        print(tot.line())
    return EXIT_OK if all(st.snapshot is not None for st in states) else EXIT_BAD


def hosts_text(states) -> str:
    from ..core.hosts.cluster import gpu_holders

    lines = []
    width = max((len(st.host) for st in states), default=4)
    for st in states:
        if st.snapshot is None:
            lines.append(f"{st.host:<{width}}  {st.state.upper()}  {st.error or ''}".rstrip())
            continue
        snap = st.snapshot
        holders = gpu_holders(snap)
        cells = []
        for g in snap.gpus:
            mem = g.memory_fraction
            who = ",".join(holders.get(g.index, [])) or ("free" if g.index in snap.free else "-")
            util = "?" if g.utilization_pct is None else f"{g.utilization_pct}%"
            cells.append(f"{g.index}:{util}/{'?' if mem is None else f'{mem * 100:.0f}%'} {who}")
        flag = "" if st.state == "up" else f" [{st.state}: {st.error or ''}]"
        note = f" ({st.note})" if st.note else ""
        lines.append(f"{st.host:<{width}}  {len(snap.free)}/{len(snap.gpus)} free{flag}{note}")
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def tui_cluster(args: argparse.Namespace, settings):
    """The Cluster the TUI shows (not started), or None without hosts. ValueError: a bad host."""
    from ..core.gpus.processes import current_user
    from ..core.hosts.cluster import Cluster, ssh_options
    from ..settings import state_dir

    specs = host_specs(args, settings)
    if not specs:
        return None
    return Cluster(specs, ssh_options(settings, state_dir()), interval=settings.refresh_interval,
                   me=current_user(), free_rule=settings.free_rule())
