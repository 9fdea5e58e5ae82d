"""The cluster overview: one row per host (its GPUs as cells, free count, users, link state and age),
a totals line; Enter opens the home view fed by that host's stream.

The links run in their own threads (``core.hosts``); this screen only reads their latest immutable
states, twice a second, and hands changed rows to the FastTable (which repaints changed lines
only). Nothing here waits on SSH.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input

from ...core import fmt
from ...core.gpus.snapshot import Snapshot
from ...core.hosts.cluster import gpu_holders, totals, users_gpus
from ...core.hosts.link import LinkState
from ..palette import PALETTE
from ..widgets.cell import Cell
from ..widgets.fast_table import Col, FastTable

LEVELS = "·▁▂▃▄▅▆▇█"
SORTS = ("host", "free", "util", "state")


class LinkSampler:
    """The app's sampler for one remote host: the latest snapshot its link has (no waiting)."""

    remote = True

    def __init__(self, cluster, host: str):
        self.cluster = cluster
        self.host = host
        self.source = "remote"

    @property
    def label(self) -> str:
        st = self.cluster.links[self.host].state
        mode = "nvidia-smi" if st.mode == "smi" else "stream"
        return f"SSH {self.host} · {mode} · {st.state}"

    def sample(self) -> Snapshot:
        st = self.cluster.links[self.host].state
        if st.snapshot is None:
            raise RuntimeError(st.error or f"{self.host}: no data yet ({st.state})")
        return st.snapshot

    def close(self) -> None:
        pass


def level_char(pct: float | None) -> str:
    if pct is None:
        return "?"
    return LEVELS[max(0, min(8, round(pct / 100 * 8)))]


def gpu_cells(snap: Snapshot) -> Text:
    """Two characters per GPU: utilisation and memory as block heights, in the colour of the user
    holding it (free: the free colour; busy without a known user: muted)."""
    holders = gpu_holders(snap)
    t = Text()
    for g in snap.gpus:
        users = holders.get(g.index, [])
        if g.index in snap.free:
            style = PALETTE.free
        elif users:
            style = PALETTE.user(users[0])
        else:
            style = PALETTE.muted
        mem = g.memory_fraction
        t.append(level_char(g.utilization_pct) + level_char(None if mem is None else mem * 100), style=style)
        t.append(" ")
    return t


def state_text(st: LinkState, now: float) -> Text:
    age = st.age(now)
    if st.state == "up":
        return Text("up", style=PALETTE.ok) + Text(" smi" if st.mode == "smi" else "", style=PALETTE.muted)
    if st.state == "connecting":
        return Text("connecting…", style=PALETTE.muted)
    label = st.state
    if st.state == "stale" and age is not None:
        label = f"stale {fmt.age(age)}"
    t = Text(label, style=PALETTE.warning if st.state == "stale" else PALETTE.danger)
    if st.kind and st.state == "down":
        t.append(f" {st.kind}", style=PALETTE.muted)
    return t


