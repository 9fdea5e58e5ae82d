"""The process table: GPU processes as rows of a FastTable, repainting only what changed."""

from __future__ import annotations

from rich.text import Text

from ...core import fmt
from ...core.gpus.proctable import COLUMN_KEYS, Entry, ViewOptions, column, entries
from ...core.gpus.snapshot import Snapshot
from ..palette import PALETTE
from .fast_table import Col, FastTable

WIDTHS = {"gpu": 3, "pid": 7, "user": 8, "gpu_mem": 7, "sm": 3, "cpu": 5, "rss": 5,
          "time": 7, "run": 8}
RIGHT = {"gpu", "pid", "gpu_mem", "sm", "cpu", "rss", "time"}
MIN_COMMAND = 16


def _pct(v: float | int | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def row_cells(e: Entry) -> dict[str, Text]:
    return dict(zip(COLUMN_KEYS, _cells(e)))


def _cells(e: Entry) -> tuple[Text, ...]:
    if e.row is None:  # a launcher in tree view
        mem = sum(m.gpu.gpu_memory_bytes or 0 for m in e.members)
        gpus = sorted({m.gpu_index for m in e.members})
        style = PALETTE.muted
        cmd = Text("▾ ", style=style)
        cmd.append(fmt.short_command(e.launcher_cmd), style=f"italic {style}")
        return (
            Text(",".join(map(str, gpus)) if len(gpus) <= 2 else f"{len(gpus)}", style=style),
            Text("" if e.launcher_pid is None else str(e.launcher_pid), style=style),
            Text(""), Text(fmt.bytes_h(mem), style=style),
            Text(""), Text(""), Text(""), Text(""), Text(""),
            cmd,
        )
    r = e.row
    base = "" if r.mine else PALETTE.others
    user_style = f"bold {PALETTE.user(r.user)}" if r.mine else PALETTE.user(r.user)
    if not r.info.resolved:
        user_style = f"italic {PALETTE.muted}"
    cmd = Text(e.branch, style=PALETTE.muted)
    if r.info.resolved:
        cmd.append(fmt.short_command(r.info.cmdline), style="bold" if r.mine else base)
    else:
        cmd.append(f"<{r.info.reason}>", style=f"italic {PALETTE.muted}")
    mem = r.gpu.gpu_memory_bytes
    cpu = r.info.cpu_pct
    return (
        Text(str(r.gpu_index), style=base),
        Text(str(r.pid), style=base),
        Text(r.user, style=user_style),
        Text(fmt.bytes_h(mem) if mem is not None else "N/A", style=base),
        Text(_pct(r.gpu.sm_pct), style=base),
        Text(_pct(cpu, 0 if (cpu or 0) >= 10 else 1), style=base),  # 99.9/100/99.8 is noise, not news
        Text(fmt.bytes_h(r.info.rss_bytes), style=base),
        Text(fmt.age(r.elapsed_s), style=base),
        Text(r.info.run_id or "", style=base),
        cmd,
    )


class ProcessTable(FastTable):
    """Rows keyed ``"<gpu>:<pid>"``; the RUN column appears only when some process has a run."""

    def __init__(self, *, options: ViewOptions | None = None, **kw):
        super().__init__(**kw)
        self.options = options or ViewOptions()
        self._snapshot: Snapshot | None = None
        self._with_run = False
        self.shown: list[Entry] = []
        self.marked: set[str] = set()  # row keys marked with space (for k)

    def _columns(self) -> tuple[Col, ...]:
        keys = [k for k in COLUMN_KEYS if k != "command" and (k != "run" or self._with_run)]
        fixed = sum(max(WIDTHS[k], len(column(k).label) + 1) + 1 for k in keys)
        cmd_width = max(MIN_COMMAND, self.size.width - fixed - 1 - 1)
        cols = []
        for k in keys + ["command"]:
            c = column(k)
            label = c.label
            if k == self.options.sort:
                label += "▼" if c.descending_first != self.options.reverse else "▲"
            width = WIDTHS.get(k, cmd_width)
            cols.append(Col(k, label, max(width, len(c.label) + 1) if k != "command" else width,
                            "right" if k in RIGHT else "left"))
        return tuple(cols)

    def set_options(self, options: ViewOptions) -> None:
        self.options = options
        if self._snapshot is not None:
            self.show(self._snapshot)

    def on_resize(self) -> None:
        if self._snapshot is not None:
            self.show(self._snapshot)

    def show(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._with_run = any(p.info.run_id for p in snapshot.processes)
        cols = self._columns()
        self.set_columns(cols, sorted_column=self.options.sort)
        shown = entries(snapshot, self.options)
        self.shown = shown
        keys = [c.key for c in cols]
        cells = {}
        self.marked &= {e.key for e in shown if e.row is not None}
        for e in shown:
            d = row_cells(e)
            if e.key in self.marked:
                d["gpu"] = Text("●", style=f"bold {PALETTE.danger}") + d["gpu"]
                d["gpu"].justify = "right"
            cells[e.key] = tuple(d[k] for k in keys)
        self.set_rows([e.key for e in shown], cells)

    def toggle_mark(self) -> None:
        e = self.selected_entry()
        if e is None or e.row is None:
            return
        self.marked ^= {e.key}
        if self._snapshot is not None:
            self.show(self._snapshot)
        self.action_cursor(1)

    def picked(self) -> list:
        """(pid, create_time, GPUs, GPU memory) of the marked rows, or of the row under the cursor
        (for a launcher row in tree view: all its workers)."""
        entries_ = [e for e in self.shown if e.key in self.marked] or (
            [self.selected_entry()] if self.selected_entry() is not None else [])
        rows = []
        for e in entries_:
            rows += [e.row] if e.row is not None else list(e.members)
        by_pid: dict[int, list] = {}
        for r in rows:
            cur = by_pid.setdefault(r.pid, [r.pid, r.info.create_time, [], 0])
            cur[2].append(r.gpu_index)
            cur[3] += r.gpu.gpu_memory_bytes or 0
        return [(pid, ct, tuple(g), mem or None) for pid, ct, g, mem in by_pid.values()]

    def selected_entry(self) -> Entry | None:
        if 0 <= self.cursor_row < len(self.shown):
            return self.shown[self.cursor_row]
        return None
