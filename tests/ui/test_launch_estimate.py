"""The launch dialog shows the memory estimate next to each GPU's free memory (replayed GPUs here) and says
"will not fit" where it will not; a config that fits says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Static

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.launch import LaunchScreen

from .conftest import until

TABLE = json.loads((Path(__file__).parents[1] / "data" / "memory_calibration_h200.json").read_text())


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(tmp_path / "no-such-llamafactory-cli"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _config(tmp_path: Path, shape: str, body: str) -> Path:
    model = tmp_path / f"model-{shape}"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(TABLE["models"][shape]))
    cfg = tmp_path / f"{shape}.yaml"
    cfg.write_text(f"model_name_or_path: {model}\nstage: sft\ndo_train: true\nbf16: true\n{body}")
    return cfg


async def _preview(tmp_path, cfg: Path, gpus: str) -> tuple[str, object]:
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False)
    app.ingest(app.sampler.sample())  # a REPLAY snapshot: the recorded GPUs' free memory
    async with app.run_test(size=(160, 50)) as pilot:
        scr = LaunchScreen(config=str(cfg), gpus=gpus)
        app.push_screen(scr)
        await until(pilot, lambda: scr.prepared is not None and scr.prepared.estimate is not None)
        await pilot.pause(0.1)
        return str(scr.query_one("#preview", Static).render()), scr.prepared.estimate


async def test_launch_dialog_says_will_not_fit_against_the_replayed_gpus(tmp_path):
    cfg = _config(tmp_path, "7b", "finetuning_type: full\nper_device_train_batch_size: 8\ncutoff_len: 4096\n")
    text, est = await _preview(tmp_path, cfg, "0,1")
    assert est.per_gpu_bytes > 140 * 2**30
    assert f"needs ~{est.per_gpu_bytes / 2**30:.1f} GiB per GPU" in text
    assert "GPU 0 has" in text and "GPU 1 has" in text
    assert text.count("→ will not fit") == 2 and "(recorded GPU)" in text


async def test_launch_dialog_says_fits_for_a_small_lora(tmp_path):
    cfg = _config(tmp_path, "0.5b", "finetuning_type: lora\nper_device_train_batch_size: 1\ncutoff_len: 512\n")
    text, est = await _preview(tmp_path, cfg, "none")
    assert est.per_gpu_bytes < 5 * 2**30
    assert "→ fits" in text and "will not fit" not in text


async def test_launch_dialog_says_why_it_cannot_estimate(tmp_path):
    cfg = tmp_path / "x.yaml"
    cfg.write_text(f"model_name_or_path: {tmp_path / 'nowhere'}\nstage: sft\ndo_train: true\n")
    text, est = await _preview(tmp_path, cfg, "none")
    assert isinstance(est, str) and "cannot estimate: model folder" in text
