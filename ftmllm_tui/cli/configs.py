"""Sub-commands for configs: `validate` (offline, optionally LLaMA-Factory's own parser) and `edit`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_BAD, EXIT_UNREADABLE = 0, 1, 2
COMMANDS = ("train", "chat", "webchat", "api", "export", "eval")


def add_parsers(sub) -> None:
    v = sub.add_parser(
        "validate", help="check a LLaMA-Factory YAML config (exit 0 clean, 1 errors, 2 unreadable)",
        epilog="Prints FILE:LINE:COL: error|warning|info: message (and a hint) per finding, then a summary.\n"
               "Warnings alone exit 0.\n\n"
               "examples:\n"
               "  ftmllm-tui validate configs/qwen2.5vl_lora_sft.yaml\n"
               "  ftmllm-tui validate chat.yaml --command chat --lf-version 0.9.2\n"
               "  ftmllm-tui validate sft.yaml --deep --json    (also LLaMA-Factory's own parser)")
    v.add_argument("config", help="the YAML file")
    v.add_argument("--deep", action="store_true",
                   help="also run LLaMA-Factory's own parser in the training environment (slow: imports it)")
    v.add_argument("--json", action="store_true", help="findings as JSON")
    v.add_argument("--command", dest="lf_command", choices=COMMANDS, default=None,
                   help="the llamafactory-cli sub-command the file is for (default: guessed from its keys)")
    v.add_argument("--lf-version", default=None, help="schema version (default: settings, then the training env)")
    v.add_argument("--workdir", default=None, help="where relative paths are resolved (default: current dir)")
    e = sub.add_parser(
        "edit", help="open a config in the editor (validated as you type, saved safely)",
        epilog="The TUI's options (--theme, --ascii, --no-mouse, ...) go before the command.\n\n"
               "examples:\n"
               "  ftmllm-tui edit configs/qwen2.5vl_lora_sft.yaml\n"
               "  ftmllm-tui --theme light edit new.yaml")
    e.add_argument("config", help="the YAML file (created on save if it does not exist)")


def _schema(args, settings, environ):
    from ..core.configs.lfenv import choose_schema, env_python
    from ..core.configs.lfschema import available_versions

    if args.lf_version and args.lf_version not in available_versions():
        print(f"ftmllm-tui: no schema for LLaMA-Factory {args.lf_version}; shipped: "
              f"{', '.join(available_versions())} (the nearest older one is used)", file=sys.stderr)
    setting = args.lf_version or settings.llamafactory_version
    cli = args.llamafactory_cli or environ.get("FTMLLM_LLAMAFACTORY_CLI") or settings.llamafactory_cli
    python = env_python(cli, environ, settings.lf_python)
    return (*choose_schema(setting, python, environ=environ), python)


def cmd_validate(args: argparse.Namespace) -> int:
    import os

    from ..core.configs.cfgfile import ConfigFileError, read
    from ..core.configs.lfvalidate import validate
    from ..settings import load_settings

    path = Path(args.config)
    try:
        loaded = read(path)
    except ConfigFileError as exc:
        print(f"ftmllm-tui: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    settings = load_settings()
    schema, why, python = _schema(args, settings, os.environ)
    workdir = Path(args.workdir) if args.workdir else None
    report = validate(loaded.text, schema=schema, path=path, command=args.lf_command, workdir=workdir)
    deep = None
    if args.deep:
        from ..core.configs.lfenv import deep_check

        if report.syntax_ok:
            deep = deep_check(loaded.text, report.command, python, workdir=workdir, name=path.name)
    if args.json:
        out = {"file": str(path), "command": report.command, "schema": schema.version, "schema_source": why,
               "ok": report.ok and (deep is None or deep.ok or deep.machine),
               "findings": [{"severity": f.severity, "line": f.line, "column": f.col, "key": f.key,
                             "rule": f.code, "message": f.message, "hint": f.hint} for f in report.findings]}
        if args.deep and deep is None:
            out["deep"] = None                  # not run: the YAML does not parse
        if deep is not None:
            out["deep"] = {"ok": deep.ok, "machine": deep.machine, "error_type": deep.error_type,
                           "message": deep.message, "version": deep.version, "seconds": round(deep.seconds, 2)}
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _print_text(path, report, deep, why)
        if args.deep and deep is None:
            print("deep check not run: fix the YAML syntax first")
    bad = bool(report.errors) or (deep is not None and not deep.ok and not deep.machine)
    return EXIT_BAD if bad else EXIT_OK


def _print_text(path, report, deep, why) -> None:
    tty = sys.stdout.isatty()
    colour = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
    for f in report.findings:
        sev = f"{colour[f.severity]}{f.severity}\x1b[0m" if tty else f.severity
        loc = f"{path}:{f.line}:{f.col}" if f.line else str(path)
        print(f"{loc}: {sev}: {f.message}" + (f"\n    hint: {f.hint}" if f.hint else ""))
    n_err, n_warn = len(report.errors), len(report.warnings)
    summary = "clean" if not n_err and not n_warn else f"{n_err} error(s), {n_warn} warning(s)"
    print(f"{path}: {summary} — as `llamafactory-cli {report.command}`, {why}")
    if deep is not None:
        if deep.ok:
            print(f"deep check: LLaMA-Factory {deep.version} accepts it ({deep.seconds:.1f} s)")
        else:
            label = "depends on this machine" if deep.machine else "error"
            print(f"deep check ({label}): {deep.error_type}: {deep.message}")


def cmd_edit(args: argparse.Namespace) -> int:
    from . import cmd_tui

    args.edit = args.config
    return cmd_tui(args)
