"""The plain `runs` table: every column as wide as its widest cell (KIND "download", GPUS "job N")."""

from __future__ import annotations

import os
import subprocess
import sys

from ftmllm_tui.core.runs.registry import Registry, RunRecord


def test_runs_table_columns_fit_every_kind(tmp_path):
    state = tmp_path / "state"
    reg = Registry(state / "ftmllm-tui" / "runs")
    reg.root.mkdir(parents=True)
    for i, kind in enumerate(("download", "ollama", "train")):
        rec = RunRecord(id=f"20261204-12000{i}-{kind}-000{i}", name=kind, kind=kind, config=None, argv=("x",),
                        env=(), created_at=1.0, tmux_session=f"nosuch-{kind}", gpus=None)
        reg.create(rec, None)
        (reg.dir(rec.id) / "exit_code").write_text("0\n")
    env = dict(os.environ, XDG_STATE_HOME=str(state), XDG_CONFIG_HOME=str(tmp_path / "cfg"), HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "--tmux-socket", f"t{os.getpid()}", "runs"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    head, *rows = r.stdout.splitlines()
    assert len(rows) == 3
    kind_at, state_at = head.index("KIND"), head.index("STATE")
    for row in rows:  # each cell starts under its header, a space before the next one
        kind = row[kind_at:state_at].strip()
        assert kind in ("download", "ollama", "train"), row
        assert row[state_at - 1] == " " and row[state_at:].split()[0] == "finished", row
