"""`logs -f` of a Slurm run ends once `runs` says the run ended: its job wrote an exit code, or its job
left the queue without one (lost). Against the real throwaway Slurm (tests/integration/slurmcluster.py,
the fixtures of test_slurm.py); an external run's log ends with its process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from .conftest import cli
from .test_slurm import cluster, runs, sbatch, senv, settings, standin, wait  # noqa: F401 - fixtures

FOLLOW = [sys.executable, "-m", "ftmllm_tui.cli", "logs", "-f"]


def test_logs_follow_of_a_slurm_run_ends_when_its_job_ends(senv, tmp_path):
    fake = standin(tmp_path, 'echo "loading $2"\nfor i in 1 2 3; do echo "step $i"; sleep 0.5; done\n'
                             'sleep 2\necho "done"\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n")
    settings(senv, "[configs]\ncheck_on_launch = false\n[slurm]\ngpus_per_node = 0\nrefresh_s = 1\n")
    env = dict(senv, FTMLLM_LLAMAFACTORY_CLI=str(fake))
    r = cli(env, "launch", str(cfg), "--slurm", "--name", "brief")
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    log = Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id / "console.log"
    wait(lambda: log.exists() and "step" in log.read_text(), 60, 0.1, "the job's first lines")
    f = subprocess.run([*FOLLOW, run_id], capture_output=True, text=True, env=env, timeout=60)
    assert f.returncode == 0, f.stderr
    assert "step 3" in f.stdout and "done" in f.stdout
    assert "the run has ended (finished, exit 0" in f.stderr
    assert runs(env)[run_id]["state"] == "finished"


def test_logs_follow_of_a_slurm_run_whose_job_left_the_queue_ends_as_lost(cluster, senv, tmp_path):  # noqa: F811
    from ftmllm_tui.core.runs.registry import Registry, RunRecord

    job = sbatch(cluster, tmp_path)  # cancelled before the script could write an exit code
    cluster.run("scancel", job)
    wait(lambda: cluster.run("squeue", "-h", "-j", job, "-o", "%T", check=False).stdout.strip()
         in ("", "CANCELLED"), 30, what="the job gone")
    reg = Registry(Path(senv["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs")
    reg.root.mkdir(parents=True, exist_ok=True)
    rec = RunRecord(id="20261204-170000-gone-0001", name="gone", kind="train", config=None, argv=("x",),
                    env=(), created_at=time.time() - 60, slurm_job=job)
    reg.create(rec, None)
    (reg.dir(rec.id) / "console.log").write_text("loading\nstep 1\n")
    f = subprocess.run([*FOLLOW, rec.id], capture_output=True, text=True, env=senv, timeout=60)
    assert f.returncode == 0, f.stderr
    assert "step 1" in f.stdout
    assert f"lost: job {job} left the queue" in f.stderr
    assert runs(senv)[rec.id]["state"] == "lost"


def test_logs_follow_of_an_external_run_ends_with_its_process(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "running_log.txt").write_text("step 1\n")
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(f"output_dir: {out}\n")
    body = f"import time; time.sleep(2); open({str(out / 'running_log.txt')!r}, 'a').write('step 2\\n')"
    p = subprocess.Popen([sys.executable, "-c", body, "llamafactory-cli", "train", str(cfg)])
    try:
        end = time.monotonic() + 10  # until the child has exec'd (its command line is the stand-in's)
        while "llamafactory-cli" not in psutil.Process(p.pid).cmdline() and time.monotonic() < end:
            time.sleep(0.01)
        env = dict(__import__("os").environ, XDG_STATE_HOME=str(tmp_path / "st"),
                   XDG_CONFIG_HOME=str(tmp_path / "cfg"), HOME=str(tmp_path))
        f = subprocess.run([*FOLLOW, f"external-{p.pid}"], capture_output=True, text=True, env=env, timeout=30)
        assert f.returncode == 0, f.stderr
        assert "step 1" in f.stdout and "step 2" in f.stdout
        assert "the run has ended (its process is gone)" in f.stderr
    finally:
        p.kill()
        p.wait()
