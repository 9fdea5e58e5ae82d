from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.ui.app import FtmApp

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture(autouse=True)
def _no_external_runs(monkeypatch):
    """The Runs view also lists every llamafactory-cli running on the machine (external runs): a
    training going on beside the suite (the user's own, another test's) must not change what these
    tests see (tests/core/runs/test_external_runs.py finds one the test starts itself)."""
    import ftmllm_tui.ui.screens.runs as runs_screen

    monkeypatch.setattr(runs_screen, "external_runs", lambda known_ids: [])


def make_app(clock, recording: Path | None = None, *, samples: int = 1, banner: str | None = None,
             autostart: bool = False, **kw) -> FtmApp:
    sampler = ReplaySampler(recording or bundled_recording(), me="root", clock=clock)
    app = FtmApp(sampler, banner=banner, autostart=autostart, **kw)
    app._preload = samples
    return app


async def feed(app: FtmApp, pilot, clock, n: int | None = None) -> None:
    """Take ``n`` samples at one-second steps of the fake clock (no timers, no threads)."""
    for _ in range(app._preload if n is None else n):
        app.ingest(app.sampler.sample())
        clock.tick(1.0)
    await pilot.pause()


async def until(pilot, cond, timeout=10.0):
    """Let the app run until ``cond()`` holds (workers, timers and messages included), or fail."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        await asyncio.sleep(0.05)
        await pilot.pause()
    raise AssertionError("condition not met in time")


def screen_text(app) -> list[str]:
    """The screen as plain text, one string per row (what a terminal would show)."""
    w, h = app.size
    console = Console(width=w, height=h, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False).splitlines()
