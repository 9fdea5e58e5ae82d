"""The process table: a DataTable updated by diff (cells by key), never cleared on a steady tick."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...core import fmt
from ...core.proctable import COLUMNS, Entry, ViewOptions, column, entries
from ...core.snapshot import Snapshot
from ..palette import PALETTE

WIDTHS = {"gpu": 3, "pid": 8, "user": 10, "gpu_mem": 8, "sm": 4, "cpu": 6, "rss": 7,
          "time": 8, "run": 10, "command": None}
RIGHT = {"gpu", "pid", "gpu_mem", "sm", "cpu", "rss", "time"}


def _pct(v: float | int | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def row_cells(e: Entry, me: str) -> tuple[Text, ...]:
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
    cmd = Text(e.branch, style=PALETTE.muted)
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
        Text(_pct(r.info.cpu_pct, 1), style=base),
        Text(fmt.bytes_h(r.info.rss_bytes), style=base),
        Text(fmt.duration(r.elapsed_s), style=base),
        Text(r.info.run_id or "", style=base),
        cmd,
    )


class ProcessTable(DataTable):
    DEFAULT_CSS = """
    ProcessTable { height: 1fr; }
    """

    def __init__(self, *, options: ViewOptions | None = None, **kw):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.options = options or ViewOptions()
        self._order: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._snapshot: Snapshot | None = None
        self.shown: list[Entry] = []

    def on_mount(self) -> None:
        for c in COLUMNS:
            self.add_column(self._label(c.key), key=c.key, width=WIDTHS[c.key])

    def _label(self, key: str) -> Text:
        c = column(key)
        label = c.label
        if key == self.options.sort:
            desc = c.descending_first != self.options.reverse
            label += "▼" if desc else "▲"
            return Text(label, style="bold underline")
        return Text(label)

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
        order = [e.key for e in shown]
        cells = {e.key: _right(row_cells(e, snapshot.me)) for e in shown}
        if order != self._order:
            self._rebuild(order, cells)
        else:
            for key in order:
                old, new = self._cells[key], cells[key]
                for c, o, n in zip(COLUMNS, old, new):
                    if o != n:
                        self.update_cell(key, c.key, n)
        self._cells = cells

    def _rebuild(self, order: list[str], cells: dict[str, tuple[Text, ...]]) -> None:
        """Rows came, went or moved: refill, keeping the cursor on the same process."""
        current = None
        if self._order and 0 <= self.cursor_row < len(self._order):
            current = self._order[self.cursor_row]
        self.clear(columns=False)
        for key in order:
            self.add_row(*cells[key], key=key)
        self._order = order
        if current in order:
            self.move_cursor(row=order.index(current), animate=False)

    def selected_entry(self) -> Entry | None:
        if 0 <= self.cursor_row < len(self.shown):
            return self.shown[self.cursor_row]
        return None


def _right(cells: tuple[Text, ...]) -> tuple[Text, ...]:
    for c, t in zip(COLUMNS, cells):
        if c.key in RIGHT:
            t.justify = "right"
    return cells
