"""The config editor and the Configs view with the Pilot, on real files: type, see the problem, fix it, save
(diff, backup), an external change → the conflict dialog, the 0.9.2 float trap, pickers, completion."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from textual.widgets import Button, OptionList

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.configs import ConfigsScreen
from ftmllm_tui.ui.screens.diffview import ConflictScreen, SaveScreen
from ftmllm_tui.ui.screens.editor import EditorScreen
from ftmllm_tui.ui.screens.pick import PickScreen

from .conftest import until

CLEAN = """\
### model
model_name_or_path: Qwen/Qwen2.5-VL-7B-Instruct  # a hub id

### method
stage: sft
do_train: true
finetuning_type: lora

### dataset
dataset: demo
dataset_dir: {data}
template: qwen2_vl

### output
output_dir: {out}
overwrite_output_dir: true
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(tmp_path / "no-such-llamafactory-cli"))
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text(json.dumps({
        "demo": {"file_name": "demo.json"}, "prefs": {"file_name": "p.json", "ranking": True}}))
    (data / "demo.json").write_text("[]")
    cfg = tmp_path / "configs" / "sft.yaml"
    cfg.parent.mkdir()
    cfg.write_text(CLEAN.format(data=data, out=tmp_path / "out"))
    return tmp_path, cfg


def app_for(path: Path, **settings) -> FtmApp:
    return FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, edit_path=str(path),
                  settings=Settings(**settings))


async def editor(app, pilot) -> EditorScreen:
    await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None)
    return app.screen


def problems(scr: EditorScreen) -> list[tuple[str, int, str]]:
    return [(f.severity, f.line, f.code) for f in scr.report.findings if f.severity != "info"]


async def test_type_error_fix_save_backup(env):
    tmp, cfg = env
    original = cfg.read_text()
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        assert problems(scr) == []
        ed = scr.query_one("#ed")
        ed.move_cursor((ed.document.line_count - 1, 0))
        await pilot.press(*"lerning_rate: 2.0e-5", "enter")
        await until(pilot, lambda: any(f.code == "unknown-key" for f in scr.report.findings))
        line = ed.document.line_count - 1  # 1-based line of the typed key
        f = next(f for f in scr.report.findings if f.code == "unknown-key")
        assert f.line == line and "learning_rate" in f.hint
        assert "unknown key lerning_rate" in str(scr.query_one("#problems", OptionList).get_option_at_index(0).prompt)
        assert "[modified]" in str(scr.query_one("#edhead").renderable if hasattr(
            scr.query_one("#edhead"), "renderable") else "") or scr.modified
        # fix it: insert the missing "a"
        ed.move_cursor((line - 1, 2))
        await pilot.press("a")
        await until(pilot, lambda: problems(scr) == [])
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        assert "+learning_rate: 2.0e-5" in app.screen.diff
        await pilot.press("enter")
        await until(pilot, lambda: cfg.read_text() != original)
        assert cfg.read_text() == original + "learning_rate: 2.0e-5\n"
        backups = list((tmp / "state").rglob("sft.yaml.*"))
        assert len(backups) == 1 and backups[0].read_text() == original
        assert not scr.modified
        # F9: the backup, its diff, restored into the editor (not saved)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.shown)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        assert "-learning_rate: 2.0e-5" in app.screen.diff
        await pilot.press("enter")
        await until(pilot, lambda: scr.text == original)
        assert scr.modified and cfg.read_text() == original + "learning_rate: 2.0e-5\n"


async def test_external_change_gives_conflict_dialog_then_overwrite(env):
    tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        ed = scr.query_one("#ed")
        ed.move_cursor((0, 0))
        await pilot.press(*"# mine", "enter")
        theirs = cfg.read_text().replace("do_train: true", "do_train: false")
        cfg.write_text(theirs)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConflictScreen))
        assert cfg.read_text() == theirs  # nothing written yet
        assert "-do_train: false" in app.screen.diff and "+# mine" in app.screen.diff
        assert app.screen.focused.id == "cancel"  # Enter right away loses nothing
        app.screen.query_one("#overwrite", Button).press()
        await until(pilot, lambda: cfg.read_text().startswith("# mine"))
        backups = list((tmp / "state").rglob("sft.yaml.*"))
        assert any(b.read_text() == theirs for b in backups)  # their version kept


