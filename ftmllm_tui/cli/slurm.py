"""Slurm sub-commands: ``slurm`` (cluster and jobs), ``launch --slurm``, and the Slurm side of
``stop`` (``scancel``; ``--save-only`` is what stop-and-save runs on each node through srun)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from .common import EXIT_BAD, EXIT_ENV, EXIT_OK  # noqa: F401 (EXIT_* for callers)
from .common import fail as _fail


def add_parsers(sub) -> None:
    s = sub.add_parser(
        "slurm", help="a Slurm cluster: nodes with their GPUs, your jobs (--all: everybody's)",
        epilog="Reads Slurm through squeue -O / sinfo -O / scontrol -o (one round of calls); the job's RUN\n"
               "column is the ftmllm-tui run id of jobs launched with `launch --slurm`.\n"
               "Exit 2 when Slurm is missing, turned off ([slurm] enabled = false) or its controller does\n"
               "not answer.\n\n"
               "examples:\n"
               "  ftmllm-tui slurm\n"
               "  ftmllm-tui slurm --all\n"
               "  ftmllm-tui slurm --json | jq '.nodes[] | {name, gpus_free}'")
    s.add_argument("--json", action="store_true", help="JSON: nodes, partitions, jobs, finished jobs")
    s.add_argument("--all", action="store_true", help="everybody's jobs, not only yours")
    s.add_argument("--usage", metavar="JOB", help="GPU usage of a running job of yours, on each of its nodes "
                   "(srun --overlap: the app's snapshot there, else nvidia-smi)")


def add_launch_options(la) -> None:
    g = la.add_argument_group("Slurm (launch --slurm: submit the run as a batch job)")
    g.add_argument("--slurm", action="store_true",
                   help="submit with sbatch instead of starting in tmux (--dry-run prints the script)")
    g.add_argument("--partition", help="sbatch --partition (default: [slurm] partition, else the cluster's)")
    g.add_argument("--nodes", type=int, default=None, help="nodes (default 1; more: srun, one task per node)")
    g.add_argument("--gpus-per-node", type=int, default=None,
                   help="GPUs per node, --gres=gpu:N (default: [slurm] gpus_per_node, 1)")
    g.add_argument("--time", help="time limit, e.g. 2:00:00 or 1-00:00:00 (default: [slurm] time_limit)")


def add_stop_options(st) -> None:
    st.add_argument("--save-only", action="store_true",
                    help=argparse.SUPPRESS)  # run inside a Slurm job by stop --save: SIGABRT to trainers here
    st.add_argument("--save-timeout", type=float, default=None, help=argparse.SUPPRESS)


def _settings():
    from ..settings import load_settings

    settings = load_settings()
    for w in settings.warnings:
        print(f"ftmllm-tui: {w}", file=sys.stderr)
    return settings


# -- slurm ------------------------------------------------------------------------------------------

def cluster_json(state, finished, note) -> dict:
    def node(n):
        return {"name": n.name, "state": n.state, "partitions": list(n.partitions), "gpu_type": n.gpu_type,
                "gpus_total": n.gpus_total, "gpus_alloc": n.gpus_alloc, "gpus_free": n.gpus_free,
                "cpus_total": n.cpus_total, "cpus_alloc": n.cpus_alloc, "reason": n.reason or None}

    def job(j):
        return {"id": j.id, "name": j.name, "user": j.user, "state": j.state, "reason": j.reason or None,
                "partition": j.partition, "nodes": j.nodes, "nodelist": j.nodelist or None, "gpus": j.gpus,
                "elapsed": j.elapsed, "time_limit": j.time_limit, "account": j.account or None,
                "qos": j.qos or None, "run_id": j.run_id}

    return {"version": state.version, "user": state.user, "took_s": round(state.took_s, 4),
            "gpus": {"total": state.gpus_total, "allocated": state.gpus_alloc, "free": state.gpus_free},
            "partitions": [{"name": p.name, "available": p.available, "time_limit": p.time_limit,
                            "nodes": p.nodes, "default": p.default} for p in state.partitions],
            "nodes": [node(n) for n in state.nodes], "holders": state.holders(),
            "jobs": [job(j) for j in state.jobs],
            "finished": [vars(f) for f in finished], "accounting_note": note,
            "problems": list(state.problems)}


def cmd_slurm(args: argparse.Namespace) -> int:
    from ..core.slurm.query import SlurmError, detect, finished_jobs, read_cluster

    settings = _settings()
    on, why = detect(settings.enabled)
    if not on:
        return _fail(f"Slurm mode is off: {why}", EXIT_ENV, args.json)
    if args.usage:
        return cmd_usage(args)
    try:
        state = read_cluster()
    except SlurmError as e:
        return _fail(str(e), EXIT_ENV, args.json)
    try:
        finished, note = finished_jobs(user=None if args.all else state.user)
    except SlurmError as e:
        finished, note = [], f"sacct: {e}"
    if args.json:
        data = cluster_json(state, finished, note)
        if not args.all:
            data["jobs"] = [j for j in data["jobs"] if j["user"] == state.user]
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    out = [f"Slurm {state.version} · {len(state.nodes)} node{'s' if len(state.nodes) != 1 else ''} · "
           f"{state.gpus_total} GPUs: {state.gpus_alloc} allocated, {state.gpus_free} free · "
           f"read in {state.took_s * 1000:.0f} ms"]
    if state.partitions:
        out.append(f"{'PARTITION':<14} {'AVAIL':<6} {'TIMELIMIT':<12} NODES")
        for p in state.partitions:
            out.append(f"{(p.name + ('*' if p.default else '')):<14} {p.available:<6} {p.time_limit:<12} {p.nodes}")
        out.append("")
    out.append(f"{'NODE':<16} {'STATE':<12} {'GPUS':<10} {'ALLOC':>5} {'FREE':>5} {'CPUS':>8}  "
               f"{'PARTITIONS':<12} REASON")
    for n in state.nodes:
        gpus = f"{n.gpus_total} {n.gpu_type}".strip()
        out.append(f"{n.name:<16} {n.state:<12} {gpus:<10} {n.gpus_alloc:>5} {n.gpus_free:>5} "
                   f"{f'{n.cpus_alloc}/{n.cpus_total}':>8}  {','.join(n.partitions):<12} {n.reason}")
    holders = state.holders()
    if holders:
        out.append("GPUs held: " + ", ".join(f"{u} {g}" for u, g in holders.items()))
    out.append("")
    jobs = state.jobs_for(None if args.all else state.user)
    who = "all jobs" if args.all else f"jobs of {state.user}"
    if not jobs:
        out.append(f"no {who} in the queue" + ("" if args.all else " (--all: everybody's)"))
    else:
        out.append(f"{who}:")
        out.append(f"{'JOBID':<10} {'NAME':<20} {'USER':<10} {'STATE':<10} {'REASON':<14} {'PART':<8} "
                   f"{'NODES':>5} {'GPUS':>4} {'ELAPSED/LIMIT':<20} RUN")
        for j in jobs:
            out.append(f"{j.id:<10} {j.name[:20]:<20} "
                       f"{j.user[:10]:<10} {j.state[:10]:<10} {(j.reason or '-')[:14]:<14} {j.partition[:8]:<8} "
                       f"{j.nodes:>5} {j.gpus:>4} {(j.elapsed + '/' + j.time_limit)[:20]:<20} {j.run_id or ''}")
    if note:
        out.append("")
        out.append(f"finished jobs: {note}")
    elif finished:
        out.append("")
        out.append("finished (sacct, last day):")
        for f in finished[-20:]:
            out.append(f"{f.id:<10} {f.name[:20]:<20} {f.user[:10]:<10} {f.state[:12]:<12} exit {f.exit_code:<6} "
                       f"{f.elapsed}")
    for p in state.problems:
        print(f"ftmllm-tui: {p}", file=sys.stderr)
    print("\n".join(out))
    return EXIT_OK


def cmd_usage(args: argparse.Namespace) -> int:
    from ..core.slurm.query import SlurmError
    from ..core.slurm.stop import job_now
    from ..core.slurm.usage import job_gpu_usage

    try:
        job = job_now(args.usage)
        if job is None or job.state != "RUNNING":
            return _fail(f"job {args.usage} is not running" + (f" ({job.state.lower()})" if job else ""),
                         EXIT_BAD, args.json)
        nodes = job_gpu_usage(job.id, job.nodes, run_id=job.run_id)
    except SlurmError as e:
        return _fail(str(e), EXIT_ENV, args.json)
    if args.json:
        json.dump([{"node": n.node, "source": n.source, "error": n.error or None,
                    "gpus": [vars(g) for g in n.gpus], "processes": list(n.processes)} for n in nodes],
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for n in nodes:
        print(usage_text(n))
    return EXIT_OK


def usage_text(n) -> str:
    lines = [f"{n.node}: " + (n.error if n.error else f"{len(n.gpus)} GPU(s) ({n.source})")]
    for g in n.gpus:
        mem = (f"{g.mem_used_mib / 1024:.1f}/{g.mem_total_mib / 1024:.0f}G"
               if g.mem_used_mib is not None and g.mem_total_mib else "-")
        util = "-" if g.util_pct is None else f"{g.util_pct:.0f}%"
        lines.append(f"  GPU {g.index} {g.name:<14} util {util:>4}  mem {mem}")
    for p in n.processes:
        lines.append(f"  pid {p.get('pid')} GPU {p.get('gpu')} {p.get('user')} "
                     f"{(p.get('gpu_memory_bytes') or 0) / 2**30:.1f}G {str(p.get('command'))[:60]}")
    return "\n".join(lines)


# -- launch --slurm ---------------------------------------------------------------------------------

def spec_from(args: argparse.Namespace, settings):
    from ..core.slurm.submit import SlurmSpec

    return SlurmSpec(partition=args.partition or settings.partition, nodes=args.nodes or 1,
                     gpus_per_node=settings.gpus_per_node if args.gpus_per_node is None else args.gpus_per_node,
                     cpus_per_task=settings.cpus_per_task, mem=settings.mem,
                     time=args.time or settings.time_limit, account=settings.account, qos=settings.qos)


def cmd_launch_slurm(args: argparse.Namespace, ctx, req) -> int:
    """``launch CONFIG --slurm``: pre-flight (the launcher's checks, then sbatch --test-only), the
    script (printed with --dry-run), sbatch. The run id is the last line printed."""
    from dataclasses import replace

    from ..core.runs.launch import LF_COMMANDS, prepare
    from ..core.slurm.query import SlurmError, detect
    from ..core.slurm.submit import build_script, submit, test_only

    settings = ctx.settings
    on, why = detect(settings.enabled)
    if not on and not args.dry_run:
        return _fail(f"Slurm mode is off: {why}")
    spec = spec_from(args, settings)
    bad = spec.check()
    if bad:
        return _fail("; ".join(bad))
    req = replace(req, gpus="none")  # Slurm allocates the GPUs
    check = settings.check_on_launch and not args.no_validate and args.kind in LF_COMMANDS
    schema = ctx.lf_schema()[0] if check else None
    prep = prepare(req, llamafactory_cli=ctx.llamafactory_cli, settings_env=settings.env,
                   pass_env=settings.pass_env, schema=schema, registry=ctx.registry)
    script = build_script(prep, spec, ctx.registry.dir(prep.run_id))
    for p in prep.problems:
        print(f"{p.level}: {p}", file=sys.stderr)
    if prep.secret_env:
        print(f"passed from your environment (a 0600 file the job deletes as it starts): "
              f"{', '.join(prep.secret_env)}")
    if args.dry_run:
        print(script, end="")
    if not prep.ok:
        errors = [p for p in prep.problems if p.level == "error"]
        return EXIT_ENV if all(p.where == "env" for p in errors) else EXIT_BAD
    if on:
        try:
            print(f"sbatch --test-only: {test_only(script)}")
        except SlurmError as e:
            print(f"error: Slurm would not accept this job: {e}", file=sys.stderr)
            return EXIT_ENV if "controller" in str(e) else EXIT_BAD
    if args.dry_run:
        print("dry run: nothing submitted")
        return EXIT_OK
    try:
        rec = submit(prep, spec, ctx.registry, script=script)
    except SlurmError as e:
        print(f"error: sbatch refused the job: {e}", file=sys.stderr)
        return EXIT_ENV if "controller" in str(e) else EXIT_BAD
    print(f"submitted as Slurm job {rec.slurm_job} (script {ctx.registry.dir(rec.id) / 'job.sbatch'}; "
          f"log {ctx.registry.dir(rec.id) / 'console.log'})")
    print(rec.id)
    return EXIT_OK


# -- stop -------------------------------------------------------------------------------------------

def cmd_stop_slurm(args: argparse.Namespace, ctx, run) -> int:
    from ..core.slurm.query import SlurmError
    from ..core.slurm.stop import job_now, stop_run

    try:
        job = job_now(run.slurm_job)
    except SlurmError as e:
        return _fail(str(e))
    if job is None:
        print(f"{run.id}: Slurm job {run.slurm_job} is no longer in the queue")
        return EXIT_OK
    how = ("scancel (pending)" if job.pending else
           ("srun --overlap … stop-and-save, then " if args.save else "")
           + "scancel --signal=INT --full → grace → scancel")
    print(f"stop run {run.id}: Slurm job {job.id} ({job.state.lower()}"
          f"{', ' + job.reason if job.reason else ''}; {job.nodes} node(s) {job.nodelist}) — {how}")
    print("Slurm enforces that only your own jobs can be cancelled.")
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail("not a terminal: add --yes to confirm")
        answer = input("Stop this job? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("cancelled")
            return EXIT_BAD
    try:
        rep = stop_run(ctx.registry, run, audit=ctx.audit, grace_int=ctx.settings.stop_grace_s,
                       save_first=args.save, save_timeout=ctx.settings.stop_and_save_timeout_s,
                       progress=lambda m: print(f"  … {m}", flush=True))
    except SlurmError as e:
        return _fail(str(e))
    print(f"{'all gone' if rep.all_gone else 'NOT all gone'} in {rep.took_s:.2f} s")
    return EXIT_OK if rep.all_gone else EXIT_BAD


def cmd_save_only(args: argparse.Namespace) -> int:
    """On a node of the job (through srun): SIGABRT to this run's trainers here, wait for them."""
    import socket

    from ..context import RunContext
    from ..core.slurm.stop import save_here

    settings = _settings()
    ctx = RunContext.create(settings)
    t0 = time.monotonic()
    timeout = args.save_timeout if args.save_timeout is not None else settings.stop_and_save_timeout_s
    host = socket.gethostname()
    n, alive = save_here(args.run, audit=ctx.audit, timeout=timeout,
                         progress=lambda m: print(f"{host}: {m}", flush=True))
    if n and not alive:
        print(f"{host}: saved and stopped ({n} trainer process{'es' if n != 1 else ''}, "
              f"{time.monotonic() - t0:.1f} s)")
    return EXIT_OK if not alive else EXIT_BAD


def slurm_here(settings) -> bool:
    """At start-up without a GPU: is this a Slurm login node whose controller answers? (then the TUI
    starts in the Slurm view, without the REPLAY banner: the cluster is live data)."""
    from ..core.slurm.query import detect

    if settings.enabled == "false":
        return False
    on, _ = detect(settings.enabled, timeout=3.0)
    return on
