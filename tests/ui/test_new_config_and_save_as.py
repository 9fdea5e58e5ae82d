"""Starting a config from a skeleton or a bundled example (`n` in Configs), and Save as (F12) in the editor."""

from __future__ import annotations

from textual.widgets import Input

from ftmllm_tui.core.configs.skeletons import SKELETONS
from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.configs import ConfigsScreen, bundled_examples
from ftmllm_tui.ui.screens.confirm import ConfirmScreen, PromptScreen
from ftmllm_tui.ui.screens.diffview import SaveScreen
from ftmllm_tui.ui.screens.editor import EditorScreen
from ftmllm_tui.ui.screens.pick import PickScreen

from .conftest import until
from .test_editor import app_for, editor, env  # noqa: F401 (fixture)


async def pick(app, pilot, words: str) -> None:
    await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.found is not None)
    await pilot.press(*words)
    await pilot.pause()
    await pilot.press("enter")


async def answer(app, pilot, value: str) -> None:
    await until(pilot, lambda: isinstance(app.screen, PromptScreen))
    await pilot.pause()
    app.screen.query_one("#prompt", Input).value = value
    await pilot.press("enter")


async def test_n_in_configs_starts_from_a_skeleton_or_an_example(env):  # noqa: F811
    tmp, cfg = env
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, settings=Settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open_configs()
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen))
        await pilot.pause()
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.found is not None)
        labels = [c.label for c in app.screen.found.choices]
        assert {"sft (skeleton)", "dpo (skeleton)", "chat (skeleton)", "eval (skeleton)", "export (skeleton)",
                "qwen2.5vl_lora_sft.yaml", "empty file"} <= set(labels)
        await pick(app, pilot, "dpo")
        target = tmp / "configs" / "new-folder" / "my_dpo.yaml"  # a folder that does not exist yet
        await answer(app, pilot, str(target))
        scr = await editor(app, pilot)
        assert scr.text == SKELETONS["dpo"][1] and not target.exists()  # written on save only
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        await pilot.press("enter")
        await until(pilot, lambda: target.exists())
        assert target.read_text() == SKELETONS["dpo"][1]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen))
        await pilot.pause()
        await pilot.press("n")
        await pick(app, pilot, "qwen2.5vl_export")
        await answer(app, pilot, str(tmp / "configs" / "export.yaml"))
        scr = await editor(app, pilot)
        assert scr.text == (bundled_examples() / "qwen2.5vl_export_merge.yaml").read_text()


async def test_f12_save_as_writes_another_file_and_edits_it(env):  # noqa: F811
    tmp, cfg = env
    original = cfg.read_text()
    app = app_for(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        scr = await editor(app, pilot)
        ed = scr.query_one("#ed")
        ed.move_cursor((0, 0))
        await pilot.press(*"# variant", "enter", "f12")
        other = tmp / "configs" / "variant.yaml"
        await answer(app, pilot, "variant.yaml")  # relative to the file's folder
        await until(pilot, lambda: other.exists())
        assert other.read_text().startswith("# variant") and cfg.read_text() == original
        await until(pilot, lambda: scr.path == other and not scr.modified)
        # over an existing file: asked first (Cancel is the default)
        await pilot.press(*"# again", "enter", "f12")
        await answer(app, pilot, str(cfg))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.focused.id == "cancel"
        app.screen.query_one("#yes").press()
        await until(pilot, lambda: cfg.read_text().startswith("# variant\n# again\n"))
        assert scr.path == cfg
