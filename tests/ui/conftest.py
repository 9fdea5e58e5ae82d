from __future__ import annotations

import time
from pathlib import Path

import pytest

from ftmllm_tui.core.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.ui.app import FtmApp

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


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
