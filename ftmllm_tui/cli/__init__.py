"""Entry point: ``ftmllm-tui`` starts the TUI; sub-commands are the scriptable contract.

Exit codes: 0 ok, 1 the thing checked is bad, 2 usage or environment error (one line on stderr
that says what to do).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from .. import __version__

from .common import EXIT_BAD, EXIT_ENV, EXIT_OK, json_error as _json_error  # noqa: F401 (EXIT_* for callers)
from .common import fail as _fail


class _Parser(argparse.ArgumentParser):
    """Every (sub-)parser keeps its epilog's line breaks (the examples)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


MAIN_EPILOG = """\
examples:
  ftmllm-tui                          GPUs and processes, live (a bundled replay without a driver)
  ftmllm-tui --replay rec.jsonl       replay a recording made with `ftmllm-tui record`
  ftmllm-tui --theme light --ascii    light theme, ASCII glyphs (terminals without Unicode fonts)
  ftmllm-tui --print-config           the settings in effect, with defaults and where each came from
  ftmllm-tui COMMAND --help           help on one sub-command

settings: $XDG_CONFIG_HOME/ftmllm-tui/config.toml (see README, Settings); flags override it.
exit codes: 0 ok, 1 the thing checked is bad, 2 usage or environment error.
"""


def build_parser() -> argparse.ArgumentParser:
    from ..settings import COLOR_CHOICES

    p = _Parser(
        prog="ftmllm-tui",
        description="Terminal companion for fine-tuning LLMs with LLaMA-Factory on shared GPU servers.\n"
                    "With no COMMAND: the TUI (GPUs and processes, runs, configs).",
        epilog=MAIN_EPILOG,
    )
    p.add_argument("--version", action="version", version=f"ftmllm-tui {__version__}",
                   help="print the version and exit")
    p.add_argument("--replay", metavar="FILE", help="replay a recording (JSONL) instead of live NVML")
    p.add_argument("--readonly", action="store_true", help="hide every action that changes anything")
    p.add_argument("--hosts", metavar="H1,H2",
                   help="several GPU servers over your SSH (aliases or user@host:port; default: [cluster] hosts)")
    p.add_argument("--interval", type=float, metavar="S",
                   help="refresh interval in seconds, 0.5 to 60 (default: ui.refresh_interval, 1)")
    p.add_argument("--open", metavar="REF", help="start in the detail view of a run, output_dir or log")
    p.add_argument("--tmux-socket", metavar="NAME",
                   help="tmux -L NAME for runs (default: FTMLLM_TMUX_SOCKET, settings, your server)")
    p.add_argument("--llamafactory-cli", metavar="CMD",
                   help="command (or prefix) that runs LLaMA-Factory (default: FTMLLM_LLAMAFACTORY_CLI, "
                        "settings, llamafactory-cli on PATH)")
    p.add_argument("--theme", metavar="NAME",
                   help="colour theme: dark, light, high-contrast, mono or one of your own (default: ui.theme, "
                        "dark)")
    p.add_argument("--ascii", action=argparse.BooleanOptionalAction, default=None,
                   help="ASCII glyphs instead of Unicode blocks, braille and box lines; --no-ascii: Unicode "
                        "even when the locale is not UTF-8 (default: ui.ascii, auto: ASCII when the "
                        "locale's encoding is not UTF-8)")
    p.add_argument("--mouse", action=argparse.BooleanOptionalAction, default=None,
                   help="--no-mouse leaves the mouse to the terminal, e.g. to select text (default: "
                        "ui.mouse, on)")
    p.add_argument("--colors", choices=COLOR_CHOICES, default=None,
                   help="colours the terminal can show; auto lets Rich detect it from COLORTERM and TERM "
                        "(default: ui.colors, auto)")
    p.add_argument("--print-config", action="store_true",
                   help="print the settings in effect as TOML (each key's default and where its value "
                        "came from) and exit; needs no GPU and no tmux")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                           help="what to do (none: start the TUI); COMMAND --help for its options")

    s = sub.add_parser("snapshot", help="print one snapshot of GPUs and GPU processes, then exit",
                       epilog="examples:\n"
                              "  ftmllm-tui snapshot\n"
                              "  ftmllm-tui snapshot --json | jq '.gpus[] | select(.free) | .index'\n"
                              "  ftmllm-tui snapshot --replay rec.jsonl   (no GPU needed)")
    s.add_argument("--json", action="store_true", help="JSON (schema in README) instead of a table")
    s.add_argument("--replay", dest="sub_replay", metavar="FILE", help="take it from a recording")
    s.add_argument("--hosts", dest="sub_hosts", metavar="H1,H2",
                   help="these hosts over SSH instead (one JSON with a hosts[] list)")

    r = sub.add_parser("record", help="record NVML sweeps to a JSONL file (attach it to a bug report)",
                       epilog="examples:\n"
                              "  ftmllm-tui record gpus.jsonl --seconds 60\n"
                              "  ftmllm-tui --replay gpus.jsonl         (look at it again)")
    r.add_argument("out", metavar="OUT.jsonl", help="file to write ('-' for stdout)")
    r.add_argument("--seconds", type=float, default=30.0, help="how long to record (default 30)")
    r.add_argument("--interval", dest="rec_interval", type=float, default=1.0,
                   help="seconds between sweeps (default 1)")
    from . import configs as cli_configs, follow as cli_follow, hosts as cli_hosts, runs as cli_runs
    from . import models as cli_models

    cli_runs.add_parsers(sub)
    cli_follow.add_parsers(sub)
    cli_configs.add_parsers(sub)
    from . import slurm as cli_slurm

    cli_slurm.add_parsers(sub)
    cli_hosts.add_parsers(sub)
    from . import signals as cli_signal

    cli_signal.add_parsers(sub)
    cli_models.add_parsers(sub)
    from . import estimate as cli_estimate

    cli_estimate.add_parsers(sub)
    for choice in sub._choices_actions:  # a sub-command's own --help starts with what it does
        parser = sub.choices[choice.dest]
        if parser.description is None:
            parser.description = choice.help[:1].upper() + choice.help[1:] + "."
    return p


