"""End to end with the real thing: `llamafactory-cli train` (LLaMA-Factory 0.9.5, CPU) of a tiny
Qwen2 model built offline inside the test (tests/lf/build_tiny.py), launched, followed and stopped
through the app's own CLI, in a real tmux server on a private socket.

The training environment is `.venv-lf` (scripts/lf_env.sh; `make test` creates it).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from .conftest import ROOT, cli, run_pids

LF = ROOT / ".venv-lf" / "bin" / "llamafactory-cli"
BUILD = ROOT / "tests" / "lf" / "build_tiny.py"


def _lf():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_tiny", BUILD)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def lf_env(tmux_env, tmp_path):
    if not LF.exists():
        pytest.fail("the LLaMA-Factory test environment is missing: run `sh scripts/lf_env.sh` "
                    "(make test does it)")
    # the real LLaMA-Factory: launches run the offline config check (default settings)
    return dict(tmux_env, FTMLLM_LLAMAFACTORY_CLI=str(LF), XDG_CONFIG_HOME=str(tmp_path / "config-real"))


def build(tmp_path: Path, *extra: str) -> Path:
    ws = tmp_path / "ws"
    r = subprocess.run([str(ROOT / ".venv-lf" / "bin" / "python"), str(BUILD), str(ws), *extra],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return Path(r.stdout.strip().splitlines()[-1])


def runs(env):
    r = cli(env, "runs", "--json")
    assert r.returncode == 0, r.stderr
    return {x["id"]: x for x in json.loads(r.stdout)}




def wait(pred, timeout, step=0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out")


@pytest.mark.timeout(300)
def test_real_train_run_finishes_with_progress_and_loss(lf_env, tmp_path):
    cfg = build(tmp_path)
    env = _lf().train_env(cfg.parent, 1, base=lf_env)
    r = cli(env, "launch", str(cfg), "--gpus", "none", "--name", "tiny-sft")
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    seen_progress = []

    def finished():
        x = runs(env)[run_id]
        if x["progress"] and x["progress"]["step"]:
            seen_progress.append(x["progress"]["step"])
        return x if x["state"] in ("finished", "failed") else None

    x = wait(finished, 240)
    assert x["state"] == "finished" and x["exit_code"] == 0, x
    assert x["progress"]["step"] == x["progress"]["total"] == 60
    assert x["progress"]["loss"] is not None and x["progress"]["loss"] < 6.0
    assert seen_progress and min(seen_progress) <= 60  # progress was visible while it trained
    out = Path(x["output_dir"])
    assert (out / "adapter_model.safetensors").exists() and (out / "trainer_log.jsonl").exists()
    assert run_pids(run_id) == []  # nothing left running
    log = (Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id / "console.log").read_text()
    assert "exit code 0" in log


@pytest.mark.timeout(300)
def test_real_two_rank_torchrun_stopped_mid_training(lf_env, tmp_path):
    cfg = build(tmp_path, "--epochs", "200")
    env = _lf().train_env(cfg.parent, 2, base=lf_env)
    r = cli(env, "launch", str(cfg), "--gpus", "none", "--name", "tiny-2rank")
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    # the real tree: runner -> llamafactory-cli -> torchrun -> 2 x launcher.py (own sessions)
    def two_workers():
        from ftmllm_tui.core.runs.kill import role_of
        from ftmllm_tui.core.gpus.proctree import describe

        ws = [p for p in run_pids(run_id) if role_of(describe(psutil.Process(p)), None) == "worker"]
        return ws if len(ws) == 2 else None

    workers = wait(two_workers, 120)
    assert all(os.getsid(w) == w for w in workers)  # session leaders: a group signal misses them
    log = Path(yaml_output_dir(cfg)) / "trainer_log.jsonl"
    wait(lambda: log.exists() and len(log.read_text().splitlines()) >= 20, 120)  # training for real
    before = []  # identities (pid, create time): a PID alone can be reused by the time we look
    for p in run_pids(run_id):
        try:
            before.append((p, psutil.Process(p).create_time()))
        except psutil.Error:
            pass
    t0 = time.monotonic()
    r = cli(env, "stop", run_id, "--yes", timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0 and "all gone" in r.stdout, r.stdout + r.stderr
    assert run_pids(run_id) == [] and not [p for p, ct in before if _alive(p, ct)]
    x = runs(env)[run_id]
    assert x["state"] == "stopped" and x["progress"]["step"] < x["progress"]["total"]
    assert took < 30, took


def _alive(pid: int, create_time: float) -> bool:
    try:
        p = psutil.Process(pid)
        return p.create_time() == create_time and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.timeout(300)
def test_real_stop_and_save_keeps_the_adapter(lf_env, tmp_path):
    cfg = build(tmp_path, "--epochs", "200")
    env = _lf().train_env(cfg.parent, 1, base=lf_env)
    r = cli(env, "launch", str(cfg), "--gpus", "none", "--name", "tiny-save")
    run_id = r.stdout.strip().splitlines()[-1]
    out = Path(yaml_output_dir(cfg))
    log = out / "trainer_log.jsonl"
    wait(lambda: log.exists() and len(log.read_text().splitlines()) >= 20, 120)
    r = cli(env, "stop", run_id, "--yes", "--save", timeout=180)
    assert r.returncode == 0 and "all gone" in r.stdout, r.stdout + r.stderr
    assert "SIGABRT" in r.stdout
    # the report tells the sequence as it happened, not "already gone" (issue 16 item 7)
    assert "SIGABRT → saved at step " in r.stdout and "→ exited 0 in " in r.stdout, r.stdout
    assert "saved adapter: " in r.stdout
    # LLaMA-Factory stopped at the next step and saved the model
    assert (out / "adapter_model.safetensors").exists()
    exit_code = Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id / "exit_code"
    assert exit_code.read_text().strip() == "0"
    steps = [json.loads(line).get("current_steps") for line in log.read_text().splitlines()]
    assert max(s for s in steps if s) < 4000
    assert runs(env)[run_id]["state"] == "stopped"
    record = json.loads((Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id / "run.json").read_text())
    assert record["saved_adapter"] == str(out) and record["saved_step"] == max(s for s in steps if s)
    assert "SIGABRT" in [o["last_signal"] for o in record["stop_report"]]


def yaml_output_dir(cfg: Path) -> str:
    import yaml

    return yaml.safe_load(cfg.read_text())["output_dir"]
