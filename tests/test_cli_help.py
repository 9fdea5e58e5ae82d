"""--help for every (sub-)command: exits 0, and every argument says what it is for."""

from __future__ import annotations

import argparse

import pytest

from ftmllm_tui import __version__
from ftmllm_tui.cli import build_parser, main


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path of sub-command names, parser) for the parser and every sub-parser, nested ones too."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


PARSERS = list(walk(build_parser()))
IDS = [" ".join(path) or "(main)" for path, _ in PARSERS]


def test_the_walk_finds_every_sub_command():
    names = {path[0] for path, _ in PARSERS if path}
    assert names >= {"snapshot", "record", "launch", "runs", "stop", "logs", "plot", "validate", "edit"}


@pytest.mark.parametrize("path", [p for p, _ in PARSERS], ids=IDS)
def test_help_exits_0(path, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([*path, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ftmllm-tui") and len(out.splitlines()) > 3


@pytest.mark.parametrize("parser", [p for _, p in PARSERS], ids=IDS)
def test_every_argument_has_help(parser):
    missing = [a.option_strings[0] if a.option_strings else (a.metavar or a.dest)
               for a in parser._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert not missing, f"{parser.prog}: no help for {missing}"
    assert parser.description, f"{parser.prog}: no description"


@pytest.mark.parametrize("parser", [p for path, p in PARSERS if path], ids=IDS[1:])
def test_every_sub_command_has_a_description_and_examples(parser):
    assert parser.description.endswith(".")
    assert "examples:" in (parser.epilog or ""), f"{parser.prog}: no examples"


def test_main_help_lists_the_new_flags(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--theme NAME", "--ascii, --no-ascii", "--mouse, --no-mouse", "--colors {auto,truecolor,256,16}",
                 "--print-config", "examples:"):
        assert flag in out


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"ftmllm-tui {__version__}\n"


def test_bad_choice_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--colors", "88"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
