"""Run the TUI in a pseudo-terminal for a few seconds and print the screen as text (via pyte).

For machines without tmux (the GPU hosts lent to CI-less benchmarks):
    python bench/capture.py --cols 120 --rows 40 --seconds 6 [--keys t] -- python -m ftmllm_tui.cli
"""

import argparse
import fcntl
import os
import pty
import select
import struct
import termios
import time

import pyte

ap = argparse.ArgumentParser()
ap.add_argument("--cols", type=int, default=120)
ap.add_argument("--rows", type=int, default=40)
ap.add_argument("--seconds", type=float, default=6)
ap.add_argument("--keys", default="", help="keys to press after half the time")
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
screen = pyte.Screen(a.cols, a.rows)
stream = pyte.ByteStream(screen)
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", a.rows, a.cols, 0, 0))
start = time.monotonic()
pressed = False
while time.monotonic() - start < a.seconds:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        stream.feed(data.replace(b"\x1b[<u", b"").replace(b"\x1b[>1u", b""))
        if b"\x1b[6n" in data:
            os.write(fd, f"\x1b[{a.rows};{a.cols}R".encode())
    if a.keys and not pressed and time.monotonic() - start > a.seconds / 2:
        os.write(fd, a.keys.encode())
        pressed = True
os.write(fd, b"q")
time.sleep(0.5)
try:
    os.kill(pid, 9)
except ProcessLookupError:
    pass
print("\n".join(line.rstrip() for line in screen.display))
