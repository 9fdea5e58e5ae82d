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


# -- snapshots of the view with recorded real Slurm output (tests/data/slurm), in every built-in theme --

import pytest  # noqa: E402

from ftmllm_tui.ui.palette import PALETTE  # noqa: E402
from ftmllm_tui.ui.themes import load_themes  # noqa: E402

DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "slurm"


def recorded():
    from ftmllm_tui.core.runs.runctl import Progress
    from ftmllm_tui.core.runs.registry import RunRecord
    from ftmllm_tui.core.slurm.query import state_from_text
    from ftmllm_tui.ui.screens.slurm import SlurmData

    state = state_from_text((DATA / "scontrol_show_node.txt").read_text(), (DATA / "squeue.txt").read_text(),
                            (DATA / "sinfo.txt").read_text(), version="22.05.8", user="root", took_s=0.018)
    rid = "20261204-101500-qwen-sft-ab12"
    rec = RunRecord(id=rid, name="qwen-sft", kind="train", config=None, argv=(), env=(), slurm_job="58")
    note = ("accounting is off on this cluster (AccountingStorageType=accounting_storage/none): finished jobs "
            "are not kept by Slurm; runs launched by ftmllm-tui keep their exit codes")
    return SlurmData(state=state, runs={rid: (rec, Progress(step=120, total=400, percentage=30.0, loss=1.2345))},
                     note=note)


@pytest.fixture
def _theme_reset():
    yield
    PALETTE.apply(load_themes().get("dark").colors, "dark")


@pytest.mark.parametrize("theme", ("dark", "light", "high-contrast", "mono"))
def test_slurm_view_snapshot(snap_compare, theme, _theme_reset):
    from ftmllm_tui.ui.screens.slurm import SlurmScreen

    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, settings=Settings(), theme=theme)

    async def run(pilot):
        app.push_screen(SlurmScreen(source=recorded))
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen) and app.screen.data.state is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run)


def test_slurm_view_wide_shows_partition_nodes_and_run(_theme_reset):
    import asyncio

    from ftmllm_tui.ui.screens.slurm import SlurmScreen

    async def go():
        app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, settings=Settings())
        async with app.run_test(size=(160, 30)) as pilot:
            app.push_screen(SlurmScreen(source=recorded))
            await until(pilot, lambda: isinstance(app.screen, SlurmScreen) and app.screen.data.state is not None)
            text = screen_text(app)
            row = next(ln for ln in text if "qwen-sft" in ln)
            assert "30%" in row and "1.234" in row and "20261204-101500-qwen-sft-ab12" in row and "ftmnode1" in row
            assert any("GPUs held: root 4  daemon 3" in ln for ln in text)
            # own jobs first (running, then pending); a: everybody's, daemon's job appears
            assert not any("bob-dpo" in ln for ln in text)
            await pilot.press("a")
            await until(pilot, lambda: any("bob-dpo" in ln for ln in screen_text(app)))

    asyncio.run(go())
