"""The diffing writer must leave the terminal showing exactly what Textual drew.

Checked with a real terminal emulator (pyte): the same writes go to one screen directly and to
another through :class:`ScreenDiffer`; after every write both screens must match cell for cell
(character, colours, bold...).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pyte
from hypothesis import given, settings
from hypothesis import strategies as st

from ftmllm_tui.ui.termdiff import ScreenDiffer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

# pyte does not know kitty-keyboard / private-prefixed CSI like "\x1b[<u" and prints their final
# byte; terminals ignore them. Strip them before feeding pyte (both sides alike).
_PYTE_UNKNOWN = re.compile(r"\x1b\[[<=>][0-9;]*[a-zA-Z]")


class Pair:
    def __init__(self, w: int, h: int):
        self.raw = pyte.Screen(w, h)
        self.dif = pyte.Screen(w, h)
        self._sr, self._sd = pyte.Stream(self.raw), pyte.Stream(self.dif)
        self.differ = ScreenDiffer()
        self.differ.width, self.differ.height = w, h

    def write(self, data: str) -> str:
        out = self.differ.process(data)
        self._sr.feed(_PYTE_UNKNOWN.sub("", data))
        self._sd.feed(_PYTE_UNKNOWN.sub("", out))
        return out

    def mismatches(self) -> list[tuple[int, int]]:
        bad = []
        for y in range(self.raw.lines):
            a, b = self.raw.buffer[y], self.dif.buffer[y]
            for x in range(self.raw.columns):
                if a[x] != b[x]:
                    bad.append((x, y))
        return bad


STYLES = ["", "1", "2", "38;5;77", "38;5;203;48;5;233", "1;38;5;195;48;5;32", "7", "38;2;10;200;30",
          "4;38;5;221", "0;1;4;7", "3;9;48;2;18;18;18", "1;2;38;2;95;215;95;48;2;18;18;18", "5;31;42",
          "38;2;95;215;95;48;2;18;18;18", "22", "27;39", "91;104", "1;3;4;5;7;9"]
TEXT = st.text(alphabet="ab █▏·▁▇°│─╭日本", min_size=1, max_size=12)


@st.composite
def frames(draw, w=30, h=8):
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        y, x = draw(st.integers(1, h)), draw(st.integers(1, w - 4))
        parts.append(f"\x1b[{y};{x}H")
        for _ in range(draw(st.integers(1, 3))):
            parts.append(f"\x1b[{draw(st.sampled_from(STYLES))}m")
            text = draw(TEXT)
            room = w - x + 1
            # stay inside the line, as Textual does; a wide char never straddles the edge
            cut = ""
            used = 0
            for ch in text:
                cw = 2 if ch in "日本" else 1
                if used + cw > room:
                    break
                cut += ch
                used += cw
            parts.append(cut)
            x += used
            if draw(st.integers(0, 3)):  # Textual resets after a segment; not always (sgr deltas)
                parts.append("\x1b[0m")
            if x > w - 2:
                break
        if draw(st.booleans()):
            parts.append("\n")
    if draw(st.integers(0, 9)) == 0:
        parts.append("\x1b[2J")
    return "".join(parts)


@settings(max_examples=int(__import__("os").environ.get("TERMDIFF_EXAMPLES", "300")), deadline=None)
@given(st.lists(frames(), min_size=1, max_size=8))
def test_random_frames_render_identically(writes):
    pair = Pair(30, 8)
    for w in writes:
        pair.write(w)
        assert pair.mismatches() == []


def test_repeating_a_frame_sends_nothing_new():
    pair = Pair(40, 5)
    frame = "\x1b[2;3H\x1b[38;5;77m██████\x1b[0m\x1b[2;10H\x1b[1m 58°C\x1b[0m"
    first = pair.write(frame)
    again = pair.write(frame)
    assert "██" in first and again == ""  # unchanged cells are not resent
    changed = pair.write(frame.replace("58", "59"))
    assert re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", changed) in ("9", "9°C")  # one cell (+ the rest if cheaper)
    assert pair.mismatches() == []


def test_escape_cut_between_writes():
    pair = Pair(20, 3)
    pair.write("\x1b[1;1H\x1b[38;5")
    pair.write(";77mok\x1b[0m")
    assert pair.dif.display[0].startswith("ok") and pair.mismatches() == []


def test_invalidate_resends_everything():
    pair = Pair(20, 3)
    frame = "\x1b[1;1Hhello"
    pair.write(frame)
    pair.differ.invalidate()
    assert "hello" in pair.write(frame)


def test_real_textual_session_through_a_pty(tmp_path):
    """Run the real app in a pseudo-terminal with every raw write dumped; replay the dump."""
    from ptyrun import measure

    dump = tmp_path / "writes.jsonl"
    exe = [sys.executable, "-m", "ftmllm_tui.cli", "--interval", "0.5"]
    res = measure(exe, 100, 30, seconds=5, warmup=1,
                  env={"FTMLLM_TERM_DUMP": str(dump), "PYTHONPATH": str(ROOT)})
    writes = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(writes) > 5 and res["bytes_total"] > 0
    pair = Pair(100, 30)
    for w in writes:
        pair.write(w)
        assert pair.mismatches() == []
    assert "Processes" in "\n".join(pair.dif.display)
    # and the point of it all: far fewer bytes than Textual wrote
    assert pair.differ.bytes_out < 0.5 * pair.differ.bytes_in


def test_truecolor_that_is_an_xterm_colour_goes_as_256():
    from ftmllm_tui.ui.termdiff import shorten_truecolor

    assert shorten_truecolor("1;38;2;95;215;95;48;2;18;18;18") == "1;38;5;77;48;5;233"
    assert shorten_truecolor("38;2;10;200;30") == "38;2;10;200;30"  # not one of the 256: kept exact
    assert shorten_truecolor("38;5;38;2") == "38;5;38;2"  # colour 38, then dim: not a truecolor
    pair = Pair(20, 2)
    out = pair.write("\x1b[1;1H\x1b[38;2;255;95;95mred\x1b[0m")
    assert "38;5;203" in out and "38;2" not in out
    assert pair.mismatches() == []
