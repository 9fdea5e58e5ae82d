"""Sub-commands for several hosts: ``stream`` (what the other hosts run) and ``snapshot --hosts``.

Nothing here imports Textual: ``stream`` runs on every remote host and must cost what the sampler
costs, no more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .common import EXIT_BAD, EXIT_ENV, EXIT_OK, fail  # noqa: F401 (EXIT_* for callers)


def _fail(msg: str, as_json: bool = False) -> int:
    return fail(msg, EXIT_ENV, as_json)


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
    at = sub.add_parser(
        "attach", help="attach this terminal to a run's tmux session (detach: ctrl-b d)",
        epilog="examples:\n"
               "  ftmllm-tui attach gpu-proof\n"
               "  ftmllm-tui attach gpu3:20261130-104159-sft     (over SSH: the app there attaches)")
    at.add_argument("run", help="run id, unique id prefix, or name; HOST:RUN for another host")
    rc = sub.add_parser("receive", help="store stdin as a file in the state dir (uploads/); print its path",
                        epilog="What `launch --host H --copy-config CONFIG` runs on H.\n\n"
                               "examples:\n  ssh gpu3 ftmllm-tui receive sft.yaml < sft.yaml")
    rc.add_argument("name", help="the file's name (made safe; a date is put before it)")
    # other hosts for the run commands (their parsers are made in cli/runs.py and cli/follow.py)
    if "runs" in sub.choices:
        add_hosts_option(sub.choices["runs"])
    for name in ("stop", "logs", "plot"):
        if name in sub.choices:
            sub.choices[name].epilog = (sub.choices[name].epilog or "") + (
                f"\n\nHOST:RUN: a run on another host; the app there does it, over your SSH "
                f"(e.g. ftmllm-tui {name} gpu3:20261130-104159-sft).")
    if "launch" in sub.choices:
        la = sub.choices["launch"]
        la.add_argument("--host", metavar="HOST|auto",
                        help="launch on that host over SSH (CONFIG is a path there; auto: the host with the "
                             "most free GPUs of --hosts / [cluster] hosts); the remote command is printed")
        add_hosts_option(la)
        la.add_argument("--copy-config", action="store_true",
                        help="with --host: CONFIG is a file here; copy it to the state dir of that host first "
                             "(uploads/, over the same master) and launch that copy")


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


def local_opener(args: argparse.Namespace, settings):
    """Opens this machine's sampler for the host ``local`` (live NVML, or --replay FILE)."""
    def open_local():
        from ..core.gpus.samplers import open_sampler

        replay = getattr(args, "sub_replay", None) or getattr(args, "replay", None)
        sampler = open_sampler(replay, fallback=False, proc_util_every_s=settings.process_util_interval).sampler
        sampler.free_rule = settings.free_rule()
        return sampler

    return open_local


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
                     free_rule=settings.free_rule(), open_local=local_opener(args, settings))
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
    if not (getattr(args, "sub_hosts", None) or getattr(args, "hosts", None) or settings.hosts):
        return None  # this host only: the SSH and cluster modules are not loaded
    from ..core.gpus.processes import current_user
    from ..core.hosts.cluster import Cluster, ssh_options
    from ..settings import state_dir

    specs = host_specs(args, settings)
    if not specs:
        return None
    return Cluster(specs, ssh_options(settings, state_dir()), interval=settings.refresh_interval,
                   me=current_user(), free_rule=settings.free_rule(), open_local=local_opener(args, settings))


# -- runs on other hosts: the remote app does the work, over the host's master -----------------------
def _remote_ref(ref: str | None):
    """(HostSpec, run) for ``HOST:RUN`` (not an existing local path), else None."""
    from pathlib import Path

    from ..core.hosts.ssh import HostSpecError, parse_host, split_ref

    if not ref or Path(ref).exists():
        return None
    host, run = split_ref(ref)
    if host is None or not run:
        return None
    try:
        return parse_host(host), run
    except HostSpecError:
        return None


def _strip_host_option(raw: list[str]) -> list[str]:
    out, skip = [], False
    for a in raw:
        if skip:
            skip = False
            continue
        if a == "--host":
            skip = True
            continue
        if a.startswith("--host="):
            continue
        out.append(a)
    return out


def remote_args(args: argparse.Namespace, run: str) -> list[str]:
    """The sub-command line for the remote app (every value quoted later, one by one)."""
    if args.command == "stop":
        return ["stop", run] + [f for f, on in (("--force", args.force), ("--save", args.save),
                                                ("--yes", args.yes), ("--allow-others", args.allow_others)) if on]
    if args.command == "logs":
        return ["logs", run, "-n", str(args.lines)] + (["-f"] if args.follow else [])
    if args.command == "attach":
        return ["attach", run]
    if args.command == "plot":
        import shutil

        width = args.width or (shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100)
        out = ["plot", run, "--width", str(width)]
        for flag, value in (("--metric", args.metric), ("--height", args.height), ("--last", args.last)):
            if value is not None:
                out += [flag, str(value)]
        if args.smooth:
            out += ["--smooth", str(args.smooth)]
        if args.log:
            out.append("--log")
        return out
    raise ValueError(args.command)


