"""Run a terminal program under a real pseudo-terminal and measure what it costs at idle.

Measures, like the peer figures in DESIGN.md §4 (nvitop, scopos): time to first output, bytes
written to the terminal per second in the steady state, CPU % of one core in the steady state, and
peak RSS (whole process tree). Also answers the terminal's cursor-position and device-attribute
queries the way a terminal would, so programs that ask do not stall.

    python bench/ptyrun.py --cols 120 --rows 40 --seconds 40 -- ftmllm-tui --replay X.jsonl
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

import psutil


def _tree_cpu_rss(proc: psutil.Process) -> tuple[float, int]:
    cpu, rss = 0.0, 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0.0, 0
    for p in procs:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.Error:
            pass
    return cpu, rss


def measure(cmd: list[str], cols: int, rows: int, seconds: float, warmup: float,
            env: dict[str, str] | None = None, keys_at_end: bytes | None = b"q",
            marker: bytes | None = None, ui_marker: bytes | None = None) -> dict:
    """``marker``: the first frame is the first output that contains it (else: any output).
    ``ui_marker``: also time the first output containing this (e.g. the full UI's footer)."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ.update(env or {})
        os.environ["TERM"] = os.environ.get("FTMLLM_BENCH_TERM", "xterm-256color")  # not the caller's: comparable runs
        os.execvp(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = psutil.Process(pid)
    start = time.monotonic()
    first = None
    seen = b""
    ui_first = None
    ui_seen = b""
    total = 0
    steady_bytes = 0
    cpu_at_warm = None
    peak_rss = 0
    next_probe = start
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            total += len(data)
            if ui_marker is not None and ui_first is None:
                ui_seen += data
                if ui_marker in ui_seen:
                    ui_first = time.monotonic() - start
            if first is None:
                seen += data
                if marker is None or marker in seen:
                    first = time.monotonic() - start
                    seen = b""
            if now - start >= warmup:
                steady_bytes += len(data)
            # answer terminal queries: cursor position report and device attributes
            if b"\x1b[6n" in data:
                os.write(fd, f"\x1b[{rows};{cols}R".encode())
            if b"\x1b[c" in data:
                os.write(fd, b"\x1b[?62;22c")
        if now >= next_probe:
            cpu, rss = _tree_cpu_rss(proc)
            peak_rss = max(peak_rss, rss)
            if cpu_at_warm is None and now - start >= warmup:
                cpu_at_warm = (cpu, now)
            next_probe = now + 0.5
    cpu_end, rss = _tree_cpu_rss(proc)
    peak_rss = max(peak_rss, rss)
    end = time.monotonic()
    quit_s = None
    if keys_at_end is not None:
        t_quit = time.monotonic()
        try:
            os.write(fd, keys_at_end)
        except OSError:
            pass
        deadline = t_quit + 5
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                quit_s = time.monotonic() - t_quit
                break
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if ready:
                    os.read(fd, 65536)
            except OSError:
                pass
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    os.close(fd)
    steady_s = end - (start + warmup)
    cpu_pct = None
    if cpu_at_warm is not None:
        cpu_pct = 100 * (cpu_end - cpu_at_warm[0]) / max(1e-9, end - cpu_at_warm[1])
    return {
        "cmd": " ".join(cmd),
        "cols": cols,
        "rows": rows,
        "seconds": seconds,
        "first_frame_s": None if first is None else round(first, 3),
        "ui_frame_s": None if ui_first is None else round(ui_first, 3),
        "bytes_total": total,
        "bytes_per_s_steady": round(steady_bytes / max(1e-9, steady_s), 1),
        "cpu_pct_steady": None if cpu_pct is None else round(cpu_pct, 2),
        "rss_peak_mb": round(peak_rss / 1e6, 1),
        "quit_s": None if quit_s is None else round(quit_s, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cols", type=int, default=120)
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--marker", help="text that marks the first frame (default: any output)")
    ap.add_argument("--ui-marker", help="text that marks the full UI (timed too)")
    ap.add_argument("--label", help="a name for this row of results")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    marker = a.marker.encode() if a.marker else None
    ui = a.ui_marker.encode() if a.ui_marker else None
    res = measure(cmd, a.cols, a.rows, a.seconds, a.warmup, marker=marker, ui_marker=ui)
    if a.label:
        res = {"label": a.label, **res, "colorterm": os.environ.get("COLORTERM", "")}
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
