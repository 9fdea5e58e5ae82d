"""Following a 1 GB console.log: last page on open, memory, and the cost of one poll.

The log is the real tiny-LoRA console.log (tests/data, tqdm `\\r` redraws included) repeated to
1 GiB, plus one marker line at the end; it is written to a temp dir and deleted afterwards. It was
just written, so it is in the page cache for every reader below.

* ``last page``: in a fresh subprocess, ``TailReader(path, last_lines=60)`` then ``poll()``; its
  wall time (target ≤ 0.3 s), the bytes it read, and the subprocess's peak RSS (ru_maxrss, whole
  interpreter included; target ≤ 150 MB). No peer: Toolong has no reader-only mode.
* ``first frame``: time until the marker (the file's last line) is on a pseudo-terminal
  (bench/ptyrun.py ``measure``, 120×40), for a minimal Textual app that shows TailReader's last page
  in a RichLog, and for the peer, Toolong (``tl FILE``): it opens in tail mode by default, i.e.
  scrolled to the end, but scans the whole file for line breaks first. Peak RSS of both (process
  RSS probed every 0.5 s). Also Toolong's first frame with any log content ("Scanning…" overlay).
* ``toolong, long tqdm lines``: Toolong on a small log whose last page holds training lines with
  10 tqdm redraws each (~700 characters, what logging_steps=10 prints); its format regexes
  backtrack on such lines.
* ``poll``: append 100 console lines to the followed 1 GB file, then time ``poll()`` (median, p95;
  target ≤ 5 ms).

Toolong pins textual<0.59, so it cannot live in the project's venv: install it apart
(``python3 -m venv /tmp/venv-toolong && /tmp/venv-toolong/bin/pip install toolong==1.5.0``) and
point ``TL=/tmp/venv-toolong/bin/tl`` at it (else ``tl`` on PATH, else that path; else no peer).
Prints JSON lines: name, value, unit, target, peer (Toolong's figure), ratio (peer / ours), note.

    .venv/bin/python bench/bench_logs.py [--toolong-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from ptyrun import measure

from ftmllm_tui.core.follow.logs import TailReader

CONSOLE = ROOT / "tests" / "data" / "console_tiny_lora_sft.log"
MARKER = b"TAILENDMARKER"
LAST = 60

OPEN_LAST_PAGE = """
import json, resource, sys, time
t0 = time.perf_counter()
from ftmllm_tui.core.follow.logs import TailReader
t1 = time.perf_counter()
r = TailReader(sys.argv[1], last_lines=int(sys.argv[2]))
lines = r.poll().lines
t2 = time.perf_counter()
assert len(lines) == int(sys.argv[2]) and "TAILENDMARKER" in lines[-1], lines[-3:]
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "bytes_read": r.bytes_read,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

TEXTUAL_TAIL = """
import sys
from rich.text import Text
from textual.app import App
from textual.widgets import RichLog
from ftmllm_tui.core.follow.logs import TailReader

class Tail(App):
    def compose(self):
        yield RichLog(max_lines=2000)

    def on_mount(self):
        self.reader = TailReader(sys.argv[1], last_lines=int(sys.argv[2]))
        self.poll()
        self.set_interval(0.25, self.poll)

    def poll(self):
        log = self.query_one(RichLog)
        chunk = self.reader.poll()
        if chunk.reset:
            log.clear()
        for line in chunk.lines:
            log.write(Text.from_ansi(line))

Tail().run()
"""


def emit(name: str, value: float | None, unit: str, target: str | None = None,
         peer: float | None = None, note: str | None = None) -> None:
    ratio = round(peer / value, 1) if peer is not None and value else None
    row = {"name": name, "value": value, "unit": unit, "target": target, "peer": peer,
           "ratio": ratio}
    if note:
        row["note"] = note
    print(json.dumps(row, ensure_ascii=False), flush=True)