def _run_remote(settings, spec, remote: list[str], *, tty: bool, show: bool = False) -> int:
    """Run ``remote_command REMOTE`` on the host with this terminal (stdin/stdout/stderr passed
    through); ssh's own failures become one line and exit 2."""
    import subprocess
    import tempfile

    from ..core.hosts.cluster import ssh_options
    from ..core.hosts.ssh import classify, ssh_argv
    from ..settings import state_dir

    opts = ssh_options(settings, state_dir())
    line = opts.remote(spec, remote)
    if show:
        print(f"on {spec.name}: {line}", file=sys.stderr)
    argv = ssh_argv(opts, spec, line, tty=tty)
    with tempfile.TemporaryFile() as err:
        try:
            rc = subprocess.call(argv, stderr=err)
        except KeyboardInterrupt:
            return 130
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if rc == 255 or (rc == 127 and "not found" in text):
        _kind, msg = classify(rc, text, spec)
        print(f"ftmllm-tui: {msg}", file=sys.stderr)
        return EXIT_ENV
    sys.stderr.write(text)
    return rc


def remote_dispatch(args: argparse.Namespace, argv: list[str] | None) -> int | None:
    """Sub-commands aimed at another host (``stop HOST:RUN``, ``logs HOST:RUN``, ``plot HOST:RUN``,
    ``runs --hosts``, ``launch --host H``): the exit code, or None when the command is local."""
    from ..settings import load_settings

    cmd = args.command
    if cmd == "runs" and (getattr(args, "sub_hosts", None) or getattr(args, "hosts", None)):
        return cmd_runs_hosts(args)
    if cmd == "launch" and getattr(args, "host", None):
        return cmd_launch_remote(args, argv)
    ref = {"stop": getattr(args, "run", None), "attach": getattr(args, "run", None),
           "logs": getattr(args, "ref", None)}.get(cmd)
    if cmd == "plot" and len(args.refs) == 1:
        ref = args.refs[0]
    target = _remote_ref(ref) if cmd in ("stop", "logs", "plot", "attach") else None
    if target is None:
        return None
    spec, run = target
    from ..core.hosts.local import LOCAL_NAMES

    if spec.name in LOCAL_NAMES:  # local:RUN is this machine's RUN
        if cmd == "plot":
            args.refs = [run]
        else:
            setattr(args, "ref" if cmd == "logs" else "run", run)
        return None
    if cmd == "stop" and args.readonly:
        return _fail("read-only mode: stopping is disabled")
    settings = load_settings()
    tty = sys.stdin.isatty() and sys.stdout.isatty() and not (cmd == "stop" and args.yes)
    if cmd == "attach" and not tty:
        return _fail("attach needs a terminal")
    return _run_remote(settings, spec, remote_args(args, run), tty=tty)


