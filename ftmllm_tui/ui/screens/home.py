"""The home view: GPUs, host, who holds what, and every GPU process."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Click, Resize
from textual.screen import Screen
from textual.widgets import Footer, Input

from ...core.gpus.history import GpuHistory
from ...core.gpus.proctable import COLUMN_KEYS, ViewOptions, column
from ...core.gpus.snapshot import Snapshot
from ...core.gpus.summary import user_shares
from ..palette import PALETTE
from ..widgets.cell import Cell
from ..widgets.gpu_panel import GpuPanel
from ..widgets.lines import HostLine, TitleBar, UsersLine
from ..widgets.fast_table import FastTable
from ..widgets.process_table import ProcessTable

LAYOUTS = ("auto", "compact", "cards")
CARD_HEIGHT = 6
RESERVED_ROWS = 12  # title, host, users, table header + a few rows, footer


def choose_layout(pref: str, width: int, height: int, n_gpus: int) -> tuple[str, int]:
    """(mode, columns): cards only where they fit and leave room for the process table."""
    if pref == "compact" or n_gpus == 0:
        return "compact", 1
    columns = 2 if width >= 160 and n_gpus > 1 else 1
    rows = -(-n_gpus // columns)
    fits = width >= 100 and height - RESERVED_ROWS >= rows * CARD_HEIGHT
    if fits or (pref == "cards" and height - RESERVED_ROWS >= rows * CARD_HEIGHT):
        return "cards", columns  # asked for: also narrower than 100 columns, never over the process table
    return "compact", 1


class HomeScreen(Screen):
    BINDINGS = [
        Binding("slash", "filter", "Filter", tooltip="Filter processes by user, command, PID or run"),
        Binding("m", "mine", "Mine", tooltip="Show only my processes (toggle)"),
        Binding("t", "tree", "Tree", show=False, tooltip="Group workers under their launcher (toggle)"),
        Binding("s", "sort_next", "Sort", tooltip="Sort by the next column"),
        Binding("S", "sort_reverse", "Reverse", show=False, tooltip="Reverse the sort order"),
        Binding("w", "window", "Window", show=False, tooltip="History window: 1, 5, 15, 60 minutes"),
        Binding("x", "hide_banner", "Hide banner", show=False,
                tooltip="Hide the no-driver banner for this session"),
        Binding("plus,equals_sign", "faster", "Faster", show=False, key_display="+ =",
                tooltip="Refresh faster (down to 0.5 s)"),
        Binding("minus", "slower", "Slower", show=False, key_display="-",
                tooltip="Refresh slower (up to 60 s)"),
        Binding("v", "layout", "Layout", show=False, tooltip="GPU layout: auto, compact rows, cards"),
        Binding("escape", "clear_filter", "Clear filter", show=False, tooltip="Clear the filter"),
        Binding("r", "runs", "Runs", tooltip="Runs: launched jobs, their state and progress"),
        Binding("n", "launch", "Launch", tooltip="Launch a LLaMA-Factory run in tmux"),
        Binding("c", "configs", "Configs", tooltip="LLaMA-Factory configs: validate, edit, launch"),
        Binding("k", "kill", "Signal", tooltip="Signal the process under the cursor, or the marked ones"),
        Binding("space", "mark", "Mark", show=False, tooltip="Mark / unmark a process for k"),
    ]

    DEFAULT_CSS = """
    HomeScreen { layout: vertical; }
    #banner { height: auto; width: 1fr; background: $warning 20%; color: $text; padding: 0 1;
              display: none; text-wrap: wrap; }
    #banner.-shown { display: block; }
    #procbar { height: 1; width: 1fr; padding: 0 1; background: $panel; }
    #filter { dock: bottom; display: none; height: 3; }
    #filter.-shown { display: block; }
    #gpus { height: auto; }
    """

    def __init__(self, *, banner: str | None = None, options: ViewOptions | None = None, **kw):
        super().__init__(**kw)
        self.banner = banner
        self.initial_options = options or ViewOptions()
        self.layout_pref = "auto"
        self._last: Snapshot | None = None

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        yield Cell(id="banner")
        yield HostLine(id="host")
        with Vertical(id="gpus"):
            yield GpuPanel(id="gpupanel")
        yield UsersLine(id="users")
        yield Cell(id="procbar")
        yield ProcessTable(id="procs", options=self.initial_options)
        yield Input(placeholder="filter: user, command, PID, run (Enter keeps it, Esc clears)",
                    id="filter")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.banner:
            b = self.query_one("#banner", Cell)
            b.show(Text.assemble(("⚠ " + self.banner, "bold"), "  (x hides this)"))
            b.add_class("-shown")
        self.query_one(ProcessTable).focus()
        self._refresh_chrome()

    # -- data in ---------------------------------------------------------------------------------
    def show(self, snapshot: Snapshot, history: GpuHistory) -> None:
        self._last = snapshot
        self._apply_layout()
        app = self.app
        self.query_one(GpuPanel).show(snapshot, history, app.window_min * 60)
        self.query_one(HostLine).show(snapshot.host, snapshot.is_replay)
        self.query_one(UsersLine).show(user_shares(snapshot))
        self.query_one(ProcessTable).show(snapshot)
        self._refresh_chrome()

    def _apply_layout(self) -> None:
        if self._last is None:
            return
        mode, cols = choose_layout(self.layout_pref, self.size.width, self.size.height,
                                   len(self._last.gpus))
        self.query_one(GpuPanel).configure(mode, cols, tuple(g.index for g in self._last.gpus))

    def on_resize(self, event: Resize) -> None:
        if self._last is not None:
            self._apply_layout()
            self.show(self._last, self.app.history)

    def _refresh_chrome(self) -> None:
        app = self.app
        self.query_one(TitleBar).show(self._last, label=app.sampler_label,
                                      interval=app.interval, window_min=app.window_min,
                                      readonly=app.readonly)
        table = self.query_one(ProcessTable)
        o = table.options
        t = Text()
        n = sum(1 for e in table.shown if e.row is not None)
        total = len(self._last.processes) if self._last else 0
        t.append("Processes ", style="bold")
        t.append(f"{n}" + (f"/{total}" if n != total else ""))
        if self._last is not None and self._last.is_replay:
            t.append("  REPLAY", style=f"bold {PALETTE.warning}")
        c = column(o.sort)
        desc = c.descending_first != o.reverse
        t.append(f"  sort {c.label}{'▼' if desc else '▲'}", style=PALETTE.muted)
        if o.tree:
            t.append("  tree", style=f"bold {PALETTE.warning}")
        if o.mine_only:
            t.append("  mine only", style=f"bold {PALETTE.warning}")
        if o.filter:
            t.append(f"  filter “{o.filter}”", style=f"bold {PALETTE.warning}")
        self.query_one("#procbar", Cell).show(t)

    # -- actions -----------------------------------------------------------------------------------
    def _set_options(self, **changes) -> None:
        table = self.query_one(ProcessTable)
        table.set_options(replace(table.options, **changes))
        self._refresh_chrome()

    def action_mine(self) -> None:
        self._set_options(mine_only=not self.query_one(ProcessTable).options.mine_only)

    def action_tree(self) -> None:
        self._set_options(tree=not self.query_one(ProcessTable).options.tree)

    def action_sort_next(self) -> None:
        o = self.query_one(ProcessTable).options
        i = COLUMN_KEYS.index(o.sort) if o.sort in COLUMN_KEYS else -1
        self._set_options(sort=COLUMN_KEYS[(i + 1) % len(COLUMN_KEYS)], reverse=False)

    def action_sort_reverse(self) -> None:
        self._set_options(reverse=not self.query_one(ProcessTable).options.reverse)

    def sort_by(self, key: str) -> None:
        o = self.query_one(ProcessTable).options
        if o.sort == key:
            self._set_options(reverse=not o.reverse)
        else:
            self._set_options(sort=key, reverse=False)

    @on(FastTable.RowSelected)
    def _row_selected(self, event: FastTable.RowSelected) -> None:
        """Enter on a process of a run: follow that run."""
        e = self.query_one(ProcessTable).selected_entry()
        if e is None or e.row is None or not e.row.info.run_id:
            return
        self.app.open_follow(e.row.info.run_id)

    @on(FastTable.HeaderClicked)
    def _header_clicked(self, event: FastTable.HeaderClicked) -> None:
        self.sort_by(event.column)

    def action_filter(self) -> None:
        f = self.query_one("#filter", Input)
        f.add_class("-shown")
        f.value = self.query_one(ProcessTable).options.filter
        f.focus()

    def action_clear_filter(self) -> None:
        f = self.query_one("#filter", Input)
        f.value = ""
        f.remove_class("-shown")
        self._set_options(filter="")
        self.query_one(ProcessTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_options(filter=event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one("#filter", Input).remove_class("-shown")
        self.query_one(ProcessTable).focus()

    def action_window(self) -> None:
        self.app.cycle_window()

    def action_hide_banner(self) -> None:
        """The no-driver banner costs two rows at 80x24: x (or a click on it) hides it for the session."""
        self.query_one("#banner", Cell).remove_class("-shown")
        self.banner = None
        self.app.banner = None  # a home view made later in this session starts without it

    def on_click(self, event: Click) -> None:
        if event.widget is not None and event.widget.id == "banner":
            self.action_hide_banner()

    def action_faster(self) -> None:
        self.app.change_interval(-1)

    def action_slower(self) -> None:
        self.app.change_interval(+1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.app.ctx.readonly and action in ("launch", "kill", "mark"):
            return False  # --readonly: nothing here changes anything
        return True

    def action_runs(self) -> None:
        self.app.open_runs()

    def action_configs(self) -> None:
        self.app.open_configs()

    def action_launch(self) -> None:
        self.app.open_launch()

    def action_mark(self) -> None:
        self.query_one(ProcessTable).toggle_mark()

    def action_kill(self) -> None:
        table = self.query_one(ProcessTable)
        picked = table.picked()
        if not picked:
            self.notify("No process selected", severity="warning", timeout=3)
            return
        if self._last is not None and self._last.is_replay:
            self.notify("REPLAY: these processes are not on this machine", severity="warning", timeout=4)
            return
        from .kill import KillScreen

        def done(_r) -> None:
            table.marked.clear()
            if self._last is not None:
                table.show(self._last)

        if getattr(self.app.sampler, "remote", False):  # another host: its app plans and signals
            from .remote_signal import RemoteKillScreen

            self.app.push_screen(RemoteKillScreen(picked, self.app.cluster, self.app.sampler.host), done)
            return
        self.app.push_screen(KillScreen(picked), done)

    def action_layout(self) -> None:
        self.layout_pref = LAYOUTS[(LAYOUTS.index(self.layout_pref) + 1) % len(LAYOUTS)]
        msg = f"GPU layout: {self.layout_pref}"
        if self._last is not None and self.layout_pref == "cards":
            mode, _ = choose_layout("cards", self.size.width, self.size.height, len(self._last.gpus))
            if mode != "cards":
                msg += f" — {len(self._last.gpus)} cards do not fit {self.size.width}×{self.size.height} with the " \
                       "process table; compact rows until the terminal is taller"
        self.notify(msg, timeout=4)
        if self._last is not None:
            self.show(self._last, self.app.history)