def make_log(path: Path, size: int = 1 << 30) -> None:
    block = CONSOLE.read_bytes() * 32  # ~1.1 MB of real console output
    with open(path, "wb") as f:
        f.writelines(block for _ in range(size // len(block) + 1))
        f.write(b"[INFO|bench] end of the generated log " + MARKER + b"\n")


def long_tqdm_log(path: Path) -> None:
    """~100 training lines as printed with logging_steps=10: 10 bar redraws, then the loss."""
    lines = []
    for i in range(100):
        bars = "".join(f"\r {s * 100 // 5400:3d}%|{'█' * (s // 540):<10}| {s}/5400 "
                       f"[{s // 60:02d}:{s % 60:02d}<1:23:20,  1.08it/s]"
                       for s in range(i * 10, i * 10 + 10))
        lines.append(bars + "\r" + " " * 48 + "\r{'loss': '1.234', 'grad_norm': '0.5', "
                     f"'learning_rate': '9.9e-05', 'epoch': '{i / 100:.2f}'}}\n")
    path.write_bytes("".join(lines).encode() + b"[INFO|bench] end " + MARKER + b"\n")


def toolong_exe() -> str | None:
    here = Path(__file__).resolve().parents[1] / ".venv-toolong" / "bin" / "tl"  # made by run_all.py
    for cand in (os.environ.get("TL"), str(here), shutil.which("tl"), "/tmp/venv-toolong/bin/tl"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def bench_open(path: Path, runs: int = 5) -> dict:
    outs = []
    for _ in range(runs):
        r = subprocess.run([sys.executable, "-c", OPEN_LAST_PAGE, str(path), str(LAST)],
                           capture_output=True, text=True, check=True, cwd=ROOT)
        outs.append(json.loads(r.stdout))
    return {"open_s": statistics.median(o["open_s"] for o in outs),
            "open_max_s": max(o["open_s"] for o in outs),
            "import_s": statistics.median(o["import_s"] for o in outs),
            "bytes_read": max(o["bytes_read"] for o in outs),
            "rss_mb": max(o["rss_mb"] for o in outs)}


def bench_poll(path: Path, rounds: int = 200) -> list[float]:
    lines = CONSOLE.read_bytes().split(b"\n")
    batch = b"\n".join(lines[230:330]) + b"\n"  # 100 lines: tqdm redraws, eval and loss lines
    reader = TailReader(path, last_lines=LAST)
    reader.poll()
    times = []
    with open(path, "ab", buffering=0) as w:
        for _ in range(rounds):
            w.write(batch)
            t0 = time.perf_counter()
            chunk = reader.poll()
            times.append(time.perf_counter() - t0)
            assert len(chunk.lines) == 100 and not chunk.more, len(chunk.lines)
    reader.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--toolong-seconds", type=float, default=30.0,
                    help="how long Toolong runs on the 1 GB file (its scan took ~18 s here)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_logs_") as d:
        path = Path(d) / "console.log"
        t0 = time.perf_counter()
        make_log(path)
        emit("generate the 1 GiB log", round(time.perf_counter() - t0, 2), "s",
             note=f"{path.stat().st_size} bytes")

        o = bench_open(path)
        tl = toolong_exe()
        peer = None
        if tl:
            peer = measure([tl, str(path)], 120, 40, a.toolong_seconds, 2.0, keys_at_end=None,
                           marker=MARKER, ui_marker=b"Scanning")
        emit("last page (60 lines) of 1 GiB: TailReader open + poll", round(o["open_s"] * 1000, 3),
             "ms", "<= 300", note=f"median of 5 fresh processes, max {o['open_max_s'] * 1000:.3f} ms, "
             f"read {o['bytes_read']} bytes; importing the module {o['import_s'] * 1000:.1f} ms")
        emit("peak RSS of a process that only opens the last page", round(o["rss_mb"], 1), "MB",
             "<= 150", note="ru_maxrss of the child, the interpreter included")

        app = measure([sys.executable, "-c", TEXTUAL_TAIL, str(path), str(LAST)], 120, 40, 4.0,
                      1.0, keys_at_end=None, marker=MARKER)
        emit("first frame showing the last line: minimal Textual app + TailReader vs Toolong",
             app["first_frame_s"], "s", None, peer and peer["first_frame_s"],
             "pty 120x40; the app: textual 8.2.8, RichLog; Toolong 1.5.0 (textual 0.58.1) in tail "
             "mode, its default")
        real = measure([sys.executable, "-m", "ftmllm_tui.cli", "--open", str(path)], 120, 40, 6.0, 1.0,
                       keys_at_end=b"q", marker=MARKER,
                       env={"PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                            "FTMLLM_SPLASH": "0"})
        emit("ftmllm-tui --open 1 GiB log: last line on screen (whole app: start, GPU view, detail "
             "view)", real["first_frame_s"], "s", "<= 0.3 (the reader alone)",
             peer and peer["first_frame_s"], "pty 120x40; the app's start-up (import Textual…) is "
             "most of it")
        emit("ftmllm-tui --open 1 GiB log: peak RSS", real["rss_peak_mb"], "MB", "<= 150",
             peer and peer["rss_peak_mb"])
        emit("peak RSS: minimal Textual app + TailReader vs Toolong", app["rss_peak_mb"], "MB",
             None, peer and peer["rss_peak_mb"],
             f"process RSS probed every 0.5 s, over 4 s (app) and {a.toolong_seconds:.0f} s "
             "(Toolong: its mmap'ed file pages count)")
        if peer:
            emit("toolong: first frame with any log content (while it scans)", peer["ui_frame_s"],
                 "s", note="the 'Scanning…' overlay over lines near, not at, the end")

            small = Path(d) / "long_tqdm.log"
            long_tqdm_log(small)
            m = measure([tl, str(small)], 120, 40, 10.0, 2.0, keys_at_end=None, marker=MARKER)
            emit("toolong: last line shown, 100 training lines of ~700 chars (tqdm)",
                 m["first_frame_s"], "s",
                 note=f"{small.stat().st_size} bytes; null = not within 10 s (regex backtracking "
                      "in toolong.format_parser on each visible line)")
            app2 = measure([sys.executable, "-c", TEXTUAL_TAIL, str(small), str(LAST)], 120, 40,
                           3.0, 1.0, keys_at_end=None, marker=MARKER)
            emit("same small log: minimal Textual app + TailReader", app2["first_frame_s"], "s")
        else:
            emit("toolong", None, "", note="not found: set TL=/path/to/tl (see the docstring)")

        times = bench_poll(path)
        med = statistics.median(times)
        p95 = sorted(times)[int(0.95 * len(times)) - 1]
        emit("poll() after appending 100 lines to the followed 1 GiB file, median",
             round(med * 1000, 3), "ms", "<= 5", note=f"p95 {p95 * 1000:.3f} ms, {len(times)} rounds")


if __name__ == "__main__":
    main()
