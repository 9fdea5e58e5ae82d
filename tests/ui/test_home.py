"""The home view with the Pilot: sorting, filtering, mine-only, tree, window, refresh, help."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from ftmllm_tui.ui.app import FtmApp, SnapshotReady
from ftmllm_tui.ui.screens.help import HelpScreen
from ftmllm_tui.ui.screens.home import HomeScreen
from ftmllm_tui.ui.widgets.cell import Cell
from ftmllm_tui.ui.widgets.gpu_panel import GpuCard, GpuRow
from ftmllm_tui.ui.widgets.lines import TitleBar, UsersLine
from ftmllm_tui.ui.widgets.process_table import ProcessTable

from .conftest import DATA, feed, make_app


def order(app) -> list:
    return [e.row.pid if e.row else ("L", e.launcher_pid) for e in app.screen.query_one(ProcessTable).shown]


def table_rows(app) -> int:
    return app.screen.query_one(ProcessTable).row_count


async def test_shows_gpus_processes_and_users(clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, clock)
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        assert len(screen.query(GpuRow)) == 2
        assert table_rows(app) == 3
        users = screen.query_one(UsersLine).text.plain
        assert "root" in users and "alice" in users
        title = screen.query_one(TitleBar).text.plain
        assert "REPLAY" in title
        assert "REPLAY" in screen.query_one("#procbar", Cell).text.plain


async def test_sort_keys_and_header_click(clock):
    app = make_app(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await feed(app, pilot, clock)
        assert order(app) == [586, 662, 663]
        await pilot.press("s")  # PID
        assert order(app) == [586, 662, 663]
        await pilot.press("S")  # reversed
        assert order(app) == [663, 662, 586]
        table = app.screen.query_one(ProcessTable)
        # click the SM% header: biggest first
        x = sum(c.width + 1 for c in table.cols[:4]) + 1
        await pilot.click(ProcessTable, offset=(x, 0))
        await pilot.pause()
        assert table.options.sort == "sm"
        assert order(app) == [663, 662, 586]
        await pilot.click(ProcessTable, offset=(x, 0))  # again: reversed
        await pilot.pause()
        assert order(app) == [586, 662, 663]


async def test_filter_mine_tree(clock):
    app = make_app(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await feed(app, pilot, clock)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter", Input)
        await pilot.press(*"alice")
        assert order(app) == [586]
        await pilot.press("enter")
        assert isinstance(app.focused, ProcessTable)
        assert order(app) == [586]  # the filter stays after Enter
        assert "alice" in app.screen.query_one("#procbar", Cell).text.plain
        await pilot.press("escape")
        assert order(app) == [586, 662, 663]
        await pilot.press("m")
        assert order(app) == [662, 663]
        await pilot.press("m", "t")
        assert order(app) == [("L", 584), 586, ("L", 583), 662, 663]
        assert table_rows(app) == 5
        # the table stays in step with new samples while filtered and in tree view
        await feed(app, pilot, clock, 3)
        assert table_rows(app) == 5


async def test_window_and_refresh_interval(clock):
    app = make_app(clock, samples=30)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, clock)
        row = app.screen.query(GpuRow).first()
        before = row.text.plain
        assert app.window_min == 5
        await pilot.press("w")
        assert app.window_min == 15
        await pilot.press("w", "w")
        assert app.window_min == 1
        await pilot.pause()
        after = row.text.plain
        assert len(after) == row.size.width and after != before  # 1 min spreads 30 s over more columns
        assert app.interval == 1.0
        await pilot.press("plus")
        assert app.interval == 0.5
        await pilot.press("minus", "minus", "minus")
        assert app.interval == 3.0


async def test_live_worker_posts_snapshots(clock):
    app = make_app(clock, autostart=True)
    app.interval = 0.5
    seen = []
    async with app.run_test(size=(80, 24), message_hook=lambda m: seen.append(m)):
        for _ in range(60):
            await asyncio.sleep(0.05)
            if app.samples >= 2:
                break
        assert app.samples >= 2
        assert any(isinstance(m, SnapshotReady) for m in seen)
        assert table_rows(app) == 3


async def test_a_failing_sampler_is_reported_and_retried(clock):
    app = make_app(clock, autostart=True)

    calls = []

    def boom():
        calls.append(1)
        raise OSError("NVML went away")

    app.sampler.sample = boom
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(40):
            await asyncio.sleep(0.05)
            if app._failures:
                break
        await pilot.pause()
        assert app._failures >= 1 and app.is_running
        assert any("NVML went away" in str(n.message) for n in app._notifications)


async def test_help_lists_the_bindings_and_closes(clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, clock)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.export_screenshot()
        for word in ("Filter", "Mine", "Tree", "Sort", "Window"):
            assert word.lower() in text.lower()
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_every_action_is_in_the_command_palette(clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, clock)
        cmds = {c.title: c for c in app.get_system_commands(app.screen)}
        from ftmllm_tui.ui.screens.home import HomeScreen

        for b in HomeScreen.BINDINGS:  # every action of the view, by what it does
            assert b.tooltip in cmds, b.tooltip
        for t in ("Runs", "Configs", "Help", "Theme", "Compare runs…"):
            assert t in cmds
        # and running one does what the key does
        cmds["Show only my processes (toggle)"].callback()
        await pilot.pause()
        assert app.screen.query_one(ProcessTable).options.mine_only


async def test_eight_gpus_fit_in_80x24(clock):
    app = make_app(clock, DATA / "h200x8_synth.jsonl")
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, clock)
        rows = list(app.screen.query(GpuRow))
        assert len(rows) == 8
        assert all(r.region.bottom <= 24 and r.region.height == 1 for r in rows)
        assert "unreadable: NVMLError_GpuIsLost" in rows[2].text.plain  # the lost GPU says so
        table = app.screen.query_one(ProcessTable)
        assert table.region.height >= 4  # and the process table still shows rows


async def test_cards_on_a_large_terminal(clock):
    app = make_app(clock)
    async with app.run_test(size=(200, 50)) as pilot:
        await feed(app, pilot, clock)
        cards = list(app.screen.query(GpuCard))
        assert len(cards) == 2 and cards[0].region.y == cards[1].region.y  # side by side
        await pilot.press("v")  # auto -> compact
        await pilot.pause()
        assert len(app.screen.query(GpuRow)) == 2 and not app.screen.query(GpuCard)


async def test_no_driver_banner(clock):
    app = make_app(clock, banner="No NVIDIA driver found (libnvidia-ml.so is not installed)")
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, clock)
        banner = app.screen.query_one("#banner", Cell)
        assert banner.display and "No NVIDIA driver" in banner.text.plain


async def test_quit_mid_sample_is_fast(clock):
    """A sample in flight (NVML can take ~100 ms; here 1.5 s) must not hold up quitting."""
    import time as _time

    app = make_app(clock, autostart=True)
    real = app.sampler.sample
    started = asyncio.Event()

    def slow():
        app.call_from_thread(started.set)
        _time.sleep(1.5)
        return real()

    app.sampler.sample = slow
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(started.wait(), 5)
        t0 = _time.monotonic()
        await pilot.press("q")
    assert _time.monotonic() - t0 < 1.0


async def test_a_sample_taken_before_start_is_shown_at_once(clock):
    from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording

    sampler = ReplaySampler(bundled_recording(), me="root", clock=clock)
    first = sampler.sample()
    app = FtmApp(sampler, first=first, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.snapshot is first and table_rows(app) == 3


async def test_readonly_badge_and_settings_warnings(clock):
    from ftmllm_tui.settings import Settings

    app = make_app(clock, readonly=True, settings=Settings(warnings=("config.toml: unknown key x",)))
    async with app.run_test(size=(100, 30)) as pilot:
        await feed(app, pilot, clock)
        assert "READ-ONLY" in app.screen.query_one(TitleBar).text.plain
        assert any("unknown key x" in str(n.message) for n in app._notifications)


async def test_cards_never_push_the_process_table_away(clock):
    app = make_app(clock, DATA / "h200x8_synth.jsonl")
    async with app.run_test(size=(80, 24)) as pilot:
        await feed(app, pilot, clock)
        await pilot.press("v", "v")  # auto -> compact -> cards: 8 cards cannot fit 24 rows
        await pilot.pause()
        assert app.screen.layout_pref == "cards"
        assert not app.screen.query(GpuCard) and len(app.screen.query(GpuRow)) == 8
        assert any("do not fit" in str(n.message) for n in app._notifications)
        assert app.screen.query_one(ProcessTable).region.height >= 4
    app = make_app(clock)  # 2 GPUs: cards fit at 80x30 when asked for
    async with app.run_test(size=(80, 30)) as pilot:
        await feed(app, pilot, clock)
        await pilot.press("v", "v")
        await pilot.pause()
        assert len(app.screen.query(GpuCard)) == 2
        assert app.screen.query_one(ProcessTable).region.height >= 4


async def test_wide_terminal_grows_the_bars(clock):
    app = make_app(clock)
    async with app.run_test(size=(300, 80)) as pilot:
        await feed(app, pilot, clock)
        await pilot.press("v")  # compact rows at 300 columns
        await pilot.pause()
        row = app.screen.query(GpuRow).first()
        assert row.text.plain.count("█") + row.text.plain.count("·") > 60  # util + memory bars, not 22 cells


async def test_no_driver_banner_hides_with_x_or_a_click_for_the_session(clock):
    """At 80x24 the banner takes two rows of the process table: x (or a click on it) hides it, and a
    home view made later in the session (e.g. after showing another host) does not bring it back."""
    from ftmllm_tui.ui.screens.home import HomeScreen

    text = ("No NVIDIA driver found (libnvidia-ml.so is not installed). Showing a REPLAY of a real "
            "2×H200 recording; --replay FILE replays another.")  # what the command line gives it
    for how in ("key", "click"):
        app = make_app(clock, banner=text)
        async with app.run_test(size=(80, 24)) as pilot:
            await feed(app, pilot, clock)
            banner = app.screen.query_one("#banner", Cell)
            assert banner.display and banner.region.height == 2 and "x hides this" in banner.text.plain
            rows_before = app.screen.query_one(ProcessTable).region.height
            if how == "key":
                await pilot.press("x")
            else:
                await pilot.click("#banner")
            await pilot.pause()
            assert not banner.display
            assert app.screen.query_one(ProcessTable).region.height == rows_before + 2
            assert app.banner is None
            app.push_screen(HomeScreen(banner=app.banner))
            await pilot.pause()
            assert not app.screen.query_one("#banner", Cell).display
