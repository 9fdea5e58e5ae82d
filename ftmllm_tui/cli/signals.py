"""``ftmllm-tui signal PID[@CREATE_TIME]... --sig int|term|kill``: what `k` in the process table does,
from the command line (and what another host's app runs when a remote process is signalled from the
home view of that host): the same guard (own processes only, never PID 1, kernel threads, the app or
its ancestors; a reused PID is refused), the same confirmation, the same audit line.
"""

from __future__ import annotations

import argparse
import json
import signal as signals
import sys

from .common import EXIT_BAD, EXIT_ENV, EXIT_OK, fail  # noqa: F401 (EXIT_* for callers)
SIGS = {"int": signals.SIGINT, "term": signals.SIGTERM, "kill": signals.SIGKILL}


def add_parsers(sub) -> None:
    sg = sub.add_parser(
        "signal", help="send SIGINT, SIGTERM or SIGKILL to processes, with the guard and audit of k",
        epilog="PID@CREATE_TIME names the process that was shown (create_time from `snapshot --json`); a PID\n"
               "that now belongs to another process is refused. Only your own processes (root: --allow-others).\n"
               "Exit 0 when every target was signalled, 1 when one was refused or could not be.\n\n"
               "examples:\n"
               "  ftmllm-tui signal 4242 --sig int\n"
               "  ftmllm-tui signal 4242@1796024130.28 4243@1796024130.31 --sig term --yes --json")
    sg.add_argument("pids", nargs="+", metavar="PID[@CREATE_TIME]", help="the processes")
    sg.add_argument("--sig", choices=sorted(SIGS), default="term", help="which signal (default term)")
    sg.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sg.add_argument("--allow-others", action="store_true", help="as root: also other users' processes")
    sg.add_argument("--json", action="store_true", help="the report as JSON")
    sg.add_argument("--dry-run", action="store_true",
                    help="only the plan: which processes would be signalled and which are refused")


def _fail(msg: str, as_json: bool) -> int:
    return fail(msg, EXIT_ENV, as_json)


def cmd_signal(args: argparse.Namespace) -> int:
    import psutil

    from ..core import fmt
    from ..core.gpus.proctree import describe
    from ..core.runs.kill import (
        SIG_NAMES,
        Audit,
        Plan,
        Refusal,
        make_plan,
        signal_processes,
    )
    from ..settings import state_dir

    if args.readonly:
        return _fail("read-only mode: signalling is disabled", args.json)
    wanted: list[tuple[int, float | None]] = []
    for item in args.pids:
        pid_s, _, ct_s = item.partition("@")
        try:
            wanted.append((int(pid_s), float(ct_s) if ct_s else None))
        except ValueError:
            return _fail(f"{item!r} is not PID or PID@CREATE_TIME", args.json)
    procs, refused, gone = [], [], []
    for pid, ctime in wanted:
        try:
            p = describe(psutil.Process(pid))
        except psutil.Error:
            p = None
        if p is None:
            gone.append(pid)
        elif ctime is not None and abs(p.create_time - ctime) > 1e-2:
            refused.append(Refusal(p, "PID reused: not the process that was shown"))
        else:
            procs.append(p)
    plan = make_plan(procs, allow_others=args.allow_others)
    plan = Plan(plan.targets, plan.refused + tuple(refused))
    sig = SIGS[args.sig]
    if args.dry_run:
        from dataclasses import asdict

        if args.json:
            print(json.dumps({"targets": [{**asdict(t.proc), "role": t.role} for t in plan.targets],
                              "refused": [{**asdict(r.proc), "reason": r.reason} for r in plan.refused],
                              "gone": [p for p in gone]}, indent=2))
        else:
            for t in plan.targets:
                print(f"would signal {t.proc.pid} ({t.proc.user}) {fmt.short_command(t.proc.cmdline)}")
            for r in plan.refused:
                print(f"refused {r.proc.pid} ({r.proc.user}): {r.reason}")
        return EXIT_OK
    if not args.yes and plan.targets:
        for t in plan.targets:
            print(f"  {t.proc.user:<10} {t.proc.pid:>8}  {fmt.short_command(t.proc.cmdline)}")
        if not sys.stdin.isatty():
            return _fail("confirmation needed: pass --yes (the targets are listed above)", args.json)
        if input(f"Send {SIG_NAMES[sig]} to {len(plan.targets)} process(es)? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing sent")
            return EXIT_BAD
    report = signal_processes(plan, sig, audit=Audit(state_dir() / "audit.jsonl"))
    ok = all(o.result in ("signalled", "already gone") for o in report.outcomes) and not report.refused
    if args.json:
        print(json.dumps({"signal": SIG_NAMES[sig], "outcomes": report.as_dicts(),
                          "refused": [{"pid": p, "command": c, "reason": r} for p, c, r in report.refused],
                          "gone": gone}, indent=2))
    else:
        for o in report.outcomes:
            print(f"{o.pid:>8} {o.user:<10} {o.result:<14} {o.last_signal or ''}")
        for p, c, r in report.refused:
            print(f"{p:>8} refused: {r} ({c[:60]})")
        for p in gone:
            print(f"{p:>8} already gone")
    return EXIT_OK if ok else EXIT_BAD
