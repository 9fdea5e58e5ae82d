"""Say so when a run ends while the app is open, on whatever view: a notification, and (settings [ui] notify) a
terminal bell or an OSC 9 desktop notification. Polled in a thread worker every RUNWATCH_S seconds."""

from __future__ import annotations

import os

from ..core.runs.watch import Ended, EndWatcher, desktop_sequence

RUNWATCH_S = 5.0


def start_run_watch(app, interval: float | None = None) -> None:
    watcher = EndWatcher()

    def work() -> None:
        ctx = getattr(app, "ctx", None)
        if ctx is None:
            return
        try:
            ended = watcher.poll(ctx.registry)
        except OSError:
            return
        if ended:
            app.call_from_thread(announce, app, ended)

    def tick() -> None:
        app.run_worker(work, thread=True, exclusive=True, group="runwatch", exit_on_error=False)

    tick()  # takes stock now: what already ended is not announced
    app.set_interval(interval or getattr(app, "runwatch_s", RUNWATCH_S), tick)


def announce(app, ended: list[Ended]) -> None:
    mode = getattr(app.settings, "notify", "off")
    for e in ended:
        bad = e.state == "failed"
        app.notify(e.message(), title="Run ended", severity="error" if bad else "information",
                   timeout=30 if bad else 10)
        if mode == "bell":
            app.bell()
        elif mode == "desktop":
            driver = getattr(app, "_driver", None)
            if driver is not None:
                driver.write(desktop_sequence("ftmllm-tui", e.message(), in_tmux=bool(os.environ.get("TMUX"))))
                driver.flush()
