"""Sub-commands for runs: launch, runs, stop (the scriptable contract, used by tests and scripts)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..context import RunContext
from ..core import fmt

from .common import EXIT_BAD, EXIT_ENV, EXIT_OK  # noqa: F401 (EXIT_* for callers)
from .common import fail as _fail


def add_parsers(sub) -> None:
    la = sub.add_parser(
        "launch", help="start a llamafactory-cli run in its own tmux session",
        epilog="The run id is the last line printed. Exit 1: a pre-flight check failed on the request; 2: this\n"
               "machine lacks something (tmux, llamafactory-cli, free GPUs for --gpus auto).\n\n"
               "examples:\n"
               "  ftmllm-tui launch configs/qwen2.5vl_lora_sft.yaml --gpus auto:2\n"
               "  ftmllm-tui launch sft.yaml --gpus 0,1 --set learning_rate=2.0e-5 --set output_dir=saves/try2\n"
               "  ftmllm-tui launch chat.yaml --kind webchat --gpus 3\n"
               "  ftmllm-tui launch sft.yaml --dry-run        (the command and the checks, nothing started)")
    la.add_argument("config", nargs="?", help="LLaMA-Factory YAML (not needed for webui)")
    la.add_argument("--kind", default="train",
                    choices=["train", "chat", "webchat", "webui", "export", "eval", "api", "swanlab"],
                    help="llamafactory-cli sub-command, or swanlab: serve the config's local SwanLab "
                         "logs (swanlab watch) on a free port")
    la.add_argument("--gpus", default="auto",
                    help="auto (the freest GPU), auto:N (the N freest), none (CPU), or indices like 0,1 "
                         "(default auto)")
    la.add_argument("--name", help="a name for the run (default: the config's file name)")
    la.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment (repeat)")
    la.add_argument("--allow-busy", action="store_true", help="start even on GPUs other users are on")
    la.add_argument("--no-stop-and-save", action="store_true",
                    help="do not set LLAMABOARD_ENABLED (no 'stop and save' for this run)")
    la.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                    help="one-off change to the run's copy of the config, file untouched (repeat)")
    la.add_argument("--reuse-output-dir", action="store_true",
                    help="write into an output_dir that another recorded run used (an error otherwise)")
    la.add_argument("--no-validate", action="store_true",
                    help="skip the offline check of the config against LLaMA-Factory's arguments")
    la.add_argument("--dry-run", action="store_true", help="show the command and the checks, start nothing")
    from . import slurm as cli_slurm

    cli_slurm.add_launch_options(la)

    ru = sub.add_parser(
        "runs", help="list runs (recorded and external)",
        epilog="STATE ends in ! when a run is stalled (its trainer_log has not grown for runs.stall_minutes)\n"
               "and in * when it is orphaned (its tmux session is gone, processes are left).\n\n"
               "examples:\n"
               "  ftmllm-tui runs\n"
               "  ftmllm-tui runs --json | jq -r '.[] | select(.state == \"running\") | .id'")
    ru.add_argument("--json", action="store_true",
                    help="JSON: a list of runs (id, name, kind, state, gpus, pids, progress, ...)")

    st = sub.add_parser(
        "stop", help="stop a run: SIGINT to its launcher, then SIGTERM, then SIGKILL",
        epilog="Every live process of the run is listed first and must be confirmed (--yes in scripts).\n"
               "Exit 0 when every process is gone, 1 otherwise.\n\n"
               "examples:\n"
               "  ftmllm-tui stop 20261130-104159-gpu-proof\n"
               "  ftmllm-tui stop gpu-proof --save --yes     (train runs: save the model first)")
    st.add_argument("run", help="run id, unique id prefix, or name")
    st.add_argument("--force", action="store_true", help="straight to SIGKILL (still verified)")
    st.add_argument("--save", action="store_true",
                    help="stop and save: SIGABRT to the workers first (train runs launched by the app)")
    st.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    st.add_argument("--allow-others", action="store_true",
                    help="as root: also stop other users' processes of this run")
    cli_slurm.add_stop_options(st)


def _context(args: argparse.Namespace) -> RunContext:
    from ..settings import load_settings

    settings = load_settings()
    for w in settings.warnings:
        print(f"ftmllm-tui: {w}", file=sys.stderr)
    return RunContext.create(settings, tmux_socket=args.tmux_socket,
                             llamafactory_cli=args.llamafactory_cli, readonly=args.readonly)


def cmd_launch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..core.runs.launch import LF_COMMANDS, LaunchError, LaunchRequest, prepare, start
    from ..core.runs.tmux import TmuxError, tmux_missing

    if args.readonly:
        return _fail("read-only mode: launching is disabled")
    ctx = _context(args)
    env = []
    for item in args.env:
        if "=" not in item or item.startswith("="):
            return _fail(f"--env {item!r}: write KEY=VALUE")
        k, v = item.split("=", 1)
        env.append((k, v))
    overrides = []
    for item in args.overrides:
        if "=" not in item or item.startswith("="):
            return _fail(f"--set {item!r}: write KEY=VALUE")
        k, v = item.split("=", 1)
        overrides.append((k.strip(), v))
    snapshot = None
    if args.gpus.strip().lower().startswith("auto") or args.gpus.strip()[:1].isdigit():
        from ..core.gpus.nvml import NvmlUnavailable
        from ..core.gpus.samplers import open_sampler

        try:
            s = open_sampler(fallback=False, proc_util_every_s=60).sampler
            s.free_rule = ctx.settings.free_rule()
            snapshot = s.sample()
            s.close()
        except NvmlUnavailable:
            snapshot = None
    req = LaunchRequest(config=Path(args.config) if args.config else None, kind=args.kind,
                        gpus=args.gpus, name=args.name, env=tuple(env), cwd=Path.cwd(),
                        allow_busy=args.allow_busy, stop_and_save=not args.no_stop_and_save,
                        overrides=tuple(overrides), reuse_output_dir=args.reuse_output_dir)
    if getattr(args, "slurm", False):  # submitted with sbatch (cli/slurm.py)
        from .slurm import cmd_launch_slurm

        return cmd_launch_slurm(args, ctx, req)
    check = ctx.settings.check_on_launch and not args.no_validate and args.kind in LF_COMMANDS
    schema = ctx.lf_schema()[0] if check else None
    prep = prepare(req, llamafactory_cli=ctx.llamafactory_cli, settings_env=ctx.settings.env,
                   pass_env=ctx.settings.pass_env, snapshot=snapshot,
                   free_rule=ctx.settings.free_rule(), schema=schema, registry=ctx.registry)
    print(f"command: {prep.command_line().replace('{config}', '<frozen copy of the config>')}")
    if prep.secret_env:
        print(f"passed from your environment (not written anywhere): {', '.join(prep.secret_env)}")
    if prep.url:
        print(f"url: {prep.url}   reach it with: {prep.ssh_hint}")
    if prep.estimate is not None:  # the memory estimate (ftmllm-tui estimate has the parts)
        print(f"memory: {prep.estimate if isinstance(prep.estimate, str) else prep.estimate.summary()}")
    for p in prep.problems:
        print(f"{p.level}: {p}", file=sys.stderr)
    if not prep.ok:
        errors = [p for p in prep.problems if p.level == "error"]
        return EXIT_ENV if all(p.where == "env" for p in errors) else EXIT_BAD
    if args.dry_run:
        print("dry run: nothing started")
        return EXIT_OK
    missing = tmux_missing()
    if missing:
        return _fail(missing)
    try:
        rec = start(prep, ctx.registry, ctx.tmux)
    except (LaunchError, TmuxError) as e:
        return _fail(str(e))
    print(f"started in tmux session {rec.tmux_session}"
          + (f" (socket {rec.tmux_socket})" if rec.tmux_socket else ""))
    print(f"attach: {' '.join(ctx.tmux.attach_argv(rec.tmux_session))}")
    print(rec.id)
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from ..core.runs.runctl import collect, external_runs, run_duration

    ctx = _context(args)
    from ..core.slurm.runs import queue_jobs

    views, problems = collect(ctx.registry, ctx.tmux, stall_minutes=ctx.settings.stall_minutes,
                              slurm_queue=lambda ids: queue_jobs(ids, min_interval=ctx.settings.refresh_s))
    views += external_runs({v.status.record.id for v in views})
    for p in problems:
        print(f"ftmllm-tui: {p}", file=sys.stderr)
    if args.json:
        out = []
        for v in views:
            r, s = v.status.record, v.status
            out.append({
                "id": r.id, "name": r.name, "kind": r.kind, "state": s.state, "exit_code": s.exit_code,
                "gpus": list(r.gpus) if r.gpus is not None else None, "user": r.user,
                "created_at": r.created_at, "config": r.config, "output_dir": r.output_dir,
                "tmux_session": r.tmux_session or None, "pids": list(s.pids), "orphaned": s.orphaned,
                "external": r.external, "stalled": v.stalled, "url": r.url,
                "reason": None if v.reason is None else v.reason.as_dict(),
                "slurm_job": r.slurm_job or None,
                "slurm": None if v.slurm_job is None else {
                    "state": v.slurm_job.state, "reason": v.slurm_job.reason or None,
                    "nodelist": v.slurm_job.nodelist or None, "gpus": v.slurm_job.gpus},
                "progress": None if v.progress is None else {
                    "step": v.progress.step, "total": v.progress.total,
                    "percentage": v.progress.percentage, "loss": v.progress.loss,
                    "eval_loss": v.progress.eval_loss,
                    "remaining": v.progress.remaining if s.state in ("running", "starting") else None,
                    **({} if v.progress.bytes_total is None else {  # downloads: step/total are files
                        "bytes_done": v.progress.bytes_done, "bytes_total": v.progress.bytes_total,
                        "rate_bps": v.progress.rate})},
            })
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    if not views:
        print("no runs yet (ftmllm-tui launch CONFIG)")
        return EXIT_OK
    now = time.time()
    rows = []
    for v in views:
        r, s = v.status.record, v.status
        prog = v.progress
        pct = f"{prog.percentage:.0f}%" if prog and prog.percentage is not None else "-"
        loss = f"{prog.loss:.4f}" if prog and prog.loss is not None else "-"
        gpus = "cpu" if r.gpus is None else ",".join(map(str, r.gpus))
        if r.slurm_job:  # Slurm runs: the job id (GPUs are Slurm's choice)
            gpus = f"job {r.slurm_job}"
        state = s.state + ("!" if v.stalled else "") + ("*" if s.orphaned else "")
        rows.append((v, (r.id[:34], r.kind, state, gpus, pct, loss, fmt.duration(run_duration(v, now)))))
    heads = ("ID", "KIND", "STATE", "GPUS", "PROGRESS", "LOSS", "TIME")
    # every column as wide as its widest cell (KIND fits "download", GPUS "job 123456"); the old fixed
    # widths are the minimum, so that the usual table looks as it did
    minimum = (34, 7, 9, 6, 9, 8, 8)
    widths = [max(m, len(h), *(len(c[i]) for _, c in rows)) for i, (h, m) in enumerate(zip(heads, minimum))]
    right = (False, False, False, False, True, True, True)

    def line(cells) -> str:
        return " ".join(f"{c:>{w}}" if r else f"{c:<{w}}" for c, w, r in zip(cells, widths, right))

    print(f"{line(heads)}  USER")
    for v, cells in rows:
        print(f"{line(cells)}  {v.status.record.user}")
        if v.reason is not None:  # why it failed (core/runs/reasons.py)
            print(f"{'':34}   ↳ {v.reason.summary}" + (f" (console.log line {v.reason.line})"
                                                          if v.reason.line else ""))
    if any(v.stalled for v in views) or any(v.status.orphaned for v in views):
        print("! stalled: trainer_log has not grown lately   * orphaned: the tmux session is gone")
    return EXIT_OK


def cmd_stop(args: argparse.Namespace) -> int:
    from ..core.runs.runctl import execute_stop, plan_run_stop

    if args.readonly:
        return _fail("read-only mode: stopping is disabled")
    if getattr(args, "save_only", False):  # inside a Slurm job, through srun (cli/slurm.py)
        from .slurm import cmd_save_only

        return cmd_save_only(args)
    ctx = _context(args)
    try:
        run = ctx.registry.find(args.run)
    except KeyError as e:
        return _fail(str(e).strip("'\""))
    if run.slurm_job:  # a Slurm run: scancel (cli/slurm.py)
        from .slurm import cmd_stop_slurm

        return cmd_stop_slurm(args, ctx, run)
    plan = plan_run_stop(ctx.registry, run, allow_others=args.allow_others)
    for r in plan.refused:
        print(f"refused: pid {r.proc.pid} ({r.proc.user}) {fmt.short_command(r.proc.cmdline)}: {r.reason}",
              file=sys.stderr)
    if plan.empty:
        print(f"{run.id}: no live process{' left' if not plan.refused else ' you may stop'}")
        ctx.tmux.kill_session(run.tmux_session) if run.tmux_session else None
        return EXIT_OK if not plan.refused else EXIT_BAD
    sequence = "SIGKILL" if args.force else "SIGINT → SIGTERM → SIGKILL"
    if args.save:
        sequence = f"SIGABRT to the workers: save, then {sequence} to what is left"
    print(f"stop run {run.id} ({sequence}):")
    for t in plan.targets:
        print(f"  {t.proc.pid:>8} {t.proc.user:<10} {t.role:<8} {fmt.short_command(t.proc.cmdline)[:90]}")
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail("not a terminal: add --yes to confirm", EXIT_ENV)
        answer = input(f"Stop these {len(plan.targets)} processes? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("cancelled")
            return EXIT_BAD
    report = execute_stop(ctx.registry, ctx.tmux, run, plan, audit=ctx.audit,
                          grace_int=ctx.settings.stop_grace_s, grace_term=ctx.settings.term_grace_s,
                          force=args.force, save_first=args.save,
                          save_timeout=ctx.settings.stop_and_save_timeout_s,
                          progress=lambda m: print(f"  … {m}", flush=True))
    for o in report.outcomes:
        gone = f" after {o.gone_after_s:.2f} s" if o.gone_after_s is not None else ""
        print(f"  {o.pid:>8} {o.result}{gone}" + (f" ({o.last_signal})" if o.last_signal else ""))
    print(report.summary())
    if report.save is not None and report.save.get("saved"):
        print(f"saved adapter: {report.save['dir']}  (chat or export with it: adapter_name_or_path)")
    print(f"{'all gone' if report.all_gone else 'NOT all gone'} in {report.took_s:.2f} s")
    return EXIT_OK if report.all_gone else EXIT_BAD