def cmd_runs_hosts(args: argparse.Namespace) -> int:
    """``runs --hosts a,b``: ``ftmllm-tui runs --json`` on each host at once; a HOST column."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from ..core.hosts.cluster import ssh_options
    from ..core.hosts.ssh import HostSpecError, classify, ssh_argv
    from ..settings import load_settings, state_dir

    settings = load_settings()
    try:
        specs = host_specs(args, settings)
    except HostSpecError as e:
        return _fail(str(e), args.json)
    opts = ssh_options(settings, state_dir())

    def one(spec):
        from ..core.hosts.local import LOCAL_NAMES

        argv = ssh_argv(opts, spec, opts.remote(spec, ["runs", "--json"]))
        if spec.name in LOCAL_NAMES:  # this machine: the same command, no SSH
            argv = [sys.executable, "-m", "ftmllm_tui.cli", "runs", "--json"]
        try:
            p = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            return spec.name, None, f"{spec.name}: no answer within 30 s"
        if p.returncode != 0:
            return spec.name, None, classify(p.returncode, p.stderr.decode("utf-8", "replace"), spec)[1]
        try:
            from ..core.hosts.runs import _json_start

            text = p.stdout.decode("utf-8", "replace")
            runs = json.loads(text[_json_start(text):])
        except json.JSONDecodeError:
            return spec.name, None, f"{spec.name}: `runs --json` did not print JSON (an older ftmllm-tui?)"
        return spec.name, runs, None

    with ThreadPoolExecutor(max_workers=min(16, max(1, len(specs)))) as pool:
        results = list(pool.map(one, specs))
    runs, errors = [], []
    for host, got, err in results:
        if err:
            errors.append({"host": host, "error": err})
        for r in got or []:
            runs.append({"host": host, **r})
    if args.json:
        json.dump({"runs": runs, "errors": errors}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        width = max([4] + [len(r["host"]) for r in runs])
        print(f"{'HOST':<{width}} {'ID':<34} {'KIND':<7} {'STATE':<9} {'GPUS':<6} {'PROGRESS':>9}  USER")
        for r in runs:
            prog = r.get("progress") or {}
            pct = f"{prog['percentage']:.0f}%" if prog.get("percentage") is not None else "-"
            gpus = "cpu" if r.get("gpus") is None else ",".join(map(str, r["gpus"]))
            print(f"{r['host']:<{width}} {r['id'][:34]:<34} {r['kind']:<7} {r['state']:<9} {gpus:<6} {pct:>9}  "
                  f"{r.get('user') or ''}")
        for e in errors:
            print(f"ftmllm-tui: {e['error']}", file=sys.stderr)
    return EXIT_BAD if errors else EXIT_OK


def cmd_launch_remote(args: argparse.Namespace, argv: list[str] | None) -> int:
    """``launch --host H|auto ...``: the same launch on that host (CONFIG is a path there); the
    exact remote command is printed first."""
    from ..core.gpus.processes import current_user
    from ..core.hosts.cluster import collect, ssh_options
    from ..core.hosts.ssh import HostSpecError, parse_host, parse_hosts
    from ..settings import load_settings, state_dir

    if args.readonly:
        return _fail("read-only mode: launching is disabled")
    settings = load_settings()
    raw = list(argv if argv is not None else sys.argv[1:])
    i = raw.index("launch") if "launch" in raw else 0
    remote = _strip_host_option(raw[i:])
    if args.host == "auto":
        try:
            specs = host_specs(args, settings)
        except HostSpecError as e:
            return _fail(str(e))
        if not specs:
            return _fail("--host auto needs hosts: --hosts gpu1,gpu2 or [cluster] hosts")
        want = 1
        if args.gpus.startswith("auto:") and args.gpus[5:].isdigit():
            want = int(args.gpus[5:])
        states = collect(specs, ssh_options(settings, state_dir()), timeout=20, me=current_user(),
                         free_rule=settings.free_rule())
        fits = [st for st in states if st.snapshot is not None and len(st.snapshot.free) >= want]
        if not fits:
            return _fail(f"no host has {want} free GPU{'s' if want != 1 else ''} now")
        best = max(fits, key=lambda st: len(st.snapshot.free))
        spec = parse_hosts([best.host])[0]
        print(f"auto: {spec.name} ({len(best.snapshot.free)} free GPUs)", file=sys.stderr)
    else:
        try:
            spec = parse_host(args.host)
        except HostSpecError as e:
            return _fail(str(e))
    if getattr(args, "copy_config", False):
        if not args.config:
            return _fail("--copy-config needs CONFIG")
        copied = upload_config(settings, spec, args.config)
        if copied.startswith("error: "):
            return _fail(copied[len("error: "):])
        print(f"copied {args.config} to {spec.name}:{copied}", file=sys.stderr)
        remote = [copied if a == args.config else a for a in remote if a != "--copy-config"]
    return _run_remote(settings, spec, remote, tty=False, show=True)


def upload_config(settings, spec, path: str, *, opts=None) -> str:
    """Copy a local file to the host (``core.hosts.upload``); the SSH options from the settings unless given.
    Returns the remote path, or ``error: why``."""
    from ..core.hosts.cluster import ssh_options
    from ..core.hosts.upload import upload_file
    from ..settings import state_dir

    return upload_file(opts or ssh_options(settings, state_dir()), spec, path)


def cmd_receive(args: argparse.Namespace) -> int:
    """Store stdin as ``uploads/DATE-NAME`` in the state dir; print its path (for launch --copy-config)."""
    import time

    from ..settings import state_dir

    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in args.name).lstrip(".") or "config.yaml"
    data = sys.stdin.buffer.read()
    if len(data) > 16 * 2**20:
        return _fail("refusing more than 16 MiB")
    folder = state_dir() / "uploads"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
        target.write_bytes(data)
    except OSError as e:
        return _fail(f"cannot write {folder}: {e.strerror}")
    print(target)
    return EXIT_OK


def cmd_attach(args: argparse.Namespace) -> int:
    """This terminal becomes a client of the run's tmux session (the process is replaced)."""
    from ..context import RunContext
    from ..settings import load_settings

    ctx = RunContext.create(load_settings(), tmux_socket=getattr(args, "tmux_socket", None))
    try:
        run = ctx.registry.find(args.run)
    except KeyError as e:
        return _fail(str(e).strip("'\""))
    if not run.tmux_session or not ctx.tmux.has_session(run.tmux_session):
        print(f"ftmllm-tui: the tmux session of {run.name} is gone: `ftmllm-tui logs {run.id}` shows its log",
              file=sys.stderr)
        return EXIT_BAD
    if not sys.stdin.isatty():
        return _fail("attach needs a terminal")
    argv = ctx.tmux.attach_argv(run.tmux_session)
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return EXIT_OK  # not reached
