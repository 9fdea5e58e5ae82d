"""The Runs view: `s` cycles only through columns that are on screen (the sorted one stays shown), and
`/` filters the runs."""

from __future__ import annotations

import pytest

from ftmllm_tui.ui.screens.runs import RunsTable

from .conftest import make_app, screen_text, until
from .test_runs_view import open_runs, seeded  # noqa: F401 (fixture)


@pytest.mark.parametrize("size", [(60, 24), (80, 24), (90, 30), (100, 30), (120, 40), (200, 40)])
async def test_s_never_sorts_by_a_hidden_column(seeded, clock, size):  # noqa: F811
    app = make_app(clock)
    async with app.run_test(size=size) as pilot:
        seeded(app)
        scr = await open_runs(app, pilot)
        table = scr.query_one(RunsTable)
        seen = []
        for _ in range(16):
            await pilot.press("s")
            await pilot.pause()
            key = table.sort_key
            seen.append(key)
            if key is None:
                continue
            shown = {c.key for c in table.cols}
            assert key in shown, (key, shown)
            x = 0
            for c in table.cols:
                if c.key == key:
                    break
                x += c.width + 1
            assert x < size[0], (key, x)  # its header is on screen, not scrolled away
            header = screen_text(app)[1]
            assert "▼" in header or "▲" in header, header
        assert None in seen and len(set(seen)) > 4


async def test_the_sorted_column_stays_shown_when_the_terminal_narrows(seeded, clock):  # noqa: F811
    app = make_app(clock)
    async with app.run_test(size=(160, 40)) as pilot:
        seeded(app)
        scr = await open_runs(app, pilot)
        table = scr.query_one(RunsTable)
        scr.sort_by("user")
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: table.size.width <= 80)
        await pilot.pause()
        assert "user" in {c.key for c in table.cols}
        assert "USER▲" in screen_text(app)[1] or "USER▼" in screen_text(app)[1]


async def test_slash_filters_runs_and_esc_clears_before_going_back(seeded, clock):  # noqa: F811
    from ftmllm_tui.ui.screens.home import HomeScreen
    from ftmllm_tui.ui.screens.runs import RunsScreen

    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        runs = seeded(app)
        scr = await open_runs(app, pilot)
        table = scr.query_one(RunsTable)
        await pilot.press("slash", *"lost")
        await until(pilot, lambda: table.row_count == 2)
        assert set(table._cells) == {runs["lost"].id, runs["silent"].id}
        assert "filter “lost” 2 of " in screen_text(app)[0]  # of 7, plus any external run on this machine
        assert screen_text(app)[-2].strip().startswith("lost")  # the box, with what was typed, is on screen
        assert "Clear filter" in screen_text(app)[-1]
        await pilot.press("enter")  # kept; the table has the keys again
        assert app.focused is table and table.row_count == 2
        await pilot.press("escape")  # clears the filter, stays in Runs
        await until(pilot, lambda: table.row_count >= 7)
        assert isinstance(app.screen, RunsScreen) and "GPUs" in screen_text(app)[-1]
        await pilot.press("slash", *"dpo crash")  # every word must match
        await until(pilot, lambda: table.row_count == 1)
        await pilot.press("escape", "escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
