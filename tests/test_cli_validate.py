"""`ftmllm-tui validate`, run as a real process: exit 0 clean (warnings allowed), 1 errors, 2 unreadable.

No real settings or training environment: XDG dirs in tmp, FTMLLM_LLAMAFACTORY_CLI points at nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CLEAN = """\
### model
model_name_or_path: models/tiny
template: qwen

### method
stage: sft
do_train: true
finetuning_type: lora
lora_target: all

### dataset
dataset: alpaca_en_demo
dataset_dir: data
cutoff_len: 1024

### output
output_dir: saves/tiny/lora/sft
overwrite_output_dir: true
report_to: none

### train
per_device_train_batch_size: 2
learning_rate: 1.0e-4
num_train_epochs: 1.0
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dataset_info.json").write_text('{"alpaca_en_demo": {"file_name": "alpaca.json"}}\n')
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "models" / "tiny" / "config.json").write_text('{"model_type": "qwen2"}\n')
    (tmp_path / "models" / "tiny" / "model.safetensors").write_bytes(b"")  # a model folder has weights
    (tmp_path / "clean.yaml").write_text(CLEAN)
    return tmp_path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ, FTMLLM_LLAMAFACTORY_CLI=str(tmp_path / "nowhere" / "llamafactory-cli"),
             XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
             PYTHONPATH=str(ROOT))
    return e


def validate(env, ws, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "validate", *args], check=False, capture_output=True,
                          text=True, env=env, cwd=ws, timeout=timeout)


def write(ws: Path, name: str, text: str) -> Path:
    (ws / name).write_text(text)
    return ws / name


def test_clean_file_exits_0(env, ws):
    r = validate(env, ws, "clean.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "clean.yaml: clean" in r.stdout and "llamafactory-cli train" in r.stdout
    assert "no training environment found; newest schema" in r.stdout     # nothing real was used


def test_errors_exit_1_with_file_line_col(env, ws):
    write(ws, "bad.yaml", CLEAN.replace("learning_rate:", "lerning_rate:"))
    r = validate(env, ws, "bad.yaml")
    assert r.returncode == 1, r.stdout + r.stderr
    line = CLEAN.splitlines().index("learning_rate: 1.0e-4") + 1
    assert f"bad.yaml:{line}:1: error: unknown key lerning_rate" in r.stdout
    assert "hint: did you mean learning_rate?" in r.stdout
    assert "1 error(s), 0 warning(s)" in r.stdout


def test_missing_file_exits_2(env, ws):
    r = validate(env, ws, "nope.yaml")
    assert r.returncode == 2 and r.stdout == ""
    assert "does not exist" in r.stderr


def test_directory_exits_2(env, ws):
    r = validate(env, ws, "data")
    assert r.returncode == 2 and "folder" in r.stderr


def test_syntax_error_exits_1(env, ws):
    write(ws, "broken.yaml", CLEAN.replace("lora_target: all", "lora_target: [all"))
    r = validate(env, ws, "broken.yaml")
    assert r.returncode == 1 and "YAML syntax error" in r.stdout


def test_json_output(env, ws):
    text = CLEAN.replace("stage: sft", "stage: sfx") + "swanlab_api_key: abc\n"
    write(ws, "bad.yaml", text)
    r = validate(env, ws, "bad.yaml", "--json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["command"] == "train" and out["schema"] == "0.9.5"
    rows = {f["rule"]: f for f in out["findings"]}
    assert rows["choice"]["severity"] == "error" and rows["choice"]["line"] == 6
    assert rows["choice"]["column"] == len("stage: ") + 1 and rows["choice"]["key"] == "stage"
    assert rows["choice"]["hint"] == "did you mean sft?"
    assert rows["secret"]["severity"] == "warning" and rows["secret"]["line"] == len(text.splitlines())
    assert "deep" not in out


def test_json_clean(env, ws):
    r = validate(env, ws, "clean.yaml", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["ok"] is True and out["findings"] == []


def test_warnings_alone_exit_0(env, ws):
    write(ws, "warn.yaml", CLEAN + "hf_hub_token: hf_secret\n")
    r = validate(env, ws, "warn.yaml")
    assert r.returncode == 0, r.stdout
    assert "warning: hf_hub_token holds a secret" in r.stdout and "export HF_TOKEN" in r.stdout
    assert "0 error(s), 1 warning(s)" in r.stdout


def test_lf_version_switches_the_1e_4_rule(env, ws):
    write(ws, "lr.yaml", CLEAN.replace("1.0e-4", "1e-4"))
    old = validate(env, ws, "lr.yaml", "--lf-version", "0.9.2")
    assert old.returncode == 1 and "write 1.0e-4" in old.stdout and "LLaMA-Factory 0.9.2" in old.stdout
    new = validate(env, ws, "lr.yaml", "--lf-version", "0.9.5")
    assert new.returncode == 0 and "clean" in new.stdout
    between = validate(env, ws, "lr.yaml", "--lf-version", "0.9.3")        # no 0.9.3 schema: 0.9.2's
    assert between.returncode == 1 and "no schema for LLaMA-Factory 0.9.3" in between.stderr


def test_setting_picks_the_schema(env, ws, tmp_path):
    write(ws, "lr.yaml", CLEAN.replace("1.0e-4", "1e-4"))
    cfg = tmp_path / "config" / "ftmllm-tui" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[configs]\nllamafactory_version = "0.9.2"\n')
    r = validate(env, ws, "lr.yaml")
    assert r.returncode == 1 and "(configs.llamafactory_version)" in r.stdout
    assert validate(env, ws, "lr.yaml", "--lf-version", "0.9.5").returncode == 0   # the flag wins


def test_command_flag(env, ws):
    r = validate(env, ws, "clean.yaml", "--command", "chat", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["command"] == "chat"
    assert {f["rule"] for f in out["findings"]} == {"wrong-command"}
    # stage is a fine-tuning argument: chat takes it
    assert {f["key"] for f in out["findings"]} == {"do_train", "output_dir", "overwrite_output_dir",
                                                   "report_to", "per_device_train_batch_size", "learning_rate",
                                                   "num_train_epochs"}


def test_workdir_flag(env, ws, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    cfg = str(ws / "clean.yaml")
    r = validate(env, elsewhere, cfg, "--workdir", str(ws))
    assert r.returncode == 0 and "clean" in r.stdout
    r = validate(env, elsewhere, cfg)            # relative paths found next to the config only: a note
    assert r.returncode == 0 and "info: found next to the config" in r.stdout


def test_deep_without_a_training_environment_does_not_fail(env, ws):
    r = validate(env, ws, "clean.yaml", "--deep", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["ok"] is True
    assert out["deep"]["ok"] is False and out["deep"]["machine"] is True
    assert out["deep"]["error_type"] == "NoEnvironment"
    r = validate(env, ws, "clean.yaml", "--deep")
    assert r.returncode == 0 and "deep check (depends on this machine)" in r.stdout


def test_deep_is_skipped_when_the_yaml_does_not_parse(env, ws):
    write(ws, "broken.yaml", "a: [1\n")
    r = validate(env, ws, "broken.yaml", "--deep")
    assert r.returncode == 1 and "deep check not run" in r.stdout
    out = json.loads(validate(env, ws, "broken.yaml", "--deep", "--json").stdout)
    assert out["deep"] is None
