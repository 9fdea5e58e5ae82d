"""Keys that arrive in one burst (a paste, tmux send-keys, a laggy SSH link) are applied in the order they were
typed: in a real pty, arrows + End + Enter + text written at once land on the right line of the editor.

Upstream (Textual 8.2.8) a key the focused TextArea takes itself (Enter, text) is applied at once, while a key
that is a binding (Down, End) bubbles up through every ancestor's message queue and runs only when it is back
at the App — so the later Enter and text overtook the earlier arrows. The app's driver (ui/driver.py) hands
over the next key only when the previous one has settled."""

from __future__ import annotations

import os
import time

import pytest

from .test_pty import read_until, running

DOWN, UP, END, HOME = b"\x1b[B", b"\x1b[A", b"\x1b[F", b"\x1b[H"


def _wait_file(path, cond, timeout=15.0) -> str:
    end = time.monotonic() + timeout
    text = path.read_text()
    while time.monotonic() < end and not cond(text):
        time.sleep(0.05)
        text = path.read_text()
    return text


@pytest.mark.parametrize("diff", ["1", "0"])  # with the diffing driver, and with Textual's drawing (FTMLLM_TERM_DIFF=0)
def test_a_burst_of_arrows_end_enter_and_text_lands_where_typed(tmp_path, diff):
    cfg = tmp_path / "five.yaml"
    cfg.write_text("a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n")
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "FTMLLM_LLAMAFACTORY_CLI": str(tmp_path / "none"), "FTMLLM_SPLASH": "0", "FTMLLM_TERM_DIFF": diff}
    with running(["edit", str(cfg)], cols=100, rows=30, env=env) as (_pid, fd):
        out = read_until(fd, b"warning(s)", 30)  # loaded and validated: the text area is editable
        assert b"warning(s)" in out, out[-2000:]
        os.write(fd, DOWN * 3 + END + b"\rXY: 7")          # one write: what tmux send-keys does
        os.write(fd, HOME + UP + UP + END + b"\rq: 1" + DOWN * 9 + b"\r# end")  # and another right after
        os.write(fd, b"\x13")  # ctrl+s: the save dialog with the diff
        assert b"(editor)" in read_until(fd, b"(editor)", 15)
        os.write(fd, b"\r")
        text = _wait_file(cfg, lambda t: "# end" in t)
        # (the file's last line is the empty one after "e: 5\n": Down×9 stops there)
        assert text == "a: 1\nb: 2\nc: 3\nq: 1\nd: 4\nXY: 7\ne: 5\n\n# end", text
