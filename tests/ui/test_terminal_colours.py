"""What reaches the terminal under NO_COLOR, with 256 colours (COLORTERM not forwarded over SSH),
with truecolor, and in a non-UTF-8 locale: the real program in a real pty, every byte inspected."""

from __future__ import annotations

import os
import re
import sys

import pytest

from .test_pty import read_until, running

SGR = re.compile(rb"\x1b\[([0-9;:]*)m")


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "COLORTERM", "TEXTUAL_COLOR_SYSTEM", "LANG", "LC_ALL", "LC_CTYPE")}
    env.update(LANG="C.UTF-8", TERM="xterm-256color", FTMLLM_SPLASH="1")
    env.update(extra)
    return env


def _colour_params(out: bytes) -> dict[str, int]:
    """Counts of SGR colour kinds in the stream: truecolor, 256, basic (16), default-colour resets."""
    kinds = {"truecolor": 0, "256": 0, "basic": 0, "default": 0}
    for m in SGR.finditer(out):
        params = [p for p in re.split(rb"[;:]", m.group(1))]
        i = 0
        while i < len(params):
            p = int(params[i] or b"0")
            if p in (38, 48, 58) and i + 1 < len(params):
                mode = int(params[i + 1] or b"0")
                if mode == 2:
                    kinds["truecolor"] += 1
                    i += 5
                    continue
                if mode == 5:
                    kinds["256"] += 1
                    i += 3
                    continue
            if 30 <= p <= 37 or 40 <= p <= 47 or 90 <= p <= 97 or 100 <= p <= 107:
                kinds["basic"] += 1
            elif p in (39, 49):
                kinds["default"] += 1
            i += 1
    return kinds


def _screen(env, seconds=2.5, cols=100, rows=30, args=("--replay", "tests/data/h200x8_synth.jsonl")) -> bytes:
    with running(list(args), cols=cols, rows=rows, env=env, replace_env=True) as (pid, fd):
        out = read_until(fd, b"Processes", 20)
        out += read_until(fd, b"\x00never", seconds)
    assert b"Processes" in out, out[-2000:]
    return out


def test_no_color_means_no_colour_codes_at_all():
    out = _screen(_env(NO_COLOR="1", COLORTERM="truecolor"))
    kinds = _colour_params(out)
    assert kinds["truecolor"] == kinds["256"] == kinds["basic"] == 0, kinds
    # structure is still there: bold (mine, titles) and reverse video (cursor row, badges)
    attrs = {int(p or b"0") for m in SGR.finditer(out) for p in re.split(rb"[;:]", m.group(1))}
    assert 1 in attrs and 7 in attrs, attrs


def test_256_colours_when_colorterm_is_not_forwarded():
    out = _screen(_env(TERM="xterm-256color"))
    kinds = _colour_params(out)
    assert kinds["256"] > 50 and kinds["truecolor"] == 0, kinds


def test_truecolor_when_the_terminal_says_so():
    out = _screen(_env(COLORTERM="truecolor", FTMLLM_TERM_DIFF="0"))  # what Textual itself sends
    kinds = _colour_params(out)
    assert kinds["truecolor"] > 50 and kinds["256"] == 0, kinds
    # through the diffing writer: colours that are exactly xterm-256 ones go as 38;5;n (same colour,
    # half the bytes); the others (Textual's blended shades) stay 24-bit
    out = _screen(_env(COLORTERM="truecolor"))
    kinds = _colour_params(out)
    assert kinds["256"] > 50 and kinds["truecolor"] >= 1, kinds


@pytest.mark.skipif(sys.platform != "linux", reason="locale rules")
def test_non_utf8_locale_gets_ascii_glyphs():
    out = _screen(_env(LANG="C", LC_ALL="C"))
    frames = out.split(b"Processes", 1)[1]
    text = SGR.sub(b"", frames)
    assert not any(b > 127 for b in text), sorted({chr(b) for b in text if b > 127})[:20]
    utf = _screen(_env())
    assert any(b > 127 for b in SGR.sub(b"", utf.split(b"Processes", 1)[1]))


def test_ascii_flag_and_colours_setting(tmp_path):
    cfg = tmp_path / "ftmllm-tui"
    cfg.mkdir()
    (cfg / "config.toml").write_text('[ui]\ncolors = "256"\n')
    out = _screen(_env(XDG_CONFIG_HOME=str(tmp_path), COLORTERM="truecolor"),
                  args=("--ascii", "--replay", "tests/data/h200x8_synth.jsonl"))
    kinds = _colour_params(out)
    assert kinds["256"] > 50 and kinds["truecolor"] == 0, kinds
    assert not any(b > 127 for b in SGR.sub(b"", out.split(b"Processes", 1)[1]))

