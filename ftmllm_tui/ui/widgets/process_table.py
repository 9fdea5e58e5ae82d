"""The process table: a DataTable updated by diff (cells by key), never cleared on a steady tick."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...core import fmt
from ...core.proctable import COLUMN_KEYS, COLUMNS, Entry, ViewOptions, column, entries
from ...core.snapshot import Snapshot
from ..palette import PALETTE

WIDTHS = {"gpu": 3, "pid": 7, "user": 8, "gpu_mem": 7, "sm": 3, "cpu": 5, "rss": 5,
          "time": 7, "run": 10, "command": None}
RIGHT = {"gpu", "pid", "gpu_mem", "sm", "cpu", "rss", "time"}


def _pct(v: float | int | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def row_cells(e: Entry, me: str) -> dict[str, Text]:
    cells = dict(zip(COLUMN_KEYS, _cells(e)))
    for key in RIGHT:
        cells[key].justify = "right"
    return cells


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
            Text("", style=style),
            Text(fmt.bytes_h(mem), style=style),
            Text(""), Text(""), Text(""), Text(""), Text(""),
            cmd,
        )
    r = e.row
    base = "" if r.mine else PALETTE.others
    user_style = f"bold {PALETTE.user(r.user)}" if r.mine else PALETTE.user(r.user)
    if not r.info.resolved:
        user_style = f"italic {PALETTE.muted}"
    cmd = Text(e.branch, style=PALETTE.muted, overflow="ellipsis", no_wrap=True)
    if r.info.resolved:
        cmd.append(fmt.short_command(r.info.cmdline), style="bold" if r.mine else base)
    else:
        cmd.append(f"<{r.info.reason}>", style=f"italic {PALETTE.muted}")
    mem = r.gpu.gpu_memory_bytes
    return (
        Text(str(r.gpu_index), style=base),
        Text(str(r.pid), style=base),
        Text(r.user, style=user_style),
        Text(fmt.bytes_h(mem) if mem is not None else "N/A", style=base),
        Text(_pct(r.gpu.sm_pct), style=base),
        Text(_pct(r.info.cpu_pct, 0 if (r.info.cpu_pct or 0) >= 100 else 1), style=base),
        Text(fmt.bytes_h(r.info.rss_bytes), style=base),
        Text(fmt.duration(r.elapsed_s), style=base),
        Text(r.info.run_id or "", style=base),
        cmd,
    )


class ProcessTable(DataTable):
    """Rows keyed ``"<gpu>:<pid>"``; the RUN column appears only when some process has a run."""

    DEFAULT_CSS = """
    ProcessTable { height: 1fr; }
    """

    def __init__(self, *, options: ViewOptions | None = None, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.options = options or ViewOptions()
        self._order: list[str] = []
        self._cols: tuple[str, ...] = ()
        self._cells: dict[str, dict[str, Text]] = {}
        self._snapshot: Snapshot | None = None
        self.shown: list[Entry] = []

    def _label(self, key: str) -> Text:
        c = column(key)
        label = c.label
        if key == self.options.sort:
            desc = c.descending_first != self.options.reverse
            label += "▼" if desc else "▲"
            return Text(label, style="bold underline")
        return Text(label)

    def _command_width(self, cols: tuple[str, ...]) -> int:
        """COMMAND takes what the other columns leave, so the table never scrolls sideways."""
        pad = 2 * self.cell_padding
        fixed = sum((WIDTHS[k] or 0) + pad for k in cols if k != "command")
        return max(16, self.size.width - fixed - pad - 1)

    def _set_columns(self, cols: tuple[str, ...]) -> None:
        self.clear(columns=True)
        for key in cols:
            width = WIDTHS[key] if key != "command" else self._command_width(cols)
            self.add_column(self._label(key), key=key, width=width)
        self._cols = cols
        self._order = []

    def on_resize(self) -> None:
        if not self._cols:
            return
        current = next((c.width for k, c in self.columns.items() if k.value == "command"), None)
        if current != self._command_width(self._cols):
            self._set_columns(self._cols)
            if self._snapshot is not None:
                self.show(self._snapshot)

    def set_options(self, options: ViewOptions) -> None:
        sort_changed = (options.sort, options.reverse) != (self.options.sort, self.options.reverse)
        self.options = options
        if sort_changed and self.columns:
            for key in list(self.columns):
                self.columns[key].label = self._label(str(key.value))
            self.refresh()
        if self._snapshot is not None:
            self.show(self._snapshot)

    def show(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        shown = entries(snapshot, self.options)
        self.shown = shown
        with_run = any(p.info.run_id for p in snapshot.processes)
        cols = tuple(k for k in COLUMN_KEYS if k != "run" or with_run)
        if cols != self._cols:
            self._set_columns(cols)
        order = [e.key for e in shown]
        cells = {e.key: row_cells(e, snapshot.me) for e in shown}
        if order != self._order:
            self._rebuild(order, cells)
        else:
            for key in order:
                old, new = self._cells[key], cells[key]
                for c in cols:
                    if old[c] != new[c]:
                        self.update_cell(key, c, new[c])
        self._cells = cells

    def _rebuild(self, order: list[str], cells: dict[str, dict[str, Text]]) -> None:
        """Rows came, went or moved: refill, keeping the cursor on the same process."""
        current = None
        if self._order and 0 <= self.cursor_row < len(self._order):
            current = self._order[self.cursor_row]
        self.clear(columns=False)
        for key in order:
            self.add_row(*(cells[key][c] for c in self._cols), key=key)
        self._order = order
        if current in order:
            self.move_cursor(row=order.index(current), animate=False)

    def selected_entry(self) -> Entry | None:
        if 0 <= self.cursor_row < len(self.shown):
            return self.shown[self.cursor_row]
        return None
