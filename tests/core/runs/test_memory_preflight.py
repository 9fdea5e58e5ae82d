"""Pre-flight: a config that will not fit in the chosen GPUs' free memory is a warning (never a block), with the
cheapest changes that would fit; one that fits adds nothing."""

from __future__ import annotations

import json
from pathlib import Path

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.core.runs.launch import LaunchRequest, prepare

TABLE = json.loads((Path(__file__).parents[2] / "data" / "memory_calibration_h200.json").read_text())


def _prep(tmp_path, body: str, shape: str = "7b"):
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text(json.dumps(TABLE["models"][shape]))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model_name_or_path: {model}\nstage: sft\ndo_train: true\nbf16: true\n"
                   f"output_dir: {tmp_path / 'out'}\n{body}")
    snap = ReplaySampler(bundled_recording(), me="root").sample()
    return prepare(LaunchRequest(config=cfg, gpus="0", cwd=tmp_path, allow_busy=True), snapshot=snap,
                   llamafactory_cli="true", environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


def test_will_not_fit_is_a_warning_with_the_cheapest_changes(tmp_path):
    prep = _prep(tmp_path, "finetuning_type: lora\nper_device_train_batch_size: 16\ncutoff_len: 8192\n")
    mem = [p for p in prep.problems if p.where == "memory"]
    assert len(mem) == 1 and mem[0].level == "warning"
    assert "GPU 0 has" in mem[0].message and "will not fit" in mem[0].message
    assert mem[0].fix.startswith("would fit: per_device_train_batch_size: ")
    assert "gradient_accumulation_steps" in mem[0].fix
    assert prep.estimate.per_gpu_bytes > 140 * 2**30


def test_fits_adds_no_problem(tmp_path):
    prep = _prep(tmp_path, "finetuning_type: lora\nper_device_train_batch_size: 1\ncutoff_len: 1024\n")
    assert not [p for p in prep.problems if p.where == "memory"]
    assert prep.estimate.kind == "train"
