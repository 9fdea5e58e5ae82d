"""A Slurm run's record keeps what the user asked for (the --set overrides, the --env), as a tmux run's does,
so a relaunch can reproduce it. A stand-in sbatch (a real executable on PATH) answers with a job id."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ftmllm_tui.core.runs.launch import LaunchRequest, prepare
from ftmllm_tui.core.runs.registry import Registry
from ftmllm_tui.core.slurm.submit import SlurmSpec, submit


def test_the_record_keeps_overrides_and_env(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text("#!/bin/sh\necho 4242\n")
    sbatch.chmod(0o755)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stage: sft\ndo_train: true\noutput_dir: out/x\n")
    req = LaunchRequest(config=cfg, gpus="none", env=(("FOO", "bar"),), cwd=tmp_path,
                        overrides=(("output_dir", "out/y"),))
    environ = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    prep = prepare(req, llamafactory_cli=sys.executable, environ=environ)
    assert prep.ok, prep.problems
    reg = Registry(tmp_path / "runs")
    rec = submit(prep, SlurmSpec(), reg, environ=environ, user="me")
    assert rec.slurm_job == "4242"
    back = reg.load(rec.id)
    assert back.overrides == (("output_dir", "out/y"),) and back.user_env == (("FOO", "bar"),)
    assert "output_dir: out/y" in (Path(reg.dir(rec.id)) / "config.yaml").read_text()
