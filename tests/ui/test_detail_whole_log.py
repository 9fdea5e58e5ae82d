"""The detail log reaches the whole console.log: Home, scrolling up and search read back through
the file (the tail reader), and the log bar says when earlier lines are not held yet."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from ftmllm_tui.ui.screens.detail import RunDetailScreen
from ftmllm_tui.ui.widgets.log_view import LogView

from .conftest import make_app, until

N = 6000


@pytest.fixture
def big(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    lines = [f"[INFO] line {i}" + (" needle" if i % 1000 == 7 else "") for i in range(N)]
    (d / "running_log.txt").write_text("\n".join(lines) + "\n")
    return d


async def opened(app, pilot, out) -> tuple[RunDetailScreen, LogView]:
    app.open_follow(str(out))
    await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
    await pilot.pause()
    return app.screen, app.screen.query_one(LogView)


async def test_home_reaches_the_first_line_of_the_file(big, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, log = await opened(app, pilot, big)
        assert len(log.lines) == 2000 and log.more_above
        assert "last 2000 lines, Home reads back" in screen.query_one("#logbar").text.plain
        await pilot.press("home")
        await until(pilot, lambda: len(log.lines) == N)
        await pilot.pause()
        assert log.lines[0] == "[INFO] line 0" and log.scroll_offset.y == 0 and not log.more_above
        assert log.visible_lines()[0] == "[INFO] line 0"
        assert f"{N} lines" in screen.query_one("#logbar").text.plain


async def test_scrolling_up_past_the_first_line_held_reads_more_and_keeps_the_place(big, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, log = await opened(app, pilot, big)
        log.scroll_to(y=0, animate=False, immediate=True)
        log.follow = False
        await pilot.pause()
        assert log.visible_lines()[0] == f"[INFO] line {N - 2000}"
        await pilot.press("up")
        await until(pilot, lambda: len(log.lines) == 4000)
        await pilot.pause()
        assert log.visible_lines()[0] == f"[INFO] line {N - 2000}"  # the same place, more above it
        await pilot.press("pageup")
        assert log.visible_lines()[0] == f"[INFO] line {N - 2020}"


async def test_search_finds_every_match_in_the_file(big, clock):
    app = make_app(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, log = await opened(app, pilot, big)
        await pilot.press("slash")
        await pilot.press(*"needle")
        await until(pilot, lambda: len(log.matches) == N // 1000)
        assert "6 matches" in screen.query_one("#logbar").text.plain
        screen.query_one(Input).post_message(Input.Submitted(screen.query_one(Input), "needle"))
        await pilot.pause()
        assert log.lines[log.matches[log.current_match]].endswith("needle")
