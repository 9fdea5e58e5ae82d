"""`runs --json` on an ended run: no remaining time, the last eval_loss of a long trainer_log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ftmllm_tui.core.runs.registry import Registry, RunRecord


def test_runs_json_ended_run_has_no_remaining_and_its_last_eval_loss(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    rows = [{"current_steps": s, "total_steps": 20000, "loss": 2.0, "lr": 1e-4, "epoch": 0.1,
             "percentage": 1.0, "elapsed_time": "0:01:00", "remaining_time": "0:14:47"} for s in range(1, 400)]
    rows.insert(100, {"current_steps": 100, "total_steps": 20000, "eval_loss": 1.75, "epoch": 0.1,
                      "percentage": 0.5, "elapsed_time": "0:00:30", "remaining_time": "0:15:00"})
    (out / "trainer_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    state = tmp_path / "state"
    reg = Registry(state / "ftmllm-tui" / "runs")
    reg.root.mkdir(parents=True)
    rec = RunRecord(id="20261204-120000-a-0001", name="a", kind="train", config=None, argv=("x",), env=(),
                    output_dir=str(out), created_at=1.0, stop_requested_at=2.0, tmux_session="nosuch-a")
    reg.create(rec, None)
    (reg.dir(rec.id) / "exit_code").write_text("130\n")
    env = dict(os.environ, XDG_STATE_HOME=str(state), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "--tmux-socket", f"t{os.getpid()}", "runs",
                        "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)[0]
    assert run["state"] == "stopped" and run["exit_code"] == 130
    assert run["progress"]["remaining"] is None
    assert run["progress"]["eval_loss"] == 1.75
