"""Navigation around the Runs view: Esc goes where the footer says, a new run gets the cursor,
marks survive leaving the view, `n` starts from the selected run's config; the launch dialog has no
invisible focus stop and completes config paths."""

from __future__ import annotations

import time

from textual.widgets import Button, Input, Select

from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.ui.screens.editor import EditorScreen
from ftmllm_tui.ui.screens.home import HomeScreen
from ftmllm_tui.ui.screens.launch import LaunchScreen
from ftmllm_tui.ui.screens.runs import RunsScreen, RunsTable

from .conftest import make_app, screen_text, until
from .test_runs_view import open_runs, seeded  # noqa: F401 (fixture)


def footer(app) -> str:
    return screen_text(app)[-1]


async def test_esc_from_runs_opened_over_the_editor_says_editor_and_goes_there(tmp_path, clock, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "sft.yaml"
    cfg.write_text("stage: sft\n")
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_editor(cfg)
        await until(pilot, lambda: isinstance(app.screen, EditorScreen))
        app.open_runs()  # what a launch from the editor (F5) ends in
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.pause()
        assert "Editor" in footer(app) and "GPUs" not in footer(app), footer(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, EditorScreen))
        # from the home view the same key says GPUs
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.pause()
        assert "GPUs" in footer(app) and "Editor" not in footer(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))


async def test_a_launched_run_gets_the_cursor_and_marks_survive_leaving(seeded, clock):  # noqa: F811
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = seeded(app)
        scr = await open_runs(app, pilot)
        table = scr.query_one(RunsTable)
        table.move_cursor_to_key(runs["failed"].id)
        await pilot.press("space")
        assert runs["failed"].id in scr.marked
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        scr = await open_runs(app, pilot)
        assert runs["failed"].id in scr.marked
        assert any("● " in row and "dpo-crash" in row for row in screen_text(app))
        # a run launched now: the cursor goes to it once it shows
        new = RunRecord(id=f"{time.strftime('%Y%m%d-%H%M%S')}-brand-new-0001", name="brand-new", kind="train",
                        config="/work/cfg/new.yaml", argv=("x",), env=(), tmux_socket="nosuch",
                        tmux_session="ftm-new", created_at=time.time() - 3 * 86400)  # sorted far down
        app.ctx.registry.create(new, None)
        app.launched(new)
        await until(pilot, lambda: scr.query_one(RunsTable).cursor_key == new.id)


async def test_n_in_runs_prefills_the_selected_runs_config_and_kind(seeded, clock):  # noqa: F811
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = seeded(app)
        scr = await open_runs(app, pilot)
        scr.query_one(RunsTable).move_cursor_to_key(runs["webchat"].id)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.pause()
        assert app.screen.query_one("#config", Input).value == "/work/cfg/webchat-demo.yaml"
        assert app.screen.query_one("#kind", Select).value == "webchat"


async def test_launch_dialog_every_focus_stop_is_visible_and_config_paths_complete(tmp_path, clock,
                                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "sft_long_name.yaml").write_text("stage: sft\n")
    (tmp_path / "configs" / "notes.txt").write_text("x")
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(LaunchScreen())
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.pause()
        seen = []
        for _ in range(12):
            seen.append(app.focused)
            await pilot.press("tab")
        assert all(isinstance(w, (Input, Select, Button)) for w in seen), [type(w).__name__ for w in seen]
        app.screen.query_one("#config", Input).focus()
        await pilot.press(*"configs/s")
        await pilot.pause(0.2)
        await pilot.press("right")  # accepts the completion
        await until(pilot, lambda: app.screen.query_one("#config", Input).value == "configs/sft_long_name.yaml")
