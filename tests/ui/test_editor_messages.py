"""Editor messages that must be true: the deep check names the real settings and its verdict stays in
Problems; F9 says Restore and names the backup in the diff; a change on disk shows in the header
before any save."""

from __future__ import annotations

from textual.widgets import Button, OptionList

from ftmllm_tui.core.configs.lfenv import no_env_message
from ftmllm_tui.settings import SECTIONS
from ftmllm_tui.ui.screens.diffview import SaveScreen
from ftmllm_tui.ui.screens.pick import PickScreen

from .conftest import until
from .test_editor import app_for, editor, env  # noqa: F401 (fixture)


def test_no_environment_message_names_settings_that_exist():
    msg = no_env_message()
    names = [w.strip(",") for w in msg.split() if "." in w and not w.endswith(".toml)")]
    assert names == ["runs.llamafactory_cli", "configs.lf_python"]
    for name in names:
        section, key = name.split(".")
        assert key in SECTIONS[section]


def option_texts(scr) -> list[str]:
    ol = scr.query_one("#problems", OptionList)
    return [str(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]


async def test_deep_check_verdict_stays_in_problems(env):  # noqa: F811
    tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        await pilot.press("f8")
        await until(pilot, lambda: getattr(scr, "deep_result", None) is not None)
        texts = option_texts(scr)
        assert any("depends on this machine" in t and "configs.lf_python" in t for t in texts), texts
        assert not any(t.strip() == "✓ no problems found" for t in texts)
        # still there after the file is validated again (an edit), marked as older than the text
        ed = scr.query_one("#ed")
        ed.move_cursor((0, 0))
        await pilot.press(*"# x", "enter")
        await until(pilot, lambda: any("before your last edits" in t for t in option_texts(scr)))


async def test_f9_restore_is_labelled_restore_and_names_the_backup(env):  # noqa: F811
    tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        ed = scr.query_one("#ed")
        ed.move_cursor((0, 0))
        await pilot.press(*"# v2", "enter", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        await pilot.press("enter")
        await until(pilot, lambda: cfg.read_text().startswith("# v2"))
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.shown)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        dlg = app.screen
        assert dlg.query_one("#dlg").border_title.startswith("Restore the backup of ")
        assert str(dlg.query_one("#save", Button).label) == "Restore"
        assert "(editor now)" in dlg.diff and "(backup of " in dlg.diff and "(editor)" not in dlg.diff


async def test_a_change_on_disk_shows_in_the_header_first(env):  # noqa: F811
    tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        ed = scr.query_one("#ed")
        ed.move_cursor((0, 0))
        await pilot.press(*"# mine", "enter")
        cfg.write_text(cfg.read_text().replace("do_train: true", "do_train: false"))
        scr._check_disk()
        await until(pilot, lambda: "changed on disk" in scr.query_one("#edhead").text.plain)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        assert "changed on disk since you opened it" in str(app.screen.query_one("#summary").render())
