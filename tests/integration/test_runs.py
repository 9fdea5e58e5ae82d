"""Launch, track and stop runs through the CLI with a real tmux server and real process trees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from .conftest import cli, run_pids


def write_cfg(tmp_path: Path, name: str, **keys) -> Path:
    import yaml

    p = tmp_path / name
    p.write_text(yaml.safe_dump(keys))
    return p


def runs(env) -> dict:
    r = cli(env, "runs", "--json")
    assert r.returncode == 0, r.stderr
    return {x["id"]: x for x in json.loads(r.stdout)}


def wait_state(env, run_id, states, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        x = runs(env).get(run_id)
        if x and x["state"] in states:
            return x
        time.sleep(0.2)
    raise AssertionError(f"{run_id} never reached {states}: {runs(env).get(run_id)}")


def test_launch_track_finish(tmux_env, tmp_path):
    out_dir = tmp_path / "out"
    cfg = write_cfg(tmp_path, "it's my cfg.yaml", stage="sft", do_train=True, output_dir=str(out_dir),
                    steps=4, sleep=0.5)  # a path with a space and a quote
    env = dict(tmux_env, SWANLAB_API_KEY="s3cret-value-not-on-disk")
    r = cli(env, "launch", str(cfg), "--gpus", "none", "--name", "demo run")
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    assert run_id.endswith(tuple("0123456789abcdef")) and "demo-run" in run_id
    assert "SWANLAB_API_KEY" in r.stdout  # announced as passed through
    x = wait_state(env, run_id, {"finished"})
    assert x["exit_code"] == 0 and x["gpus"] is None and x["progress"]["step"] == 4
    assert abs(x["progress"]["loss"] - 0.5) < 1e-9
    run_dir = Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id
    log = (run_dir / "console.log").read_text()
    assert "fake llamafactory-cli train" in log and "key=set" in log and "gpus= " in log + " "
    # the frozen copy was what ran, and no file anywhere holds the secret
    assert str(run_dir / "config.yaml") in log
    for p in Path(env["XDG_STATE_HOME"]).rglob("*"):
        if p.is_file():
            assert b"s3cret-value-not-on-disk" not in p.read_bytes(), p
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["secret_env"] == ["SWANLAB_API_KEY"] and "SWANLAB_API_KEY" not in dict(rec["env"])
    assert dict(rec["env"])["FTMLLM_RUN_ID"] == run_id


def test_failed_run_records_its_exit_code(tmux_env, tmp_path):
    cfg = write_cfg(tmp_path, "bad.yaml", stage="sft", do_train=True,
                    output_dir=str(tmp_path / "o2"), steps=1, exit=3)
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none")
    run_id = r.stdout.strip().splitlines()[-1]
    x = wait_state(tmux_env, run_id, {"failed"})
    assert x["exit_code"] == 3




def test_stop_a_torchrun_shaped_run(tmux_env, tmp_path):
    cfg = write_cfg(tmp_path, "tree.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "o3"),
                    steps=1, tree=True)
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none")
    run_id = r.stdout.strip().splitlines()[-1]
    end = time.monotonic() + 15
    while len(run_pids(run_id)) < 4 and time.monotonic() < end:  # cli, launcher, 2 workers
        time.sleep(0.1)
    pids = run_pids(run_id)
    assert len(pids) >= 4
    t0 = time.monotonic()
    r = cli(tmux_env, "stop", run_id, "--yes")
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all gone" in r.stdout and took < 5
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)
    x = runs(tmux_env)[run_id]
    assert x["state"] == "stopped" and x["pids"] == [] and x["tmux_session"]
    sessions = subprocess.run(["tmux", "-L", tmux_env["FTMLLM_TMUX_SOCKET"], "ls"],
                              capture_output=True, text=True, env=tmux_env).stdout
    assert run_id not in sessions
    audit = Path(tmux_env["XDG_STATE_HOME"]) / "ftmllm-tui" / "audit.jsonl"
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert lines and all(line["run"] == run_id for line in lines)
    assert lines[0]["signal"] == "SIGINT"


def test_stop_finds_orphans_after_the_launcher_was_killed(tmux_env, tmp_path):
    cfg = write_cfg(tmp_path, "orph.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "o4"),
                    steps=1, tree=True)
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none")
    run_id = r.stdout.strip().splitlines()[-1]
    end = time.monotonic() + 15
    while len(run_pids(run_id)) < 4 and time.monotonic() < end:
        time.sleep(0.1)
    # kill -9 the launchers (fake llamafactory-cli and the stand-in torchrun), like people do
    for pid in run_pids(run_id):
        cmd = " ".join(psutil.Process(pid).cmdline())
        if "tree.py worker" not in cmd:
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    workers = run_pids(run_id)
    assert len(workers) == 2, [psutil.Process(w).cmdline() for w in workers]
    x = runs(tmux_env)[run_id]
    # still running: the orphaned workers (and the pane's runner, which logs their output)
    assert x["state"] == "running" and set(workers) <= set(x["pids"]) and len(x["pids"]) <= 3
    r = cli(tmux_env, "stop", run_id, "--yes")
    assert r.returncode == 0 and "all gone" in r.stdout, r.stdout + r.stderr
    assert run_pids(run_id) == []
    assert runs(tmux_env)[run_id]["state"] == "stopped"


def test_lost_run(tmux_env, tmp_path):
    cfg = write_cfg(tmp_path, "lost.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "o5"),
                    steps=1, sleep=30)
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none")
    run_id = r.stdout.strip().splitlines()[-1]
    for pid in run_pids(run_id):
        os.kill(pid, signal.SIGKILL)
    runner = Path(tmux_env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id / "pid"
    os.kill(int(runner.read_text().split()[0]), signal.SIGKILL)  # the wrapper too: no exit code
    x = wait_state(tmux_env, run_id, {"lost"})
    assert x["exit_code"] is None


def test_preflight_refuses_with_the_fix(tmux_env, tmp_path):
    swan = write_cfg(tmp_path, "swan.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "s"),
                     use_swanlab=True)
    r = cli(tmux_env, "launch", str(swan), "--gpus", "none")
    assert r.returncode == 1 and "SWANLAB_API_KEY" in r.stderr and "swanlab_mode: local" in r.stderr
    r = cli(tmux_env, "launch", str(swan), "--gpus", "none", "--dry-run",
            "--env", "SWANLAB_API_KEY=x")  # given: fine
    assert r.returncode == 0, r.stderr

    full = tmp_path / "full"
    full.mkdir()
    (full / "checkpoint-10").mkdir()
    out = write_cfg(tmp_path, "out.yaml", stage="sft", do_train=True, output_dir=str(full))
    r = cli(tmux_env, "launch", str(out), "--gpus", "none")
    assert r.returncode == 1 and "exists and is not empty" in r.stderr and "overwrite_output_dir" in r.stderr

    train = write_cfg(tmp_path, "t.yaml", model_name_or_path="m", template="qwen", do_train=True,
                      learning_rate=1e-4, output_dir=str(tmp_path / "x"))
    r = cli(tmux_env, "launch", str(train), "--kind", "webchat", "--gpus", "none")
    assert r.returncode == 1 and "training config" in r.stderr and "do_train" in r.stderr

    r = cli(dict(tmux_env, FTMLLM_LLAMAFACTORY_CLI="no-such-llamafactory-cli"), "launch", str(train),
            "--gpus", "none")
    assert r.returncode == 2 and "no-such-llamafactory-cli not found" in r.stderr

    r = cli(tmux_env, "launch", str(tmp_path / "missing.yaml"), "--gpus", "none")
    assert r.returncode == 1 and "config not found" in r.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text("stage: sft\n  bad: [\n")
    r = cli(tmux_env, "launch", str(broken), "--gpus", "none")
    assert r.returncode == 1 and "line" in r.stderr and "YAML" in r.stderr


def test_webchat_gets_a_port_and_the_ssh_hint(tmux_env, tmp_path):
    inf = write_cfg(tmp_path, "inf.yaml", model_name_or_path="m", template="qwen")
    r = cli(tmux_env, "launch", str(inf), "--kind", "webchat", "--gpus", "none", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "GRADIO_SERVER_PORT=" in r.stdout and "ssh -L " in r.stdout and "http://localhost:" in r.stdout


def test_readonly_refuses_launch_and_stop(tmux_env, tmp_path):
    cfg = write_cfg(tmp_path, "r.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "r"))
    r = cli(tmux_env, "--readonly", "launch", str(cfg), "--gpus", "none")
    assert r.returncode == 2 and "read-only" in r.stderr
    r = cli(tmux_env, "--readonly", "stop", "whatever", "--yes")
    assert r.returncode == 2 and "read-only" in r.stderr


def test_unknown_run_and_no_gpus_for_auto(tmux_env, tmp_path):
    r = cli(tmux_env, "stop", "nope", "--yes")
    assert r.returncode == 2 and "no run matches" in r.stderr
    cfg = write_cfg(tmp_path, "a.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "a"))
    r = cli(tmux_env, "launch", str(cfg))  # --gpus auto on a machine without NVIDIA
    assert r.returncode == 2 and "no GPUs are visible" in r.stderr and "--gpus none" in r.stderr


def test_a_running_train_run_whose_log_stopped_growing_is_stalled(tmux_env, tmp_path):
    import os as _os

    cfg = write_cfg(tmp_path, "stall.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "st"),
                    steps=2, sleep=30)
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none")
    run_id = r.stdout.strip().splitlines()[-1]
    log = tmp_path / "st" / "trainer_log.jsonl"
    end = time.monotonic() + 10
    while not log.exists() and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(0.3)
    assert runs(tmux_env)[run_id]["stalled"] is False
    old = time.time() - 3600  # as if NCCL had hung an hour ago
    _os.utime(log, (old, old))
    x = runs(tmux_env)[run_id]
    assert x["state"] == "running" and x["stalled"] is True
    r = cli(tmux_env, "runs")
    assert "running!" in r.stdout and "stalled" in r.stdout
    cli(tmux_env, "stop", run_id, "--yes")


def test_attach_command(monkeypatch):
    from ftmllm_tui.core.runs.tmux import Tmux

    monkeypatch.delenv("TMUX", raising=False)
    assert Tmux("s1").attach_argv("ftm-x") == ["tmux", "-L", "s1", "attach-session", "-t", "ftm-x"]
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    assert Tmux(None).attach_argv("ftm-x") == ["tmux", "switch-client", "-t", "ftm-x"]
    assert Tmux("s1").attach_argv("ftm-x")[:3] == ["env", "-u", "TMUX"]


def test_swanlab_dashboard_of_a_run(tmux_env, tmp_path):
    """`launch CONFIG --kind swanlab`: swanlab watch on the config's logdir, on a free port."""
    swan = tmp_path / "bin" / "swanlab"  # next to the (fake) llamafactory-cli: same environment
    swan.write_text("#!/bin/sh\necho swanlab \"$@\"\nsleep 30\n")
    swan.chmod(0o755)
    logdir = tmp_path / "swanlog"
    cfg = write_cfg(tmp_path, "s.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "so"),
                    use_swanlab=True, swanlab_mode="local", swanlab_logdir=str(logdir))
    r = cli(tmux_env, "launch", str(cfg), "--kind", "swanlab", "--gpus", "none")
    assert r.returncode == 1 and "no SwanLab logs" in r.stderr
    logdir.mkdir()
    r = cli(tmux_env, "launch", str(cfg), "--kind", "swanlab", "--gpus", "none")
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    assert "ssh -L" in r.stdout
    x = wait_state(tmux_env, run_id, {"running"})
    port = x["url"].rsplit(":", 1)[1]
    log = Path(tmux_env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id / "console.log"
    end = time.monotonic() + 10
    while "swanlab watch" not in log.read_text() and time.monotonic() < end:
        time.sleep(0.1)
    assert f"swanlab watch {logdir} -p {port}" in log.read_text()
    assert cli(tmux_env, "stop", run_id, "--yes").returncode == 0
