"""Sub-commands for models and data: `models` (the HF caches, local models, adapters, exports) and
`dataset check` (the rows LLaMA-Factory would trip on)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_BAD, EXIT_ENV = 0, 1, 2


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
    dsub = d.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    c = dsub.add_parser("check", help="check every row of one dataset (or all of them)")
    c.add_argument("dataset_dir", metavar="DATASET_DIR", help="the folder holding dataset_info.json")
    c.add_argument("name", metavar="NAME", nargs="?", help="one dataset (default: every entry with a local file)")
    c.add_argument("--json", action="store_true", help="findings as JSON")
    c.add_argument("--max-findings", type=int, default=200, metavar="N",
                   help="findings printed per dataset (all are counted; default 200)")


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
        rep = scan(os.environ, settings.caches, settings.dirs, outs)
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


def _fail(msg: str) -> int:
    print(f"ftmllm-tui: {msg}", file=sys.stderr)
    return EXIT_ENV


def cmd_dataset(args: argparse.Namespace) -> int:
    from ..core.models.datasets import DatasetError, check_dataset_dir

    folder = Path(args.dataset_dir).expanduser()
    try:
        results = check_dataset_dir(folder, args.name)
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
