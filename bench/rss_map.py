"""Where a terminal program's memory goes: run it under a pty for N seconds, then group the RSS of
/proc/PID/smaps by mapping (anonymous memory, the heap, each shared library). One JSON line.

    python bench/rss_map.py --seconds 8 --label ours -- ftmllm-tui --interval 1
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import termios
import time


def spawn_in_pty(cmd: list[str], cols: int, rows: int):
    """(pid, drain(timeout), stop()): the program in a pty whose output is read and thrown away,
    answering cursor-position and device-attribute queries as ptyrun.py does."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = os.environ.get("FTMLLM_BENCH_TERM", "xterm-256color")
        os.execvp(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def drain(timeout: float) -> None:
        r, _, _ = select.select([fd], [], [], timeout)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if b"\x1b[6n" in data:
                os.write(fd, f"\x1b[{rows};{cols}R".encode())
            if b"\x1b[c" in data:
                os.write(fd, b"\x1b[?62;22c")

    def stop() -> None:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)

    return pid, drain, stop


def rss_by_mapping(pid: int) -> dict[str, int]:
    by: collections.Counter[str] = collections.Counter()
    cur = "[anon]"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split()
                cur = parts[5] if len(parts) > 5 else "[anon]"
            elif line.startswith("Rss:"):
                by[cur] += int(line.split()[1]) * 1024
    return dict(by)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", type=int, default=120)
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--label", default="")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    pid, drain, stop = spawn_in_pty(cmd, a.cols, a.rows)
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        drain(0.1)
    by = rss_by_mapping(pid)
    stop()
    total = sum(by.values())
    top = sorted(by.items(), key=lambda kv: -kv[1])[: a.top]
    print(json.dumps({"label": a.label, "rss_mb": round(total / 1e6, 1),
                      "top_mb": {os.path.basename(k) if k.startswith("/") else k: round(v / 1e6, 2)
                                 for k, v in top}}))


if __name__ == "__main__":
    main()
