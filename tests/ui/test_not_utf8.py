"""A config that is not UTF-8 never kills the app: the editor shows it read-only with the problem at its line and
offers to re-encode GBK; a binary file is "not a text file"; the Configs view's mark agrees with `validate`;
an unexpected error in a worker leaves the worker's traceback in errors.log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import OptionList

from ftmllm_tui.core.configs import cfgfile
from ftmllm_tui.core.configs.lfvalidate import validate
from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.configs import ConfigsScreen
from ftmllm_tui.ui.screens.confirm import ConfirmScreen
from ftmllm_tui.ui.screens.diffview import SaveScreen
from ftmllm_tui.ui.screens.editor import EditorScreen
from ftmllm_tui.ui.screens.pick import PickScreen

from .conftest import until

GOOD = "stage: sft\ndo_train: true\nfinetuning_type: lora\n"
GBK = GOOD.encode() + "# 训练数据\n".encode("gbk") + b"template: qwen\n"
BINARY = b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 8


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(tmp_path / "no-such-llamafactory-cli"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    return tmp_path


def app_for(path: Path | None = None) -> FtmApp:
    return FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False,
                  edit_path=str(path) if path else None, settings=Settings())


async def test_gbk_config_opens_read_only_then_reencodes_and_saves_utf8(env):
    cfg = env / "configs" / "gbk.yaml"
    cfg.write_bytes(GBK)
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "line 4 looks like GBK" in app.screen.title_text
        scr = app.screen_stack[-2]
        assert isinstance(scr, EditorScreen)
        await pilot.press("escape")  # Cancel: read-only, the problem listed at its line
        await until(pilot, lambda: app.screen is scr and scr.report is not None)
        ed = scr.query_one("#ed")
        assert ed.read_only and scr.locked == "read-only: not UTF-8" and not scr.modified
        assert "\ufffd" in ed.text and "template: qwen" in ed.text
        f = scr.report.findings[0]
        assert (f.line, f.message) == (4, "line 4 is not UTF-8 (looks like GBK?)")
        assert "line 4 is not UTF-8" in str(scr.query_one("#problems", OptionList).get_option_at_index(0).prompt)
        # ctrl+s asks again; this time re-encode, then save: the file becomes UTF-8, the old one a backup
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab", "enter")
        await until(pilot, lambda: app.screen is scr and not scr.locked and "# 训练数据" in scr.text)
        assert not ed.read_only and scr.modified
        await until(pilot, lambda: scr.report is not None and all(f.code != "not-utf8" for f in scr.report.findings))
        assert cfg.read_bytes() == GBK  # nothing written yet
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen))
        await pilot.press("enter")
        await until(pilot, lambda: cfg.read_bytes() != GBK)
        assert cfg.read_text(encoding="utf-8") == GOOD + "# 训练数据\ntemplate: qwen\n"
        assert [p.read_bytes() for p in (env / "state").rglob("gbk.yaml.*")] == [GBK]
        # F9: the GBK backup can be looked at (as UTF-8), never put into the text area as bytes
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.shown)
        await pilot.press("enter")
        await until(pilot, lambda: any("that backup is GBK" in str(n.message) for n in app._notifications))
        while app.screen is not scr:
            await pilot.press("escape")
            await pilot.pause()
        assert app.is_running and not any("\udc80" <= ch <= "\udcff" for ch in scr.text)


async def test_binary_file_is_not_a_text_file_and_closes_without_asking(env):
    cfg = env / "configs" / "model.yaml"
    cfg.write_bytes(BINARY)
    app = app_for(cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None)
        scr = app.screen
        assert scr.locked == "not a text file" and scr.text == "" and scr.query_one("#ed").read_only
        assert [f.code for f in scr.report.findings] == ["not-text"]
        assert any("not a text file" in str(n.message) for n in app._notifications)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert cfg.read_bytes() == BINARY
        await pilot.press("escape")  # no edits: closes without a question
        await until(pilot, lambda: not isinstance(app.screen, EditorScreen))
    assert cfg.read_bytes() == BINARY


async def test_configs_view_marks_agree_with_validate_and_enter_opens(env):
    (env / "configs" / "gbk.yaml").write_bytes(GBK)
    (env / "configs" / "model.yaml").write_bytes(BINARY)
    app = app_for()
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen.entries)
        scr = app.screen
        paths = [e.path for e in scr.entries if e.path.parent.name == "configs" and e.path.parent.parent == env]
        await until(pilot, lambda: all(p in scr.checks for p in paths), timeout=20)
        for p in paths:
            report = validate(cfgfile.read(p).text, path=p, workdir=env)
            assert report.errors
            assert scr.checks[p].plain.startswith(f"✗ {len(report.errors)}"), (p, scr.checks[p].plain)
        for name in ("gbk.yaml", "model.yaml"):  # Enter on each: the editor, no crash
            row = next(i for i, e in enumerate(scr.entries) if e.path == env / "configs" / name)
            scr.query_one("DataTable").move_cursor(row=row)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, (EditorScreen, ConfirmScreen)))
            await until(pilot, lambda: app.screen_stack[-1] is not scr and any(
                isinstance(s, EditorScreen) and s.locked for s in app.screen_stack))
            while app.screen is not scr:
                await pilot.press("escape")
                await pilot.pause()
        assert app.is_running


def test_a_worker_error_leaves_its_traceback_in_errors_log(tmp_path):
    """WorkerFailed is created, not raised: errors.log must still hold where the worker's error happened."""
    from .test_pty import read_until, running, wait_exit

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import ftmllm_tui.ui.screens.editor.problems as p\n"
        "def broken_validate(*a, **k):\n    raise ValueError('boom in a worker')\n"
        "p.validate = broken_validate\n")
    cfg = tmp_path / "x.yaml"
    cfg.write_text(GOOD)
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state), "FTMLLM_SPLASH": "0", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "FTMLLM_LLAMAFACTORY_CLI": str(tmp_path / "none"),
           "PYTHONPATH": f"{hook}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with running(["--replay", "tests/data/h200x8_synth.jsonl", "edit", str(cfg)], env=env) as (pid, fd):
        out = read_until(fd, b"see them.", 30)
        code = wait_exit(pid, fd, 10)
    assert b"stopped on an unexpected error" in out and code == 1
    log = (state / "ftmllm-tui" / "errors.log").read_text()
    assert "ValueError: boom in a worker" in log
    assert "in broken_validate" in log and "Traceback" in log, log