# commands that never touch the state folder (runs, audit, backups, errors.log, SSH masters)
_STATELESS = {"validate", "snapshot", "record", "stream", "estimate"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.print_config and args.command not in _STATELESS:
        problem = state_dir_problem()
        if problem:
            if getattr(args, "json", False):
                _json_error(problem, EXIT_ENV)
            return _fail(problem)
    if getattr(args, "json", False):  # --json: a failure is a JSON object on stdout too (scripts parse it)
        return _with_json_errors(lambda: _dispatch(args, argv))
    return _dispatch(args, argv)


def state_dir_problem() -> str | None:
    """Why the state folder ($XDG_STATE_HOME/ftmllm-tui) cannot be used, in one line; None when it can."""
    from ..settings import state_dir

    d = state_dir()
    p = d
    fix = "set XDG_STATE_HOME to a folder you can write to"
    try:
        while not p.exists() and p != p.parent:  # the nearest part of the path that exists
            p = p.parent
        if not p.is_dir():
            return f"cannot use the state folder {d}: {p} is a file, not a folder ({fix})"
    except OSError as e:  # e.g. a parent that cannot be searched
        return f"cannot use the state folder {d}: {(e.strerror or str(e)).lower()} ({fix})"
    if not os.access(p, os.W_OK | os.X_OK):
        return f"cannot use the state folder {d}: {p} is not writable ({fix})"
    return None


class _Watched:
    """A text stream that remembers whether anything was written, and the last line written."""

    def __init__(self, inner):
        self.inner, self.wrote, self.last = inner, False, ""

    def write(self, text: str) -> int:
        if text:
            self.wrote = True
            lines = [line for line in text.splitlines() if line.strip()]
            if lines:
                self.last = lines[-1]
        return self.inner.write(text)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _with_json_errors(command) -> int:
    """Run a --json command; when it fails without printing JSON, print {"ok": false, "error": its message}."""
    out, err = _Watched(sys.stdout), _Watched(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        code = command()
    finally:
        sys.stdout, sys.stderr = out.inner, err.inner
    if code and not out.wrote:
        message = err.last.removeprefix("ftmllm-tui: ").strip() or f"failed (exit code {code})"
        _json_error(message, code)
    return code


def _dispatch(args: argparse.Namespace, argv: list[str] | None) -> int:
    if args.print_config:
        return cmd_print_config(args)
    if args.command == "snapshot":
        if getattr(args, "sub_hosts", None) or getattr(args, "hosts", None):
            from .hosts import cmd_snapshot_hosts

            return cmd_snapshot_hosts(args)
        return cmd_snapshot(args)
    if args.command == "stream":
        from .hosts import cmd_stream

        return cmd_stream(args)
    if args.command == "receive":
        from .hosts import cmd_receive

        return cmd_receive(args)
    if args.command == "signal":
        from .signals import cmd_signal

        return cmd_signal(args)
    if args.command == "attach":
        from .hosts import cmd_attach, remote_dispatch

        rc = remote_dispatch(args, argv)  # HOST:RUN: the app there attaches
        return cmd_attach(args) if rc is None else rc
    if args.command == "record":
        return cmd_record(args)
    if args.command in ("launch", "runs", "stop", "logs", "plot"):
        from .hosts import remote_dispatch

        rc = remote_dispatch(args, argv)  # HOST:RUN, runs --hosts, launch --host: done by the app there
        if rc is not None:
            return rc
    if args.command in ("launch", "runs", "stop"):
        from . import runs as cli_runs

        return getattr(cli_runs, f"cmd_{args.command}")(args)
    if args.command in ("logs", "plot"):
        from . import follow as cli_follow

        return getattr(cli_follow, f"cmd_{args.command}")(args)
    if args.command == "slurm":
        from . import slurm as cli_slurm

        return cli_slurm.cmd_slurm(args)
    if args.command in ("models", "dataset", "download"):
        from . import models as cli_models

        return getattr(cli_models, f"cmd_{args.command}")(args)
    if args.command == "estimate":
        from . import estimate as cli_estimate

        return cli_estimate.cmd_estimate(args)
    if args.command in ("validate", "edit"):
        from . import configs as cli_configs

        return getattr(cli_configs, f"cmd_{args.command}")(args)
    return cmd_tui(args)


def _replay_path(path: str) -> Path | None:
    return Path(path).expanduser()


def cmd_snapshot(args: argparse.Namespace) -> int:
    from ..core.gpus.nvml import NvmlUnavailable
    from ..core.gpus.report import snapshot_json, snapshot_text
    from ..core.gpus.samplers import ReplayError, open_sampler

    from ..settings import load_settings

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
    from ..core.gpus.nvml import NvmlUnavailable
    from ..core.gpus.samplers import ReplayError, open_sampler, write_recording

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


# flag -> setting; the value a flag gives is the setting's value (--ascii: "on", --no-ascii: "off")
FLAG_SETTINGS = (
    ("interval", "refresh_interval", "--interval"),
    ("theme", "theme", "--theme"),
    ("ascii", "ascii", "--ascii"),
    ("mouse", "mouse", "--mouse"),
    ("colors", "colors", "--colors"),
    ("tmux_socket", "tmux_socket", "--tmux-socket"),
    ("llamafactory_cli", "llamafactory_cli", "--llamafactory-cli"),
)
# environment -> setting, between the file and the flags (as RunContext resolves them)
ENV_SETTINGS = (("FTMLLM_TMUX_SOCKET", "tmux_socket"), ("FTMLLM_LLAMAFACTORY_CLI", "llamafactory_cli"))


def effective_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None,
                       path: Path | None = None):
    """The settings in effect: the file, then the environment, then the flags (``Loaded``: with the
    source of every value). ValueError names the flag whose value is wrong."""
    from ..settings import read_settings

    environ = os.environ if environ is None else environ
    loaded = read_settings(path)
    for var, key in ENV_SETTINGS:
        if environ.get(var):
            loaded = loaded.override(key, environ[var], var)
    for dest, key, flag in FLAG_SETTINGS:
        value = getattr(args, dest, None)
        if value is None or (key in ("tmux_socket", "llamafactory_cli") and not value):
            continue  # an empty --tmux-socket means "not given", as in RunContext
        if dest == "ascii":
            value, flag = ("on", "--ascii") if value else ("off", "--no-ascii")
        elif dest == "mouse":
            flag = "--mouse" if value else "--no-mouse"
        try:
            loaded = loaded.override(key, value, flag)
        except ValueError as e:
            raise ValueError(f"{flag}: {e}") from None
    return loaded


@dataclass(frozen=True)
class UiOptions:
    theme: str
    ascii_mode: bool
    mouse: bool
    colors: str  # the setting: auto, truecolor, 256, 16

    @property
    def color_system(self) -> str | None:
        """TEXTUAL_COLOR_SYSTEM for ``colors`` (None: leave it to Rich's detection)."""
        from ..settings import TEXTUAL_COLOR_SYSTEMS

        return TEXTUAL_COLOR_SYSTEMS.get(self.colors)


def resolve_ui_options(args: argparse.Namespace, settings, environ: Mapping[str, str] | None = None,
                       encoding: str | None = None) -> UiOptions:
    """Flags over settings for what the app is started with; ascii "auto" is decided here from the
    locale (see ``settings.ascii_wanted``)."""
    from ..settings import ascii_wanted

    ascii_setting = settings.ascii
    if getattr(args, "ascii", None) is not None:
        ascii_setting = "on" if args.ascii else "off"
    mouse = settings.mouse if getattr(args, "mouse", None) is None else bool(args.mouse)
    return UiOptions(theme=getattr(args, "theme", None) or settings.theme,
                     ascii_mode=ascii_wanted(ascii_setting, environ, encoding),
                     mouse=mouse,
                     colors=getattr(args, "colors", None) or settings.colors)


def apply_color_system(ui: UiOptions, environ: MutableMapping[str, str] | None = None) -> None:
    """Set TEXTUAL_COLOR_SYSTEM (read when Textual is imported) unless colors is auto."""
    environ = os.environ if environ is None else environ
    system = ui.color_system
    if system is None:
        return
    environ["TEXTUAL_COLOR_SYSTEM"] = system
    constants = sys.modules.get("textual.constants")
    if constants is not None and environ is os.environ:  # imported already (tests): too late for the env
        constants.COLOR_SYSTEM = system


def config_toml(loaded, environ: Mapping[str, str] | None = None, encoding: str | None = None) -> str:
    """The settings of ``loaded`` as a TOML document: every section and key, each with a comment
    giving its default and where its value came from; the config file's path at the top."""
    import tomlkit

    from ..settings import DEFAULT, SECTIONS, Settings, ascii_wanted

    def toml_item(key, value):
        if key in ("env", "host_remote_command"):
            table = tomlkit.inline_table()
            table.update(dict(value))
            return table
        return tomlkit.item(list(value) if isinstance(value, tuple) else value)

    s, defaults = loaded.settings, Settings()
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"ftmllm-tui {__version__}: the settings in effect (valid as a config.toml)"))
    state = "" if loaded.exists else " (not found: defaults)"
    doc.add(tomlkit.comment(f"config file: {loaded.path}{state}"))
    for w in s.warnings:
        doc.add(tomlkit.comment(f"warning: {w}"))
    for section, keys in SECTIONS.items():
        table = tomlkit.table()
        for key in keys:
            item = toml_item(key, getattr(s, key))
            source = loaded.sources.get(key, DEFAULT)
            note = f"default {toml_item(key, getattr(defaults, key)).as_string()}; from {source}"
            if key == "ascii" and s.ascii == "auto":
                note += f"; auto means {'on' if ascii_wanted('auto', environ, encoding) else 'off'} here"
            item.comment(note)
            item.trivia.comment_ws = "  "
            table.add(key, item)
        doc.add(tomlkit.nl())
        doc.add(section, table)
    return doc.as_string()


