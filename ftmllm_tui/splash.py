"""First frame before the UI toolkit has loaded.

Importing Textual takes ~0.2 s on a fast core and ~0.5 s on a slow one; over SSH that is dead
air. The first sample costs a few milliseconds, so the current GPUs and processes are drawn at
once as plain text on the alternate screen; the full UI then paints over it. Nothing here imports
Textual. ``FTMLLM_SPLASH=0`` turns it off.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

from .core.gpus.report import snapshot_text
from .core.gpus.snapshot import Snapshot

ENTER = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J"
LEAVE = "\x1b[2J\x1b[?25h\x1b[?1049l"


def enabled(out: TextIO) -> bool:
    return os.environ.get("FTMLLM_SPLASH", "1").lower() not in ("0", "no", "off", "false") and (
        out.isatty())


def draw(snapshot: Snapshot, out: TextIO = sys.stdout) -> None:
    try:  # the terminal drawn on, as the UI will size itself (a stale exported COLUMNS/LINES is not it)
        cols, rows = os.get_terminal_size(out.fileno())
    except (AttributeError, ValueError, OSError):
        cols = rows = 0
    if not cols or not rows:
        cols, rows = shutil.get_terminal_size((80, 24))
    body = snapshot_text(snapshot, width=cols).splitlines()
    n = len(snapshot.processes)
    lines = [f"\x1b[1mftmllm-tui\x1b[0m  loading the interface…  Processes {n}", ""]
    lines += [line[:cols] for line in body]
    out.write(ENTER + "\r\n".join(lines[: rows - 1]))
    out.flush()


def undo(out: TextIO = sys.stdout) -> None:
    """Leave the alternate screen if the UI never started (it would have left it itself)."""
    out.write(LEAVE)
    out.flush()
