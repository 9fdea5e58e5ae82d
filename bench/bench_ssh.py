"""Idle cost of the app over a real SSH link: a throwaway OpenSSH server on 127.0.0.1
(tests/integration/sshd.py), the real `ssh -tt` client under a pseudo-terminal we own, the app
started by the remote command (replay of the bundled recording, 1 s refresh), left idle.

Per size (120×40, 80×24), after the full UI is up and a warm-up:

* bytes_per_s: the terminal stream arriving at the local side (read from ssh's pty: what the
  user's terminal receives);
* wire_bytes_per_s: what the ssh client read from its socket (/proc/PID/io rchar: encrypted SSH
  packets with MACs and padding; TCP/IP headers not included);
* local_pty_bytes_per_s: the same app directly under a pty, same length (bench/ptyrun.py), for
  comparison;
* app_cpu_pct: the remote app's CPU (% of one core) meanwhile; first frame (data), full UI, quit
  (q until the ssh client returned), all over ssh.

No keep-alives on either side (stock ssh/sshd settings), so the wire carries only the app's output.
Prints JSON lines.

    python bench/bench_ssh.py [--seconds 30] [--warmup 5] [--quick] [--no-local]
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
import tempfile
import termios
import time
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from ftmllm_tui.core.gpus.samplers import bundled_recording  # noqa: E402
from integration.sshd import Sshd, remote_command  # noqa: E402
from ptyrun import measure  # noqa: E402


def _rchar(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def _app(mark: str) -> psutil.Process | None:
    for p in psutil.process_iter():
        try:
            if p.environ().get("FTMLLM_BENCH_MARK") == mark and "ftmllm_tui.cli" in p.cmdline():
                return p
        except psutil.Error:
            pass
    return None


def _cpu(p: psutil.Process | None) -> float:
    try:
        return sum(p.cpu_times()[:2]) if p is not None else 0.0
    except psutil.Error:
        return 0.0


def over_ssh(server: Sshd, tmp: Path, cols: int, rows: int, seconds: float, warmup: float) -> dict:
    mark = uuid.uuid4().hex
    env = {"FTMLLM_BENCH_MARK": mark, "HOME": str(tmp), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp / "config"), "XDG_STATE_HOME": str(tmp / "state"),
           "TERM": "xterm-256color"}
    cmd = remote_command([sys.executable, "-m", "ftmllm_tui.cli", "--interval", "1",
                          "--replay", str(bundled_recording())], env, cwd=tmp)
    argv = server.ssh(cmd, keepalive=0)
    pid, fd = pty.fork()
    if pid == 0:  # the size is the terminal's before ssh asks for it
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    start = time.monotonic()
    first = ui = None
    seen = b""
    app = None
    window = None  # (t0, bytes0, rchar0, cpu0) at the start of the measured window
    total = 0
    result: dict = {}
    try:
        while True:
            now = time.monotonic()
            if ui is None and now - start > 60:
                raise RuntimeError(f"no UI over ssh within 60 s: {seen[-500:]!r}\n{server.log_text()[-1500:]}")
            if window is None and ui is not None and now - (start + ui) >= warmup:
                app = _app(mark)
                window = (now, total, _rchar(pid), _cpu(app))
            if window is not None and now - window[0] >= seconds:
                dt = now - window[0]
                result = {"bytes_per_s": round((total - window[1]) / dt, 1),
                          "wire_bytes_per_s": round((_rchar(pid) - window[2]) / dt, 1),
                          "app_cpu_pct": round(100 * (_cpu(app) - window[3]) / dt, 2),
                          "measured_s": round(dt, 1)}
                break
            r, _, _ = select.select([fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                raise RuntimeError(f"ssh ended early: {seen[-500:]!r}\n{server.log_text()[-1500:]}") from None
            total += len(data)
            if ui is None:
                seen += data
                if first is None and b"Processes" in seen:
                    first = time.monotonic() - start
                if b"Filter" in seen:
                    ui = time.monotonic() - start
            if b"\x1b[6n" in data:  # answer like a terminal would
                os.write(fd, f"\x1b[{rows};{cols}R".encode())
            if b"\x1b[c" in data:
                os.write(fd, b"\x1b[?62;22c")
        t_quit = time.monotonic()
        os.write(fd, b"q")
        quit_s = None
        while time.monotonic() - t_quit < 10:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                quit_s = round(time.monotonic() - t_quit, 3)
                pid = 0
                break
            try:
                if select.select([fd], [], [], 0.05)[0]:
                    os.read(fd, 65536)
            except OSError:
                pass
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(fd)
    return {"first_frame_s": None if first is None else round(first, 3),
            "ui_frame_s": None if ui is None else round(ui, 3), "quit_s": quit_s, **result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="measured idle window per size (default 30)")
    ap.add_argument("--warmup", type=float, default=5.0, help="idle seconds after the full UI before measuring")
    ap.add_argument("--quick", action="store_true", help="8 s windows, 2 s warm-up")
    ap.add_argument("--no-local", action="store_true", help="skip the direct-pty comparison")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.warmup = 8.0, 2.0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with Sshd(tmp / "sshd", log_level="INFO") as server:
            for cols, rows in ((120, 40), (80, 24)):
                r = over_ssh(server, tmp, cols, rows, a.seconds, a.warmup)
                row = {"name": f"idle over ssh {cols}x{rows} (replay, 1 s refresh)", "cols": cols, "rows": rows,
                       "seconds": a.seconds, **r}
                if not a.no_local:
                    loc = measure([sys.executable, "-m", "ftmllm_tui.cli", "--interval", "1", "--replay",
                                   str(bundled_recording())], cols, rows,
                                  seconds=a.seconds + a.warmup + (r["ui_frame_s"] or 0), warmup=a.warmup
                                  + (r["ui_frame_s"] or 0), marker=b"Processes", ui_marker=b"Filter",
                                  env={"PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
                                       "XDG_CONFIG_HOME": str(tmp / "config"),
                                       "XDG_STATE_HOME": str(tmp / "state")})
                    row["local_pty_bytes_per_s"] = loc["bytes_per_s_steady"]
                    row["local_cpu_pct"] = loc["cpu_pct_steady"]
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
