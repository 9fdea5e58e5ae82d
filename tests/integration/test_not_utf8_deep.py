"""F8 on a config shown read-only because it is not UTF-8: the deep check reads the file's own bytes (as
LLaMA-Factory would, and fails on them), not the � the editor shows. Real LLaMA-Factory 0.9.5 (.venv-lf)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.confirm import ConfirmScreen
from ftmllm_tui.ui.screens.editor import EditorScreen

from ..ui.conftest import until

ROOT = Path(__file__).resolve().parents[2]
LF_CLI = ROOT / ".venv-lf" / "bin" / "llamafactory-cli"


@pytest.mark.skipif(not LF_CLI.exists(), reason="the LLaMA-Factory test environment .venv-lf is missing")
async def test_deep_check_of_a_read_only_file_reads_its_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(LF_CLI))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "gbk.yaml"
    cfg.write_bytes(b"model_name_or_path: Qwen/Qwen2.5-0.5B\nstage: sft\ndo_train: true\n"
                    + "# 训练\n".encode("gbk") + b"output_dir: out\n")
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, edit_path=str(cfg),
                 settings=Settings())
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # keep it read-only
        await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.locked)
        scr = app.screen
        await pilot.press("f8")
        await until(pilot, lambda: getattr(scr, "deep_result", None) is not None, timeout=170)
        res = scr.deep_result
        assert not res.ok and "UnicodeDecodeError" in f"{res.error_type} {res.message}", res
