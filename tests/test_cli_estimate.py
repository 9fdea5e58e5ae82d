"""`ftmllm-tui estimate`, run as a real process: exit 0 ok / fits, 1 cannot estimate or will not fit, 2 usage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VL7B = ROOT / "tests/data/model_configs/qwen2.5-vl-7b-instruct.config.json"
REPLAY = ROOT / "tests/data/h200x2_ftmllm_record.jsonl"   # GPU 0 ~127 GiB free, GPU 1 ~131 GiB free


def _run(args, tmp_path, cwd=ROOT / "configs"):
    cache = tmp_path / "hub"
    snap = cache / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "snapshots" / "r1"
    snap.mkdir(parents=True, exist_ok=True)
    shutil.copy(VL7B, snap / "config.json")
    env = dict(os.environ, HUGGINGFACE_HUB_CACHE=str(cache), HOME=str(tmp_path),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "estimate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_estimate_text_and_fit_against_replayed_gpus(tmp_path):
    r = _run(["qwen2.5vl_lora_sft.yaml", "--gpus", "0,1", "--replay", str(REPLAY)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "train, needs ~" in r.stdout and "GiB per GPU" in r.stdout
    assert "GPU 0 has" in r.stdout and "→ fits" in r.stdout
    assert "model_type=qwen2_5_vl" in r.stdout          # never a number without its inputs


def test_estimate_json(tmp_path):
    r = _run(["qwen2.5vl_lora_sft_ds3.yaml", "--gpus", "4", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["gpus"] == 4 and out["per_gpu_bytes"] == sum(out["parts"].values())
    assert set(out["parts"]) == {"weights", "gradients", "optimizer", "activations", "logits", "kv_cache",
                                 "overhead"}
    assert out["inputs"]["zero_stage"] == 3 and out["assumptions"]


def test_will_not_fit_exits_1(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("model_name_or_path: Qwen/Qwen2.5-VL-7B-Instruct\nstage: sft\ndo_train: true\n"
                   "finetuning_type: full\nbf16: true\nper_device_train_batch_size: 8\ncutoff_len: 8192\n")
    r = _run([str(big), "--gpus", "0,1", "--replay", str(REPLAY), "--json"], tmp_path)
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert [c["fits"] for c in out["gpu_check"]] == [False, False]
    assert "will not fit" in out["gpu_check"][0]["line"]


def test_cannot_estimate_is_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"model_name_or_path: {tmp_path}\ndo_train: true\n")
    r = _run([str(bad)], tmp_path)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "has no config.json, missing config.json" in r.stderr
    r = _run([str(bad), "--json"], tmp_path)
    assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False


def test_usage_errors_exit_2(tmp_path):
    assert _run(["nope.yaml"], tmp_path).returncode == 2
    r = _run(["qwen2.5vl_lora_sft.yaml", "--gpus", "x,y", "--json"], tmp_path)
    assert r.returncode == 2 and "give a count" in json.loads(r.stdout)["error"]


def test_unknown_model_type_and_unreadable_deepspeed_exit_1(tmp_path):
    m = tmp_path / "m"
    m.mkdir()
    (m / "config.json").write_text(json.dumps({"model_type": "mamba9", "hidden_size": 8}))
    cfg = tmp_path / "a.yaml"
    cfg.write_text(f"model_name_or_path: {m}\ndo_train: true\n")
    r = _run([str(cfg), "--json"], tmp_path)
    assert r.returncode == 1
    assert "unknown model_type 'mamba9'" in json.loads(r.stdout)["error"]
    (m / "config.json").write_text(VL7B.read_text())
    (tmp_path / "ds.json").write_text("{ broken")
    cfg.write_text(f"model_name_or_path: {m}\ndo_train: true\ndeepspeed: {tmp_path / 'ds.json'}\n")
    r = _run([str(cfg)], tmp_path)
    assert r.returncode == 1 and "DeepSpeed config" in r.stderr and "unreadable" in r.stderr
    assert r.stderr.count("\n") == 1
