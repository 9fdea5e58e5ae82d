"""The run detail view at 80x24 (search box, status lines, focus, footer) and the help of the detail and
compare views."""

from __future__ import annotations

import json
import shutil

import pytest
from textual.widgets import Footer, Input

from ftmllm_tui.core.follow.follow import resolve
from ftmllm_tui.ui.screens.compare import CompareScreen
from ftmllm_tui.ui.screens.detail import RunDetailScreen
from ftmllm_tui.ui.screens.help import HelpScreen, key_label
from ftmllm_tui.ui.widgets.log_view import LogView

from .conftest import DATA, make_app, screen_text, until


def row_with(app, needle: str) -> str:
    return next((ln for ln in screen_text(app) if needle in ln), "")


@pytest.fixture
def deep(tmp_path):
    """The bundled LF run in a deep folder: its log path is far longer than 80 columns."""
    out = tmp_path / "a-rather-long-folder-name" / "saves" / "qwen2-5vl-7b-instruct" / "lora" / "tiny-lora-sft"
    shutil.copytree(DATA / "lf_run", out)
    shutil.copy(DATA / "console_tiny_lora_sft.log", out / "running_log.txt")
    with open(out / "trainer_log.jsonl") as f:
        last = json.loads(f.read().splitlines()[-1])
    assert last.get("elapsed_time")
    return out


async def open_detail(app, pilot, out) -> RunDetailScreen:
    app.open_follow(str(out))
    await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None
                and "┤" in app.screen.query_one("#lossplot").render().plain)
    await pilot.pause()
    return app.screen


# -- A4: the search box is on screen, above the footer ----------------------------------------------------
async def test_search_box_is_visible_above_the_footer(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, deep)
        await pilot.press("slash", *"eval_loss")
        await pilot.pause()
        box = screen.query_one("#search", Input)
        footer = screen.query_one(Footer)
        assert app.focused is box and box.region.height == 1
        assert box.region.bottom <= footer.region.y  # not under the footer
        assert "eval_loss" in screen_text(app)[box.region.y]
        log = screen.query_one(LogView)
        assert log.region.bottom <= box.region.y  # and the log is not hidden under it either


async def test_search_from_plot_only_shows_the_log(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, deep)
        await pilot.press("v")  # plot only
        await pilot.press("slash")
        await pilot.pause()
        assert screen.query_one("#logbox").display and screen.query_one("#search", Input).region.height == 1


# -- A6: one-line status bars do not wrap at 80 columns ----------------------------------------------------
async def test_status_lines_keep_their_short_parts_at_80_columns(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, deep)
        log = screen.query_one(LogView)
        bar = row_with(app, "lines")
        assert f"{len(log.lines)} lines" in bar and "following" in bar
        assert bar.rstrip().endswith("running_log.txt") and "…" in bar  # the path shortened from the left
        assert "elapsed" in row_with(app, "step ")
        assert screen.query_one("#dtitle").size.height == 1 and screen.query_one("#logbar").size.height == 1
        await pilot.press("home")  # paused: still says so
        await pilot.pause()
        assert "paused" in row_with(app, "lines")


async def test_title_shows_the_output_dir_tail_at_80_columns(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(app, pilot, deep)
        title = screen_text(app)[0]
        assert "tiny-lora-sft" in title and title.rstrip().endswith("lora/tiny-lora-sft")


# -- A7: focus after v ---------------------------------------------------------------------------------------
async def test_layout_cycle_gives_the_log_focus_back(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, deep)
        log = screen.query_one(LogView)
        assert app.focused is log
        await pilot.press("v")  # plot only: nothing to focus
        await pilot.press("v")  # log only
        await pilot.pause()
        assert app.focused is log
        await pilot.press("v")  # split
        await pilot.pause()
        assert app.focused is log
        y = log.scroll_offset.y
        await pilot.press("up", "up")  # the log's keys work without a click
        assert log.scroll_offset.y < y and not log.follow


# -- footer and help --------------------------------------------------------------------------------------------
async def test_detail_footer_keeps_help_at_80_columns(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(app, pilot, deep)
        footer = screen_text(app)[-1]
        assert "? Help" in footer and "End Follow" in footer and "/ Search" in footer and "v Layout" in footer
        await pilot.press("v")  # plot only (the log loses focus): the footer still fits
        await pilot.pause()
        footer = screen_text(app)[-1]
        assert "? Help" in footer and "v Layout" in footer


async def test_detail_help_has_its_title_log_keys_and_end(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(100, 50)) as pilot:
        screen = await open_detail(app, pilot, deep)
        follow = next(b for b in screen.BINDINGS if b.action == "follow")
        assert key_label(follow) == "End"
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(screen_text(app))
        assert "Run detail" in text and "PgUp" in text and "Top of the log" in text and "wheel" in text
        assert "End   " in text and "end F" not in text and "move in the process table" not in text


async def test_compare_help_has_its_title(tmp_path, clock):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(DATA / "lf_run", a)
    shutil.copytree(DATA / "lf_run", b)
    app = make_app(clock)
    async with app.run_test(size=(100, 40)) as pilot:
        app.push_screen(CompareScreen([resolve(str(a), None), resolve(str(b), None)]))
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.last is not None)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(screen_text(app))
        assert "Compare runs" in text and "scroll the results" in text and "Back to the runs" in text
        assert "move in the process table" not in text


async def test_left_right_scroll_long_log_lines(deep, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, deep)
        log = screen.query_one(LogView)
        assert log.max_scroll_x > 0  # lines longer than the pane: ← → reach their ends
        before = screen_text(app)[log.region.y]
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert log.scroll_offset.x > 0 and log.follow
        assert screen_text(app)[log.region.y] != before
        await pilot.press("W")  # wrapped: nothing to scroll sideways
        await pilot.pause()
        assert log.max_scroll_x == 0
        assert log._width == log.scrollable_content_region.width  # wrapped beside the scrollbar, not under it