def cmd_print_config(args: argparse.Namespace) -> int:
    try:
        loaded = effective_settings(args)
    except ValueError as e:
        return _fail(str(e))
    sys.stdout.write(config_toml(loaded))
    return EXIT_OK


def no_terminal() -> str | None:
    """Why the TUI cannot start here (it reads keys from stdin and draws on stdout), None when it can."""
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)):
        try:
            tty = stream is not None and stream.isatty()
        except (ValueError, OSError):
            tty = False
        if not tty:
            return (f"the TUI needs a terminal, and {name} is not one: start it in a terminal (or over ssh -t); "
                    "in scripts use the sub-commands (runs, logs, snapshot, ... --json)")
    return None


def cmd_tui(args: argparse.Namespace) -> int:
    try:
        loaded = effective_settings(args)
    except ValueError as e:
        return _fail(str(e))
    settings = loaded.settings
    from .hosts import tui_cluster

    try:
        cluster = tui_cluster(args, settings)  # --hosts / [cluster] hosts: other hosts over SSH
    except ValueError as e:
        return _fail(str(e))
    ui = resolve_ui_options(args, settings)
    problem = no_terminal()  # without one, Textual would spin on stdin's EOF and draw into a file or pipe
    if problem:
        return _fail(problem)
    apply_color_system(ui)  # before Textual is imported

    from ..core.gpus.samplers import ReplayError, open_sampler

    try:
        opened = open_sampler(_replay_path(args.replay) if args.replay else None,
                              proc_util_every_s=settings.process_util_interval)
    except ReplayError as e:
        return _fail(str(e))
    opened.sampler.free_rule = settings.free_rule()
    banner = None
    start_slurm = False
    if opened.reason and cluster is None:  # no GPU here: a Slurm login node? (cli/slurm.py)
        from .slurm import slurm_here

        start_slurm = slurm_here(settings)
    if opened.reason and start_slurm:
        print(f"ftmllm-tui: {opened.reason}; Slurm answers: starting in the Slurm view (J)", file=sys.stderr)
    elif opened.reason:
        banner = (f"{opened.reason[0].upper()}{opened.reason[1:]}. Showing a REPLAY of a real 2×H200 "
                  "recording; --replay FILE replays another.")
        print(f"ftmllm-tui: {opened.reason}; replaying a bundled recording (REPLAY)", file=sys.stderr)
    first = None
    try:  # a few ms: lets the first frame show data, and primes CPU % for the next sample
        first = opened.sampler.sample()
    except Exception:
        pass
    from .. import splash

    drew = first is not None and splash.enabled(sys.stdout)
    if drew:
        splash.draw(first)
    try:
        from ..ui.app import FtmApp

        from ..context import RunContext

        ctx = RunContext.create(settings, tmux_socket=args.tmux_socket,
                                llamafactory_cli=args.llamafactory_cli, readonly=args.readonly)
        app = FtmApp(opened.sampler, settings=settings, banner=banner, readonly=args.readonly,
                     first=first, ctx=ctx, open_ref=args.open,
                     edit_path=getattr(args, "edit", None), theme=ui.theme, ascii_mode=ui.ascii_mode,
                     cluster=cluster)
        app.start_slurm = start_slurm
        app.run(mouse=ui.mouse)
    except BaseException:
        if drew:
            splash.undo()
        raise
    return app.return_code or EXIT_OK


def run() -> None:  # console script
    try:
        code = main()
        sys.stdout.flush()  # inside the try: a reader that went away shows here, not at interpreter exit
    except BrokenPipeError:  # `ftmllm-tui runs --json | head`: the reader closed the pipe; no traceback
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is left goes nowhere
        except (OSError, ValueError):
            pass
        code = 128 + signal.SIGPIPE  # 141, as a shell reports a program ended by a closed pipe
    sys.exit(code)


if __name__ == "__main__":
    run()
