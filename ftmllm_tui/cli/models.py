"""Sub-commands for models and data: `models` (the HF caches, local models, adapters, exports) and
`dataset check` (the rows LLaMA-Factory would trip on)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .common import EXIT_BAD, EXIT_ENV, EXIT_OK  # noqa: F401 (EXIT_* for callers)
from .common import fail as _fail


def add_parsers(sub) -> None:
    m = sub.add_parser(
        "models", help="list the Hugging Face caches, local model folders, adapters and exports",
        epilog="Caches: HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / HF_HOME (the one in use) and [models] caches;\n"
               "local models: [models] dirs; adapters and exports: under the recorded runs' output dirs.\n\n"
               "examples:\n"
               "  ftmllm-tui models\n"
               "  ftmllm-tui models --json | jq -r '.repos[] | select(.repo_type==\"model\") | .snapshot'")
    m.add_argument("--json", action="store_true", help="JSON instead of a table")
    d = sub.add_parser(
        "dataset", help="datasets of a dataset_info.json: check the rows LLaMA-Factory will read",
        epilog="exit codes: 0 clean, 1 some row would trip LLaMA-Factory (file:row: reason per finding),\n"
               "2 the folder, dataset_info.json or a data file cannot be read.\n\n"
               "examples:\n"
               "  ftmllm-tui dataset check data\n"
               "  ftmllm-tui dataset check data mllm_demo --json")
    dsub = d.add_subparsers(dest="dataset_command", metavar="ACTION", required=True,
                            help="check: the rows LLaMA-Factory would trip on")
    c = dsub.add_parser(
        "check", help="check every row of one dataset (or all of them)",
        description="Check every row of one dataset (or of every local one) as LLaMA-Factory reads it: JSON errors "
                    "(with the line), missing images, <image> placeholders vs images, role order, empty turns, "
                    "ranking answers.",
        epilog="exit codes: 0 clean, 1 some row would trip LLaMA-Factory, 2 unreadable.\n\n"
               "examples:\n"
               "  ftmllm-tui dataset check data\n"
               "  ftmllm-tui dataset check data mllm_demo --json | jq '.datasets[].summary'")
    c.add_argument("dataset_dir", metavar="DATASET_DIR", help="the folder holding dataset_info.json")
    c.add_argument("name", metavar="NAME", nargs="?", help="one dataset (default: every entry with a local file)")
    c.add_argument("--json", action="store_true", help="findings as JSON")
    c.add_argument("--max-findings", type=int, default=200, metavar="N",
                   help="findings printed per dataset (all are counted; default 200)")
    dl = sub.add_parser(
        "download", help="download a repo from the Hub (or HF_ENDPOINT) into the HF cache, as a job in tmux",
        epilog="Runs huggingface_hub.snapshot_download in a tmux session like a run (it survives SSH), into the\n"
               "cache in use (HF_HUB_CACHE ...), from HF_ENDPOINT when set; HF_TOKEN is passed the way runs get\n"
               "secrets (never on disk). Progress (files, bytes, rate, ETA) shows in `runs`; stop it with `stop`;\n"
               "starting it again resumes (finished files stay). Checks the size against free space first.\n\n"
               "examples:\n"
               "  ftmllm-tui download Qwen/Qwen2.5-VL-3B-Instruct\n"
               "  HF_ENDPOINT=https://hf-mirror.com ftmllm-tui download llamafactory/RLHF-V --repo-type dataset\n"
               "  ftmllm-tui download Qwen/Qwen2.5-VL-7B-Instruct --include '*.json' --include '*.safetensors'")
    dl.add_argument("repo", metavar="REPO", help="ORG/NAME on the Hub")
    dl.add_argument("--repo-type", choices=("model", "dataset"), default="model",
                    help="what REPO is on the Hub (default: model)")
    dl.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    dl.add_argument("--include", action="append", default=[], metavar="GLOB",
                    help="only files matching GLOB (repeatable)")
    dl.add_argument("--name", default=None, help="the job's name (default: dl-NAME)")
    dl.add_argument("--dry-run", action="store_true", help="show the plan (size, free space, cached) and exit")
    dl.add_argument("--json", action="store_true", help="the plan (and the run id) as JSON")


def _json_error(msg: str, code: int) -> int:
    json.dump({"ok": False, "error": msg}, sys.stdout)
    sys.stdout.write("\n")
    print(f"ftmllm-tui: {msg}", file=sys.stderr)
    return code


def _fmt_time(ts: float) -> str:
    from ..core.models.cache import when

    return when(ts)


def cmd_models(args: argparse.Namespace) -> int:
    from ..context import RunContext
    from ..core.models.cache import human_bytes, run_output_dirs, scan
    from ..settings import load_settings

    settings = load_settings()
    for w in settings.warnings:
        print(f"ftmllm-tui: {w}", file=sys.stderr)
    try:
        ctx = RunContext.create(settings)
        outs = run_output_dirs(ctx.registry)
        rep = scan(os.environ, settings.caches, settings.dirs, outs, runs_env=settings.env)
    except Exception as e:  # noqa: BLE001 - one line, not a traceback
        msg = f"cannot read the model caches: {type(e).__name__}: {e}"
        return _json_error(msg, EXIT_ENV) if args.json else _fail(msg)
    if args.json:
        json.dump({"ok": True, **rep.to_json()}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    for c in rep.caches:
        free = f"{human_bytes(c.free)} free of {human_bytes(c.total)}" if c.free is not None else "free space ?"
        print(f"cache {c.path} ({c.source}){'' if c.exists else ' (does not exist)'} · {free}")
    rows = [("REPO", "TYPE", "REVS", "SIZE", "MODIFIED", "OWNER", "PATH")]
    for r in rep.repos:
        rows.append((r.repo_id, r.repo_type, str(len(r.revisions)), human_bytes(r.size), _fmt_time(r.last_modified),
                     r.owner, r.snapshot or r.path))
    for m in rep.local:
        rows.append((m.name, m.kind, "-", human_bytes(m.size), _fmt_time(m.modified), m.owner, m.path))
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])
    else:
        print("no models found")
    for p in rep.problems:
        print(f"note: {p}", file=sys.stderr)
    return EXIT_OK


def cmd_dataset(args: argparse.Namespace) -> int:
    from ..core.models.datasets import DatasetError, check_dataset_dir

    from ..core.models.cache import models_env
    from ..settings import load_settings

    folder = Path(args.dataset_dir).expanduser()
    try:
        results = check_dataset_dir(folder, args.name, models_env(os.environ, load_settings().env))
    except DatasetError as e:
        return _json_error(str(e), EXIT_ENV) if args.json else _fail(str(e))
    unreadable = [r for r in results if r.error]
    bad = sum(len(r.findings) for r in results)
    if args.json:
        json.dump({"ok": not bad and not unreadable, "dataset_dir": str(folder),
                   "datasets": [r.to_json() for r in results]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for r in results:
            if r.error:
                print(f"{r.file or r.name}: error: {r.error}")
                continue
            for f in r.findings[:args.max_findings]:
                where = f"row {f.row}" + (f" (line {f.line})" if f.line else "")
                print(f"{r.file}: {where}: {f.kind}: {f.message}")
            if len(r.findings) > args.max_findings:
                print(f"{r.file}: … {len(r.findings) - args.max_findings} more findings")
            print(f"{r.name}: {r.rows:,} rows, {r.summary()}")
    if unreadable:
        return EXIT_ENV
    return EXIT_BAD if bad else EXIT_OK


def cmd_download(args: argparse.Namespace) -> int:
    from ..core.models.download import DownloadError, plan_download, start_download
    from ..core.runs.tmux import TmuxError
    from ..settings import load_settings

    def fail(msg: str, code: int) -> int:
        return _json_error(msg, code) if args.json else (print(f"ftmllm-tui: {msg}", file=sys.stderr) or code)

    if getattr(args, "readonly", False):
        return fail("read-only mode: downloading is disabled", EXIT_ENV)
    from ..core.models.cache import models_env

    settings = load_settings()
    env = models_env(os.environ, settings.env)  # as runs see it: [runs.env] may set the cache and HF_ENDPOINT
    try:
        plan = plan_download(args.repo, repo_type=args.repo_type, revision=args.revision, include=args.include,
                             environ=env)
    except DownloadError as e:
        return fail(str(e), EXIT_ENV)
    out = {"ok": plan.ok, "repo_id": plan.repo_id, "repo_type": plan.repo_type, "commit": plan.commit,
           "files": len(plan.files), "bytes": plan.total, "bytes_needed": plan.needed, "free": plan.free,
           "cache_dir": str(plan.cache_dir), "endpoint": plan.endpoint, "already_cached": plan.already,
           "snapshot": str(plan.snapshot()), "problems": plan.problems, "run_id": None}
    if not args.json:
        print(plan.summary())
    if plan.already:
        if args.json:
            json.dump(out, sys.stdout)
            sys.stdout.write("\n")
        return EXIT_OK
    if plan.problems:
        if args.json:
            out["error"] = "; ".join(plan.problems)
            json.dump(out, sys.stdout)
            sys.stdout.write("\n")
        for p in plan.problems:
            print(f"ftmllm-tui: {p}", file=sys.stderr)
        return EXIT_BAD
    if args.dry_run:
        if args.json:
            json.dump(out, sys.stdout)
            sys.stdout.write("\n")
        return EXIT_OK
    from ..context import RunContext

    ctx = RunContext.create(settings, tmux_socket=getattr(args, "tmux_socket", None))
    try:
        rec = start_download(plan, ctx.registry, ctx.tmux, name=args.name, pass_env=settings.pass_env, environ=env)
    except (TmuxError, OSError, RuntimeError) as e:
        return fail(f"cannot start the download: {e}", EXIT_ENV)
    out["run_id"] = rec.id
    if args.json:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
        return EXIT_OK
    secrets = [k for k in rec.secret_env]
    print(f"started in tmux session {rec.tmux_session}" + (f" (passing {', '.join(secrets)})" if secrets else ""))
    print("progress: ftmllm-tui runs · stop: ftmllm-tui stop " + rec.id)
    print(rec.id)
    return EXIT_OK