async def _into_conflict(app, pilot, cfg):
    """Type an edit, change the file on disk, save: the conflict dialog over the editor."""
    scr = await editor(app, pilot)
    ed = scr.query_one("#ed")
    ed.move_cursor((0, 0))
    await pilot.press(*"# mine", "enter")
    theirs = cfg.read_text().replace("do_train: true", "do_train: false")
    cfg.write_text(theirs)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(app.screen, SaveScreen))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ConflictScreen))
    return scr, theirs


@pytest.mark.parametrize("how", ["enter", "click", "escape"])
async def test_conflict_cancel_keeps_the_editor_and_the_edits(env, how):
    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        scr, theirs = await _into_conflict(app, pilot, cfg)
        if how == "click":
            await pilot.click("#cancel")
        else:
            await pilot.press(how)  # Enter: on Cancel, the default
        await until(pilot, lambda: app.screen is scr)
        await pilot.pause(0.3)
        assert app.screen is scr and scr in app.screen_stack
        assert scr.text.startswith("# mine") and scr.modified
        assert cfg.read_text() == theirs


async def test_conflict_reload_takes_the_disk_version(env):
    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        scr, theirs = await _into_conflict(app, pilot, cfg)
        await pilot.click("#reload")
        await until(pilot, lambda: app.screen is scr and scr.text == theirs)
        await pilot.pause(0.3)
        assert app.screen is scr and not scr.modified and cfg.read_text() == theirs


async def test_conflict_overwrite_writes_and_stays_in_the_editor(env):
    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        scr, _theirs = await _into_conflict(app, pilot, cfg)
        await pilot.click("#overwrite")
        await until(pilot, lambda: cfg.read_text().startswith("# mine"))
        await pilot.pause(0.3)
        assert app.screen is scr and not scr.modified


async def test_conflict_diff_shows_the_difference(env):
    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(80, 24)) as pilot:
        scr, theirs = await _into_conflict(app, pilot, cfg)
        dialog = app.screen
        await pilot.click("#diff-btn")
        await pilot.pause(0.2)
        assert app.screen is dialog  # still asking
        assert dialog.query_one("#diff").display and dialog.query_one("#diffbox").region.height > 0
        shown = str(dialog.query_one("#diff").render())
        assert "-do_train: false" in shown and "+# mine" in shown
        for b in dialog.query(Button):  # the buttons stay on screen under the diff
            assert dialog.region.contains_region(b.region) and b.region.height == 1
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is scr)
        assert scr.text.startswith("# mine") and cfg.read_text() == theirs


async def test_unmodified_buffer_reloads_external_change(env):
    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        cfg.write_text(cfg.read_text() + "bf16: true\n")
        await until(pilot, lambda: scr.text.endswith("bf16: true\n"), timeout=6)
        assert not scr.modified


async def test_092_float_trap_and_syntax_error_blocks_save(env):
    _tmp, cfg = env
    app = app_for(cfg, llamafactory_version="0.9.2")
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        await until(pilot, lambda: scr.schema.version == "0.9.2")
        ed = scr.query_one("#ed")
        ed.move_cursor((ed.document.line_count - 1, 0))
        await pilot.press(*"learning_rate: 1e-4")
        await until(pilot, lambda: any(f.code == "float-as-string" for f in scr.report.findings))
        f = next(f for f in scr.report.findings if f.code == "float-as-string")
        assert f.hint == "write 1.0e-4" and f.line == ed.document.line_count
        # a syntax error: the save asks first and Enter cancels
        await pilot.press("enter", *"bad: [1, 2")
        await until(pilot, lambda: not scr.report.syntax_ok)
        before = cfg.read_text()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not scr)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert cfg.read_text() == before and app.screen is scr