class ClusterScreen(Screen):
    BINDINGS = [
        Binding("enter", "open_host", "Open", tooltip="Open the host: its GPUs and processes (the home view)"),
        Binding("slash", "filter", "Filter", tooltip="Filter hosts by name, user or state"),
        Binding("s", "sort_next", "Sort", tooltip="Sort by host, free GPUs, utilisation or link state"),
        Binding("escape", "clear_filter", "Clear filter", show=False, tooltip="Clear the filter"),
        Binding("r", "runs", "Runs", tooltip="Runs on every host"),
        Binding("n", "launch", "Launch", tooltip="Launch a run on the host under the cursor (its app does it)"),
        Binding("N", "launch_auto", "Launch auto", show=False,
                tooltip="Launch on the host with the most free GPUs that fit the request"),
        Binding("g", "home", "Host view", tooltip="Back to the host view shown last"),
    ]
    DEFAULT_CSS = """
    ClusterScreen { layout: vertical; }
    #ctitle { height: 1; width: 1fr; background: $panel; padding: 0 1; }
    #ctotals { height: 1; width: 1fr; padding: 0 1; }
    #cdetail { height: 1; width: 1fr; padding: 0 1; }
    #cfilter { dock: bottom; display: none; height: 3; }
    #cfilter.-shown { display: block; }
    """

    def __init__(self, cluster, **kw):
        super().__init__(**kw)
        self.cluster = cluster
        self.sort = "host"
        self.filter = ""
        self._seen: tuple = ()

    def compose(self) -> ComposeResult:
        yield Cell(id="ctitle")
        yield Cell(id="ctotals")
        yield FastTable(id="hosts")
        yield Cell(id="cdetail")
        yield Input(placeholder="filter: host, user or state (Enter keeps it, Esc clears)", id="cfilter")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(FastTable).focus()
        self.update()
        self.set_interval(0.5, self.update)

    def _host_width(self) -> int:
        return max([4] + [len(n) for n in self.cluster.links])

    def rows(self, now: float) -> tuple[list[str], dict[str, tuple[Text, ...]]]:
        states = {name: link.state for name, link in self.cluster.links.items()}
        keep = []
        f = self.filter.lower()
        for name, st in states.items():
            if f:
                users = " ".join(users_gpus(st.snapshot)) if st.snapshot else ""
                if f not in f"{name} {st.state} {st.kind or ''} {users}".lower():
                    continue
            keep.append(name)

        def key(name: str):
            st = states[name]
            snap = st.snapshot
            if self.sort == "free":
                return (-(len(snap.free) if snap else -1), name)
            if self.sort == "util":
                utils = [g.utilization_pct or 0 for g in snap.gpus] if snap else []
                return (-(sum(utils) / len(utils) if utils else -1), name)
            if self.sort == "state":
                return (("up", "stale", "connecting", "down").index(st.state), name)
            return (name,)

        keep.sort(key=key)
        cells: dict[str, tuple[Text, ...]] = {}
        for name in keep:
            st = states[name]
            snap = st.snapshot
            if snap is None:
                cells[name] = (Text(name, style="bold"), Text(""), Text(""),
                               Text(st.error or "", style=PALETTE.muted), state_text(st, now))
                continue
            users = users_gpus(snap)
            who = " ".join(f"{u}:{n}" for u, n in users.most_common(3))
            free = len(snap.free)
            cells[name] = (Text(name, style="bold"), gpu_cells(snap),
                           Text(f"{free}/{len(snap.gpus)}", style=PALETTE.free if free else PALETTE.muted),
                           Text(who), state_text(st, now))
        return keep, cells

    def update(self) -> None:
        now = time.time()
        table = self.query_one(FastTable)
        order, cells = self.rows(now)
        width = self.size.width or 80
        gpus_w = max(15, min(48, max((len(c[1].plain) for c in cells.values()), default=0)))
        host_w = min(self._host_width(), 18)
        link_w = 12
        rest = max(8, width - host_w - gpus_w - 5 - link_w - 7)
        table.set_columns((Col("host", "HOST", host_w), Col("gpus", "GPUs (util|mem)", gpus_w),
                           Col("free", "FREE", 5, "right"), Col("users", "USERS", rest),
                           Col("link", "LINK", link_w)), sorted_column=self.sort if self.sort != "util" else "gpus")
        table.set_rows(order, cells)
        states = [link.state for link in self.cluster.links.values()]
        tot = totals(states)
        title = Text("ftmllm-tui ", style=f"bold {PALETTE.accent}")
        title.append(f"cluster · {len(states)} hosts · {tot.free} of {tot.gpus} GPUs free")
        if self.filter:
            title.append(f"  filter “{self.filter}”", style=f"bold {PALETTE.warning}")
        title.append(f"  sort {self.sort}", style=PALETTE.muted)
        self.query_one("#ctitle", Cell).show(title)
        self.query_one("#ctotals", Cell).show(Text(tot.line(), style=PALETTE.muted))
        key = table.cursor_key
        detail = Text("")
        if key in self.cluster.links:
            st = self.cluster.links[key].state
            if st.error:
                detail = Text(st.error, style=PALETTE.danger if st.state == "down" else PALETTE.warning)
            elif st.note:
                detail = Text(st.note, style=PALETTE.muted)
            elif st.snapshot is not None and st.snapshot.host and st.snapshot.host.hostname:
                detail = Text(f"{key} is {st.snapshot.host.hostname}"
                              f"{' (replay)' if st.snapshot.is_replay else ''}", style=PALETTE.muted)
        self.query_one("#cdetail", Cell).show(detail)

    # -- actions -----------------------------------------------------------------------------------
    @on(FastTable.RowSelected)
    def _selected(self, event: FastTable.RowSelected) -> None:
        self.open_host(event.key)

    @on(FastTable.RowHighlighted)
    def _highlighted(self, event: FastTable.RowHighlighted) -> None:
        self.update()

    def action_open_host(self) -> None:
        key = self.query_one(FastTable).cursor_key
        if key:
            self.open_host(key)

    def open_host(self, name: str) -> None:
        use_host(self.app, name)

    def action_sort_next(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.update()

    def action_filter(self) -> None:
        f = self.query_one("#cfilter", Input)
        f.add_class("-shown")
        f.value = self.filter
        f.focus()

    def action_clear_filter(self) -> None:
        f = self.query_one("#cfilter", Input)
        f.value = ""
        f.remove_class("-shown")
        self.filter = ""
        self.update()
        self.query_one(FastTable).focus()

    @on(Input.Changed, "#cfilter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter = event.value.strip()
        self.update()

    @on(Input.Submitted, "#cfilter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one("#cfilter", Input).remove_class("-shown")
        self.query_one(FastTable).focus()

    def action_runs(self) -> None:
        self.app.open_runs()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.app.ctx.readonly and action in ("launch", "launch_auto"):
            return False  # --readonly covers other hosts too
        return True

    def action_launch(self) -> None:
        key = self.query_one(FastTable).cursor_key
        if key:
            launch_remote(self.app, key)

    def action_launch_auto(self) -> None:
        launch_remote(self.app, None)

    def action_home(self) -> None:
        self.app.pop_screen()


def use_host(app, name: str) -> None:
    """Show host ``name`` in the home view: the app's sampler becomes that host's link."""
    from .home import HomeScreen

    app.use_sampler(LinkSampler(app.cluster, name))
    while len(app.screen_stack) > 1 and not isinstance(app.screen, HomeScreen):
        app.pop_screen()
    for home in app.screen_stack:
        if isinstance(home, HomeScreen) and home.is_mounted:
            for banner in home.query("#banner"):
                banner.remove_class("-shown")  # the local "no driver" banner is not about that host


def open_cluster(app) -> None:
    if getattr(app, "cluster", None) is None:
        app.notify("No other hosts: set [cluster] hosts or start with --hosts gpu1,gpu2", severity="warning",
                   timeout=5)
        return
    if not isinstance(app.screen, ClusterScreen):
        app.push_screen(ClusterScreen(app.cluster))


def start_cluster(app) -> None:
    """At start-up: the links start (threads); more than one host → the overview first, one host →
    the home view shows it."""
    app.cluster.start()
    if len(app.cluster.links) > 1:
        app.push_screen(ClusterScreen(app.cluster))
    elif app.cluster.links:
        use_host(app, next(iter(app.cluster.links)))


def pick_auto(states, want: int) -> str | None:
    """The up host with the most free GPUs, if it has ``want`` of them."""
    fits = [st for st in states if st.state == "up" and st.snapshot is not None and len(st.snapshot.free) >= want]
    return max(fits, key=lambda st: (len(st.snapshot.free), st.host)).host if fits else None


def remote_hosts(app) -> list[str]:
    """The configured hosts other than this machine (where a remote launch can go)."""
    from ...core.hosts.local import LOCAL_NAMES

    cluster = getattr(app, "cluster", None)
    return [] if cluster is None else [n for n in cluster.links if n not in LOCAL_NAMES]


def wanted_gpus(args: list[str]) -> int:
    """How many free GPUs ``launch`` ARGS ask for (--gpus auto:N → N, else 1)."""
    gpus = next((a[7:] for a in args if a.startswith("--gpus=")), None)
    if gpus is None:
        gpus = args[args.index("--gpus") + 1] if "--gpus" in args[:-1] else "auto"
    return int(gpus[5:]) if gpus.startswith("auto:") and gpus[5:].isdigit() else 1


def auto_host(app, args: list[str]) -> str | None:
    """``auto``: the remote host (up) with the most free GPUs that satisfy ARGS' --gpus, from the links'
    latest states (no waiting)."""
    return pick_auto([app.cluster.links[n].state for n in remote_hosts(app)], wanted_gpus(args))


def remote_launch_line(app, target: str, args: list[str]) -> str:
    """The exact command that launches ARGS on ``target``: ``ssh HOST <remote line>``."""
    return f"ssh {target} {app.cluster.opts.remote(app.cluster.links[target].spec, ['launch', *args])}"


def start_remote_launch(app, target: str, args: list[str], *, copy_config: str | None = None,
                        on_done=None) -> None:
    """In a thread: (``copy_config``: the local file first goes to the host's state dir, ``receive``,
    and that copy replaces it in ARGS) then ``launch ARGS`` by the app on ``target``, over its master.
    ``on_done(ok, message)`` runs on the UI thread (default: a notification)."""
    import threading

    from ...core.hosts.runs import run_remote

    link = app.cluster.links[target]

    def done(ok: bool, msg: str) -> None:
        if on_done is not None:
            on_done(ok, msg)
        else:
            app.notify(msg, severity="information" if ok else "error", timeout=12)

    def work() -> None:
        remote = list(args)
        if copy_config is not None:
            from ...core.hosts.upload import upload_file

            copied = upload_file(app.cluster.opts, link.spec, copy_config)
            if copied.startswith("error: "):
                app.call_from_thread(done, False, copied[len("error: "):])
                return
            remote = [copied if a == copy_config else a for a in remote]
        rc, out, err = run_remote(app.cluster.opts, link.spec, ["launch", *remote], timeout=180)
        if rc == 0 and out.strip():
            app.call_from_thread(done, True, f"Started on {target}: {out.strip().splitlines()[-1]}")
        else:
            app.call_from_thread(done, False,
                                 f"{target}: {(err.strip().splitlines() or [f'launch exited {rc}'])[-1]}")

    threading.Thread(target=work, daemon=True, name="ftmllm-remote-launch").start()
    app.notify(f"Launching on {target}…", timeout=4)


def launch_remote(app, host: str | None) -> None:
    """Ask for the launch arguments (CONFIG is a path on that host), show the exact remote command,
    then have that host's app launch it (``ftmllm-tui launch …`` over the master)."""
    import shlex

    from ...core.hosts.local import LOCAL_NAMES
    from .confirm import ConfirmScreen, PromptScreen

    if app.ctx.readonly:
        return
    if host in LOCAL_NAMES:
        app.open_launch()
        return
    where = host or "the host with the most free GPUs (auto)"

    def got(text: str | None) -> None:
        if not text:
            return
        try:
            args = shlex.split(text)
        except ValueError as e:
            app.notify(f"Cannot read that: {e}", severity="error", timeout=6)
            return
        if "--gpus" not in args and not any(a.startswith("--gpus=") for a in args):
            args += ["--gpus", "auto"]
        target = host
        if target is None:
            target = auto_host(app, args)
            if target is None:
                want = wanted_gpus(args)
                app.notify(f"No host has {want} free GPU{'s' if want != 1 else ''} now", severity="warning", timeout=6)
                return

        def go(yes: bool | None) -> None:
            if yes:
                start_remote_launch(app, target, args)

        app.push_screen(ConfirmScreen(f"Launch on {target}?", remote_launch_line(app, target, args), yes="Launch",
                                      danger=False), go)

    app.push_screen(PromptScreen(f"Launch on {where}: CONFIG (a path there) and launch options",
                                 "/data/cfg/sft.yaml --gpus auto:2 --name try1"), got)
