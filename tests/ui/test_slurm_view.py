"""The Slurm view where there is no Slurm (a laptop): J still opens it, and its worker says what is
missing in one line; [slurm] enabled = false keeps it closed with a note. (With a real Slurm:
tests/integration/test_slurm.py.)"""

from __future__ import annotations

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.slurm import SlurmScreen

from .conftest import screen_text, until


async def test_no_slurm_here_says_so_in_the_view(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sinfo, squeue, scontrol
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, settings=Settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen) and app.screen.data.error)
        top = screen_text(app)[0]
        assert "not found" in top and "Slurm's client commands are not on PATH" in app.screen.data.error
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SlurmScreen))


async def test_slurm_turned_off_keeps_the_view_closed(monkeypatch):
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, settings=Settings(enabled="false"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("J")
        await pilot.pause()
        assert not isinstance(app.screen, SlurmScreen)
        assert any("enabled = false" in str(n.message) for n in app._notifications)
