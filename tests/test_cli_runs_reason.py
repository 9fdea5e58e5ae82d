"""`runs --json` carries each failed run's reason, read from its console.log (a real failing run's log)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ftmllm_tui.core.runs.registry import Registry, RunRecord

LOGS = Path(__file__).parent / "data" / "failure_logs"


def test_runs_json_reason_of_a_failed_run(tmp_path):
    state = tmp_path / "state"
    reg = Registry(state / "ftmllm-tui" / "runs")
    reg.root.mkdir(parents=True)
    rec = RunRecord(id="20261204-120000-b-0002", name="b", kind="train", config=None, argv=("x",), env=(),
                    created_at=1.0, tmux_session="nosuch-b")
    reg.create(rec, None)
    shutil.copy(LOGS / "dataset_missing.log", reg.dir(rec.id) / "console.log")
    (reg.dir(rec.id) / "exit_code").write_text("1\n")
    env = dict(os.environ, XDG_STATE_HOME=str(state), XDG_CONFIG_HOME=str(tmp_path / "cfg"), HOME=str(tmp_path))
    argv = [sys.executable, "-m", "ftmllm_tui.cli", "--tmux-socket", f"t{os.getpid()}", "runs"]
    r = subprocess.run([*argv, "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)[0]
    assert run["state"] == "failed"
    assert run["reason"]["code"] == "dataset_missing"
    assert run["reason"]["summary"] == "dataset tiny_v2 is not in dataset_info.json"
    assert run["reason"]["line"] == 150
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert "↳ dataset tiny_v2 is not in dataset_info.json (console.log line 150)" in r.stdout
