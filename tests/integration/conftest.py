"""Real tmux on a private socket, a stand-in llamafactory-cli, isolated XDG dirs and HOME."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREE = ROOT / "tests" / "standin" / "tree.py"

FAKE_LF = textwrap.dedent(f'''\
    #!{sys.executable}
    """A stand-in for llamafactory-cli: `train CFG` writes trainer_log.jsonl into output_dir and,
    with FORCE_TORCHRUN=1, runs a torchrun-shaped tree (launcher + 2 workers in own sessions)."""
    import json, os, subprocess, sys, time
    import yaml
    kind, cfg = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    conf = yaml.safe_load(open(cfg)) if cfg else {{}}
    print("fake llamafactory-cli", kind, cfg, "gpus=" + os.environ.get("CUDA_VISIBLE_DEVICES", "?"),
          "key=" + ("set" if os.environ.get("SWANLAB_API_KEY") else "unset"), flush=True)
    steps = int(conf.get("steps", 3))
    out = conf.get("output_dir")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "trainer_log.jsonl"), "w") as f:
            for i in range(1, steps + 1):
                f.write(json.dumps({{"current_steps": i, "total_steps": steps, "loss": 2.0 / i,
                                     "lr": 1e-3, "epoch": i / steps, "percentage": 100.0 * i / steps,
                                     "elapsed_time": "0:00:0%d" % i, "remaining_time": "0:00:01"}}) + "\\n")
                f.flush()
                time.sleep(float(conf.get("step_s", 0.05)))
    if os.environ.get("FORCE_TORCHRUN") == "1" or conf.get("tree"):
        sys.exit(subprocess.call([sys.executable, "{TREE}", "launcher", "--workers", "2"]
                                 + (["--ignore-int", "1"] if conf.get("stubborn") else [])))
    time.sleep(float(conf.get("sleep", 0)))
    sys.exit(int(conf.get("exit", 0)))
    ''')


@pytest.fixture
def tmux_env(tmp_path, monkeypatch):
    """Environment for the CLI: private tmux socket, HOME without a .tmux.conf, fake LLaMA-Factory."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required (make test installs it)")
    sock = f"ftmtest-{uuid.uuid4().hex[:8]}"
    home = tmp_path / "home"
    home.mkdir()
    fake = tmp_path / "bin" / "llamafactory-cli"
    fake.parent.mkdir()
    fake.write_text(FAKE_LF)
    fake.chmod(0o755)
    env = dict(os.environ, HOME=str(home), FTMLLM_TMUX_SOCKET=sock,
               FTMLLM_LLAMAFACTORY_CLI=str(fake), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=str(ROOT))
    env.pop("TMUX", None)
    env.pop("SWANLAB_API_KEY", None)
    # the stand-in takes keys LLaMA-Factory does not know (steps, sleep): no offline check on launch
    settings = tmp_path / "config" / "ftmllm-tui" / "config.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text("[configs]\ncheck_on_launch = false\n")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("SWANLAB_API_KEY", raising=False)
    yield env
    subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, env=env)
    _kill_leftovers(str(tmp_path))


def _kill_leftovers(marker: str) -> None:
    """Whatever a failed test left running (runners ignore SIGHUP by design, so killing the tmux
    server does not end them)."""
    import psutil

    for p in psutil.process_iter():
        try:
            if marker in " ".join(p.cmdline()) or marker in p.environ().get("XDG_STATE_HOME", ""):
                p.kill()
        except psutil.Error:
            pass


def run_pids(run_id: str) -> list[int]:
    """Live (non-zombie) processes carrying FTMLLM_RUN_ID=run_id."""
    import psutil

    out = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("FTMLLM_RUN_ID") == run_id and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except psutil.Error:
            pass
    return out


def cli(env, *args, timeout=60, input=None):
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, input=input)
