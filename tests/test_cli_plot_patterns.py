"""`plot` into a file or pipe: no colour, so loss and eval_loss are drawn in different dot patterns and
the legend shows them; step ticks are whole numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path



def test_plot_without_colour_uses_patterns_and_whole_step_ticks(tmp_path):
    import json

    rows = [{"current_steps": s, "total_steps": 60, "loss": 5 - s / 20, "epoch": s / 20} for s in range(1, 61)]
    rows += [{"current_steps": s, "total_steps": 60, "eval_loss": 5.2 - s / 25} for s in (10, 20, 30, 40, 50, 60)]
    rows.sort(key=lambda r: r["current_steps"])
    log = tmp_path / "trainer_log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "plot", str(log), "--width", "70", "--height", "12"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "⣀⣀⣀ loss  ⡀⡀⡀ eval_loss" or "⣀⣀⣀ loss  ⡀⡀⡀ eval_loss" in r.stdout
    ticks = next(ln for ln in lines if ln.strip().startswith("1 ")).split()
    assert ticks == ["1", "30", "60"], ticks
    assert not any("." in t for t in ticks)