async def test_completion_and_dataset_picker(env):
    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        ed = scr.query_one("#ed")
        ed.move_cursor((ed.document.line_count - 1, 0))
        await pilot.press(*"gradient_accum")
        await pilot.pause(0.1)
        assert ed.suggestion == "ulation_steps: "  # inline completion
        await pilot.press("right")
        assert ed.document.get_line(ed.cursor_location[0]).startswith("gradient_accumulation_steps: ")
        await pilot.press(*"8", "enter", "ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, PickScreen))
        await pilot.press(*"lr_scheduler_t")
        await until(pilot, lambda: app.screen.shown and app.screen.shown[0].value == "lr_scheduler_type")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is scr)
        row = ed.cursor_location[0]
        assert ed.document.get_line(row).startswith("lr_scheduler_type: linear")
        # the dataset picker lists dataset_info.json and writes the choice
        ed.move_cursor((9, 3))  # dataset: demo
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.found is not None)
        names = [c.value for c in app.screen.found.choices]
        assert names == ["demo", "prefs"]
        await pilot.press(*"prefs", "enter")
        await until(pilot, lambda: app.screen is scr)
        assert ed.document.get_line(9) == "dataset: prefs"
        # stage sft with a ranking dataset is an error at that line
        await until(pilot, lambda: any(f.code == "ranking" for f in scr.report.findings))
        assert next(f for f in scr.report.findings if f.code == "ranking").line == 10


async def test_close_with_unsaved_edits_asks(env):
    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        await pilot.press("x")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not scr)
        await pilot.press("enter")  # Cancel is the default
        await pilot.pause(0.2)
        assert app.screen is scr and scr.modified
        await pilot.press("ctrl+c")  # nothing selected: quit, which asks too
        await until(pilot, lambda: app.screen is not scr)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.screen is scr and app.is_running


async def test_configs_view_lists_checks_and_opens(env):
    tmp, cfg = env
    broken = cfg.with_name("broken.yaml")
    broken.write_text("stage: sfx\n")
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False,
                 settings=Settings(config_dirs=(str(tmp / "configs"),)))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen.entries)
        scr = app.screen
        await until(pilot, lambda: cfg in scr.checks and broken in scr.checks)
        assert scr.checks[cfg].plain == "✓"
        assert scr.checks[broken].plain.startswith("✗ 1")
        names = [e.path.name for e in scr.shown]
        assert "sft.yaml" in names and "broken.yaml" in names
        assert any(e.source == "example" for e in scr.entries)  # the bundled examples
        await pilot.press("slash", *"broken", "enter")
        await until(pilot, lambda: [e.path.name for e in scr.shown] == ["broken.yaml"])
        await pilot.press("enter")
        ed = await editor(app, pilot)
        assert ed.path == broken and any(f.code == "choice" for f in ed.report.findings)
        await asyncio.sleep(0)


async def test_launch_from_editor_saves_first_and_checks_overrides(env):
    from textual.widgets import Input

    from ftmllm_tui.ui.screens.launch import LaunchScreen

    _tmp, cfg = env
    app = app_for(cfg)
    async with app.run_test(size=(130, 44)) as pilot:
        scr = await editor(app, pilot)
        ed = scr.query_one("#ed")
        ed.move_cursor((0, 0))
        await pilot.press(*"# tuned", "enter")
        await pilot.press("f5")  # unsaved: the save dialog comes first
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        assert cfg.read_text().startswith("# tuned")
        dialog = app.screen
        assert dialog.query_one("#config", Input).value == str(cfg)
        dialog.query_one("#gpus-in", Input).value = "none"
        dialog.query_one("#overrides", Input).value = "learning_rate=abc"
        await until(pilot, lambda: dialog.prepared is not None and dialog.prepared.request.overrides)
        msgs = [p.message for p in dialog.prepared.problems]
        assert any(m.startswith("learning_rate=abc (from --set / Set, not the file)") for m in msgs), msgs
        assert "learning_rate: abc" in dialog.prepared.config_text  # the run's copy, not the file
        assert "learning_rate" not in cfg.read_text()
        assert dialog.query_one("#start").disabled
