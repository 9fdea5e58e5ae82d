"""The real program in a real pseudo-terminal: first frame, quitting fast, even mid-sample."""

from __future__ import annotations

import os
import pty
import select
import signal
import struct
import fcntl
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def spawn(args, cols=80, rows=24, env=None):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env or {})
        os.environ["TERM"] = "xterm-256color"
        os.environ["PYTHONPATH"] = str(ROOT)
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
    pid, fd = spawn(["--interval", "0.5"])
    try:
        out = read_until(fd, b"Processes", 15)
        assert b"Processes" in out, out[-500:]
        read_until(fd, b"\x00", 1.2)  # let a couple of samples happen
        t0 = time.monotonic()
        os.write(fd, b"q")
        code = wait_exit(pid, fd, 5)
        took = time.monotonic() - t0
        assert code == 0 and took < 2.0, (code, took)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)


def test_lost_terminal_exits_instead_of_spinning():
    """SSH drops: the terminal hangs up. The app must exit within a few seconds."""
    pid, fd = spawn(["--interval", "0.5"])
    try:
        assert b"Processes" in read_until(fd, b"Processes", 15)
        os.kill(pid, signal.SIGHUP)
        os.close(fd)
        fd = -1
        end = time.monotonic() + 5
        code = None
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = status
                break
            time.sleep(0.05)
        assert code is not None, "still running 5 s after SIGHUP"
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        if fd >= 0:
            os.close(fd)


def test_first_frame_shows_data_before_the_ui_loads():
    pid, fd = spawn(["--interval", "1"])
    try:
        out = read_until(fd, b"Filter", 15)  # the full UI's footer
        splash_at = out.find(b"loading the interface")
        ui_at = out.find(b"Filter")
        assert 0 <= splash_at < ui_at
        assert b"H200" in out[splash_at:ui_at] and b"alice" in out[splash_at:ui_at]
        os.write(fd, b"q")
        assert wait_exit(pid, fd, 5) == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)


def test_splash_can_be_turned_off():
    pid, fd = spawn(["--interval", "1"], env={"FTMLLM_SPLASH": "0"})
    try:
        out = read_until(fd, b"Filter", 15)
        assert b"Filter" in out and b"loading the interface" not in out
        os.write(fd, b"q")
        wait_exit(pid, fd, 5)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)
