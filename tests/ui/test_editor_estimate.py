"""The editor's status line carries the memory estimate of the text as it is being edited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftmllm_tui.core.estimate import estimate_values
from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.editor import EditorScreen
from ftmllm_tui.ui.widgets.yaml_editor import YamlEditor

from .conftest import screen_text, until

TABLE = json.loads((Path(__file__).parents[1] / "data" / "memory_calibration_h200.json").read_text())


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(tmp_path / "no-such-llamafactory-cli"))
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(TABLE["models"]["1.5b"]))
    p = tmp_path / "sft.yaml"
    p.write_text(f"model_name_or_path: {model}\nstage: sft\ndo_train: true\nfinetuning_type: lora\nbf16: true\n"
                 "per_device_train_batch_size: 2\ncutoff_len: 1024\n")
    return p


def _figure(values: dict) -> str:
    return f"~{estimate_values(values, kind='train').per_gpu_bytes / 2**30:.1f} GiB/GPU (train)"


async def test_status_line_shows_the_estimate_and_follows_edits(cfg):
    import yaml

    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, edit_path=str(cfg),
                 settings=Settings())
    values = yaml.safe_load(cfg.read_text())
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None)
        want = _figure(values)
        await until(pilot, lambda: any(want in line for line in screen_text(app)))
        ed = app.screen.query_one(YamlEditor)
        ed.text = cfg.read_text().replace("per_device_train_batch_size: 2", "per_device_train_batch_size: 8")
        bigger = _figure({**values, "per_device_train_batch_size": 8})
        assert bigger != want
        await until(pilot, lambda: any(bigger in line for line in screen_text(app)))


async def test_status_line_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "sft.yaml"
    p.write_text("model_name_or_path: Qwen/Qwen2.5-VL-7B-Instruct\nstage: sft\ndo_train: true\n")
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, edit_path=str(p),
                 settings=Settings())
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None)
        await until(pilot, lambda: any("no memory estimate (missing config.json)" in line
                                       for line in screen_text(app)))
