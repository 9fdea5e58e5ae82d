"""What the process table shows: filter, "mine only", sort by any column, tree (launcher -> workers).

Pure functions over a snapshot, so the UI only maps entries to cells and tests need no UI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ftmllm_tui.core.gpus.snapshot import ProcessRow, Snapshot


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort: Callable[[ProcessRow], Any]
    descending_first: bool = False  # numbers people want biggest-first (like top)


def _num(v: float | int | None) -> float:
    return -1.0 if v is None else float(v)


COLUMNS: tuple[Column, ...] = (
    Column("gpu", "GPU", lambda r: r.gpu_index),
    Column("pid", "PID", lambda r: r.pid),
    Column("user", "USER", lambda r: r.user.lower()),
    Column("gpu_mem", "GPU-MEM", lambda r: _num(r.gpu.gpu_memory_bytes), True),
    Column("sm", "SM%", lambda r: _num(r.gpu.sm_pct), True),
    Column("cpu", "CPU%", lambda r: _num(r.info.cpu_pct), True),
    Column("rss", "RSS", lambda r: _num(r.info.rss_bytes), True),
    Column("time", "TIME", lambda r: _num(r.elapsed_s), True),
    Column("run", "RUN", lambda r: r.info.run_id or ""),
    Column("command", "COMMAND", lambda r: r.info.command.lower()),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
_BY_KEY = {c.key: c for c in COLUMNS}


def column(key: str) -> Column:
    return _BY_KEY[key]


@dataclass(frozen=True)
class ViewOptions:
    sort: str = "gpu"
    reverse: bool = False
    filter: str = ""
    mine_only: bool = False
    tree: bool = False


@dataclass(frozen=True)
class Entry:
    """One table line: a process row, or (tree view) the launcher its workers share."""

    key: str
    depth: int
    row: ProcessRow | None = None
    launcher_pid: int | None = None
    launcher_cmd: tuple[str, ...] = ()
    branch: str = ""  # "├─ " / "└─ " in tree view
    members: tuple[ProcessRow, ...] = ()  # for a launcher: its GPU processes


def matches(row: ProcessRow, text: str) -> bool:
    """Every word of ``text`` occurs in the user, the command, the PID or the run id."""
    words = text.lower().split()
    if not words:
        return True
    hay = " ".join((row.user, row.info.command, str(row.pid), row.info.run_id or "",
                    row.info.reason or "")).lower()
    return all(w in hay for w in words)


def _sorted(rows: list[ProcessRow], opts: ViewOptions) -> list[ProcessRow]:
    col = _BY_KEY.get(opts.sort, COLUMNS[0])
    desc = col.descending_first != opts.reverse
    # stable tie-breakers: GPU then PID, always ascending
    rows = sorted(rows, key=lambda r: (r.gpu_index, r.pid))
    return sorted(rows, key=col.sort, reverse=desc)


def entries(snapshot: Snapshot, opts: ViewOptions) -> list[Entry]:
    rows = [r for r in snapshot.processes
            if (not opts.mine_only or r.mine) and matches(r, opts.filter)]
    rows = _sorted(rows, opts)
    if not opts.tree:
        return [Entry(key=r.key, depth=0, row=r) for r in rows]
    return _tree(rows)


ORPHAN_CMD = ("(orphans: their launcher is gone)",)


def _tree(rows: list[ProcessRow]) -> list[Entry]:
    """Group GPU processes under their parent (the launcher); nested when the parent is on a GPU."""
    first_row: dict[int, ProcessRow] = {}
    for r in rows:
        first_row.setdefault(r.pid, r)
    children: dict[str, list[ProcessRow]] = {}
    launchers: dict[str, tuple[int | None, tuple[str, ...]]] = {}
    roots: list[str] = []
    for r in rows:
        ppid = r.info.ppid
        if ppid is not None and ppid in first_row and first_row[ppid] is not r:
            parent_key = first_row[ppid].key
        elif ppid is None or not r.info.resolved:
            parent_key = f"solo:{r.key}"
            launchers[parent_key] = (None, ())
        else:
            parent_key = f"launcher:{ppid}"
            cmd = ORPHAN_CMD if ppid <= 1 else (r.info.parent_cmdline or (f"pid {ppid}",))
            launchers.setdefault(parent_key, (ppid, cmd))
        if parent_key not in children:
            children[parent_key] = []
            if parent_key in launchers:
                roots.append(parent_key)
        children[parent_key].append(r)

    out: list[Entry] = []

    def walk(r: ProcessRow, depth: int, branch: str) -> None:
        out.append(Entry(key=r.key, depth=depth, row=r, branch=branch))
        kids = children.get(r.key, [])
        for i, k in enumerate(kids):
            walk(k, depth + 1, "└─ " if i == len(kids) - 1 else "├─ ")

    for key in roots:
        pid, cmd = launchers[key]
        kids = children[key]
        if key.startswith("solo:"):
            for k in kids:
                walk(k, 0, "")
            continue
        out.append(Entry(key=key, depth=0, launcher_pid=pid, launcher_cmd=cmd, members=tuple(kids)))
        for i, k in enumerate(kids):
            walk(k, 1, "└─ " if i == len(kids) - 1 else "├─ ")
    return out
