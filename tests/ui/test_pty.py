"""The real program in a real pseudo-terminal: first frame, quitting fast, even mid-sample."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def spawn(args, cols=80, rows=24, env=None, replace_env=False):
    pid, fd = pty.fork()
    if pid == 0:
        if replace_env:  # exactly this environment (the colour and locale tests)
            os.environ.clear()
        else:
            os.environ["TERM"] = "xterm-256color"
        os.environ.update(env or {})
        extra = (env or {}).get("PYTHONPATH")  # a test's own import hooks, after the repo
        os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + extra if extra else "")
        os.execv(sys.executable, [sys.executable, "-m", "ftmllm_tui.cli", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def read_until(fd, marker: bytes, timeout: float) -> bytes:
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and marker not in buf:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                break
    return buf


@contextmanager
def running(args, **kw):
    """The app in a pty; killed at the end whatever happened."""
    pid, fd = spawn(args, **kw)
    try:
        yield pid, fd
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        try:
            os.close(fd)
        except OSError:
            pass


def wait_exit(pid, fd, timeout: float) -> int | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                os.read(fd, 65536)
            except OSError:
                pass
    return None


def test_first_frame_then_quit_within_2s():
    with running(["--interval", "0.5"]) as (pid, fd):
        out = read_until(fd, b"Processes", 15)
        assert b"Processes" in out, out[-500:]
        read_until(fd, b"\x00", 1.2)  # let a couple of samples happen
        t0 = time.monotonic()
        os.write(fd, b"q")
        code = wait_exit(pid, fd, 5)
        took = time.monotonic() - t0
        assert code == 0 and took < 2.0, (code, took)


def test_lost_terminal_exits_instead_of_spinning():
    """SSH drops: the terminal hangs up. The app must exit within a few seconds."""
    with running(["--interval", "0.5"]) as (pid, fd):
        assert b"Processes" in read_until(fd, b"Processes", 15)
        os.kill(pid, signal.SIGHUP)
        end = time.monotonic() + 5
        done = 0
        while time.monotonic() < end and not done:
            done, _ = os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        assert done, "still running 5 s after SIGHUP"


def test_first_frame_shows_data_before_the_ui_loads():
    with running(["--interval", "1"]) as (pid, fd):
        out = read_until(fd, b"Filter", 15)  # the full UI's footer
        splash_at = out.find(b"loading the interface")
        ui_at = out.find(b"Filter")
        assert 0 <= splash_at < ui_at
        assert b"H200" in out[splash_at:ui_at] and b"alice" in out[splash_at:ui_at]
        os.write(fd, b"q")
        assert wait_exit(pid, fd, 5) == 0


def test_splash_can_be_turned_off():
    with running(["--interval", "1"], env={"FTMLLM_SPLASH": "0"}) as (pid, fd):
        out = read_until(fd, b"Filter", 15)
        assert b"Filter" in out and b"loading the interface" not in out
