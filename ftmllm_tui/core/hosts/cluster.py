"""Several hosts at once: their links, and what the overview and ``snapshot --hosts`` say about them."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ftmllm_tui.core.gpus.snapshot import Snapshot
from ftmllm_tui.core.gpus.summary import FreeRule
from ftmllm_tui.core.hosts.link import HostLink, LinkState
from ftmllm_tui.core.hosts.local import LOCAL_NAMES  # this machine as a row, no SSH
from ftmllm_tui.core.hosts.ssh import HostSpec, SshOptions, parse_hosts


def ssh_options(settings, state_dir: Path) -> SshOptions:
    """SshOptions from the ``[cluster]`` settings; control sockets in a short dir under the state dir."""
    return SshOptions(control_dir=state_dir / "ssh", ssh_config=settings.ssh_config,
                      extra=tuple(settings.ssh_options), remote_command=settings.remote_command,
                      per_host_command=dict(settings.host_remote_command),
                      login_shell=getattr(settings, "login_shell", True))


def gpu_holders(snap: Snapshot) -> dict[int, list[str]]:
    """GPU index -> the users with a process on it (in order of first appearance)."""
    out: dict[int, list[str]] = {}
    for row in snap.processes:
        users = out.setdefault(row.gpu_index, [])
        if row.user not in users:
            users.append(row.user)
    return out


def users_gpus(snap: Snapshot) -> Counter:
    """user -> number of GPUs they hold on this host."""
    c: Counter = Counter()
    for users in gpu_holders(snap).values():
        for u in users:
            c[u] += 1
    return c


@dataclass(frozen=True)
class Totals:
    hosts: int
    hosts_up: int
    gpus: int
    free: int
    users: tuple[tuple[str, int], ...]  # (user, GPUs held), most first

    def line(self) -> str:
        users = ", ".join(f"{u} {n} GPU{'s' if n != 1 else ''}" for u, n in self.users[:6])
        more = f" +{len(self.users) - 6} users" if len(self.users) > 6 else ""
        down = f" ({self.hosts - self.hosts_up} of {self.hosts} hosts not up)" if self.hosts_up < self.hosts else ""
        return f"{self.free} of {self.gpus} GPUs free{down}" + (f"; {users}{more}" if users else "")


def totals(states: Sequence[LinkState]) -> Totals:
    gpus = free = up = 0
    users: Counter = Counter()
    for st in states:
        if st.snapshot is None:
            continue
        if st.state == "up":
            up += 1
        gpus += len(st.snapshot.gpus)
        free += len(st.snapshot.free)
        users.update(users_gpus(st.snapshot))
    return Totals(len(states), up, gpus, free, tuple(sorted(users.items(), key=lambda kv: (-kv[1], kv[0]))))


def host_json(st: LinkState, now: float | None = None) -> dict:
    """One host in ``snapshot --hosts --json``: link state plus the single-host snapshot schema."""
    from ftmllm_tui.core.gpus.report import snapshot_json

    age = st.age(now)
    out = {"host": st.host, "state": st.state, "mode": st.mode, "kind": st.kind, "error": st.error,
           "note": st.note, "remote_host": st.remote_host, "age_s": round(age, 1) if age is not None else None}
    if st.snapshot is not None:
        out["snapshot"] = snapshot_json(st.snapshot)
        out["free_gpus"] = len(st.snapshot.free)
        out["gpu_count"] = len(st.snapshot.gpus)
        out["users"] = dict(users_gpus(st.snapshot))
    return out


class Cluster:
    """A link per host; ``on_change(state)`` from the links' threads."""

    def __init__(self, specs: Sequence[HostSpec], opts: SshOptions, *, interval: float = 1.0,
                 on_change: Callable[[LinkState], None] | None = None, me: str = "?",
                 free_rule: FreeRule = FreeRule(), open_local: Callable[[], object] | None = None):
        """``open_local``: opens this machine's sampler, for a host named ``local`` (no SSH)."""
        from ftmllm_tui.core.hosts.local import LocalLink

        self.opts = opts
        self.links: dict = {}
        for s in specs:
            if s.name in LOCAL_NAMES and open_local is not None:
                self.links[s.name] = LocalLink(s, open_local, interval=interval, on_change=on_change)
            else:
                self.links[s.name] = HostLink(s, opts, interval=interval, on_change=on_change, me=me,
                                              free_rule=free_rule)

    def start(self) -> Cluster:
        for link in self.links.values():
            link.start()
        return self

    def states(self) -> list[LinkState]:
        return [link.state for link in self.links.values()]

    def stop(self) -> None:
        """Stop every link at once (in parallel: one slow host does not hold up the others)."""
        threads = [threading.Thread(target=link.stop, daemon=True) for link in self.links.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=8)


def collect(specs: Sequence[HostSpec], opts: SshOptions, *, timeout: float, interval: float = 1.0,
            me: str = "?", free_rule: FreeRule = FreeRule(),
            open_local: Callable[[], object] | None = None) -> list[LinkState]:
    """One snapshot per host (``snapshot --hosts``): waits until every host has data or has failed
    once, or until ``timeout``; the masters stay up for ControlPersist seconds for the next call."""
    done = threading.Event()
    settled: set[str] = set()
    lock = threading.Lock()

    def changed(st: LinkState) -> None:
        if st.snapshot is not None or st.state in ("down", "stale"):
            with lock:
                settled.add(st.host)
                if len(settled) == len(specs):
                    done.set()

    cluster = Cluster(specs, opts, interval=interval, on_change=changed, me=me, free_rule=free_rule,
                      open_local=open_local)
    cluster.start()
    done.wait(timeout)
    from dataclasses import replace

    states = [st if st.state != "connecting" else
              replace(st, state="down", kind="timeout", error=f"{st.host}: no data within {timeout:g} s")
              for st in cluster.states()]
    end = time.monotonic()
    threads = [threading.Thread(target=link.stop, kwargs={"close_master": False}, daemon=True)
               for link in cluster.links.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, 5 - (time.monotonic() - end)))
    return states


def local_hostname() -> str:
    return socket.gethostname()


__all__ = ["Cluster", "LinkState", "collect", "host_json", "parse_hosts", "ssh_options", "totals"]
