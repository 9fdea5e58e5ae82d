"""External runs: a llamafactory-cli started outside the app is listed with its progress; the UI tests
hide the machine's external runs (tests/ui/conftest.py) so a training beside the suite changes nothing."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from ftmllm_tui.core.runs.runctl import external_runs


def test_a_llamafactory_cli_started_elsewhere_is_an_external_run_with_its_loss(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "trainer_log.jsonl").write_text(
        '{"current_steps": 3, "total_steps": 10, "loss": 5.6908, "percentage": 30}\n')
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(f"output_dir: {out}\n")
    # a stand-in whose command line reads like `llamafactory-cli train sft.yaml`
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "llamafactory-cli", "train", str(cfg)])
    try:
        end = time.monotonic() + 10  # until the child has exec'd (its command line is the stand-in's)
        while "llamafactory-cli" not in psutil.Process(p.pid).cmdline() and time.monotonic() < end:
            time.sleep(0.01)
        mine = [v for v in external_runs(set()) if v.status.record.id == f"external-{p.pid}"]
        assert len(mine) == 1
        rec = mine[0].status.record
        assert rec.external and rec.kind == "train" and rec.name == "sft" and rec.output_dir == str(out)
        assert mine[0].progress is not None and mine[0].progress.loss == 5.6908
    finally:
        p.kill()
        p.wait()
