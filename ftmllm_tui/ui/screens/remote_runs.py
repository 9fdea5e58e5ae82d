"""Runs of the other hosts in the Runs view: fetched over SSH (off the UI thread, at most every
REMOTE_POLL_S), and the actions on them done by the app on that host."""

from __future__ import annotations

import subprocess
import threading
import time

from ...core.hosts.runs import fetch_runs, is_remote, remote_ref, run_remote
from ...core.hosts.ssh import ssh_argv

REMOTE_POLL_S = 6.0  # a `runs --json` on every host costs each a Python start: not every 2 s

_cache: dict[int, tuple[float, list, list]] = {}
_lock = threading.Lock()


def remote_views(app) -> tuple[list, list[str]]:
    """(views, problems) of the other hosts' runs; called from the Runs view's worker thread."""
    cluster = getattr(app, "cluster", None)
    if cluster is None:
        return [], []
    with _lock:
        hit = _cache.get(id(app))
        if hit is not None and time.monotonic() - hit[0] < REMOTE_POLL_S:
            return hit[1], hit[2]
    from ...core.hosts.local import LOCAL_NAMES

    specs = [link.spec for name, link in cluster.links.items()
             if hasattr(link, "spec") and name not in LOCAL_NAMES]  # local runs are listed already
    views, errors = fetch_runs(cluster.opts, specs, timeout=20)
    with _lock:
        _cache[id(app)] = (time.monotonic(), views, errors)
    return views, errors


def forget_cache(app) -> None:
    with _lock:
        _cache.pop(id(app), None)


def _spec(app, host: str):
    link = app.cluster.links.get(host) if getattr(app, "cluster", None) else None
    return None if link is None else link.spec


def handle(screen, view, action: str) -> bool:
    """True when ``view`` is another host's run (the action is done here, or said how to do it)."""
    rec = view.status.record
    if not is_remote(rec.id):
        return False
    app = screen.app
    host, run = remote_ref(rec.id)
    spec = _spec(app, host)
    if spec is None:
        app.notify(f"{host} is not one of this session's hosts", severity="warning", timeout=4)
        return True
    opts = app.cluster.opts
    if action in ("detail", "attach", "log"):
        # detail: the app there, in its detail view of the run (log, progress, charts drawn there and sent
        # as terminal output; q comes back); log: its log followed; attach: its tmux session
        args = {"detail": ["--open", run], "log": ["logs", run, "-f", "-n", "200"], "attach": ["attach", run]}[action]
        argv = ssh_argv(opts, spec, opts.remote(spec, args), tty=True)
        with app.suspend():
            if action == "log":
                print(f"{rec.name} on {host}: the log, followed by the app there (ctrl-c: back)", flush=True)
            try:
                subprocess.run(argv, check=False)
            except KeyboardInterrupt:
                pass
        return True
    if action == "stop":
        if app.ctx.readonly:
            return True
        if view.status.state not in ("running", "starting"):
            app.notify(f"{rec.name} on {host} is {view.status.state}: nothing to stop", timeout=4)
            return True
        from .confirm import ConfirmScreen

        pids = " ".join(map(str, view.status.pids[:12])) or "none listed"

        def answer(yes: bool | None) -> None:
            if not yes:
                return

            def work() -> None:
                rc, out, err = run_remote(opts, spec, ["stop", run, "--yes"], timeout=300)
                last = (out.strip().splitlines() or err.strip().splitlines() or [f"exit {rc}"])[-1]
                app.call_from_thread(app.notify, f"{host}: {last}", severity="information" if rc == 0 else "error",
                                     timeout=10)
                forget_cache(app)
                app.call_from_thread(screen.refresh_runs)

            app.notify(f"Stopping {rec.name} on {host}…", timeout=4)
            threading.Thread(target=work, daemon=True, name="ftmllm-remote-stop").start()

        app.push_screen(ConfirmScreen(
            f"Stop {rec.name} on {host}?",
            f"The app on {host} stops it: SIGINT → SIGTERM → SIGKILL to every process of the run (now: {pids}), "
            "re-checked there before each signal, written to that host's audit log.", yes="Stop"), answer)
        return True
    hint = {"config": f"ssh {host} cat …/config.yaml",
            "forget": f"ssh {host} ftmllm-tui (then d)", "relaunch": f"ftmllm-tui launch --host {host} CONFIG"}
    app.notify(f"{rec.name} runs on {host}: {hint.get(action, 'use the CLI with ' + rec.id)}",
               severity="warning", timeout=6)
    return True
