"""Failure reasons end to end: real LLaMA-Factory 0.9.5 runs of the tiny model on CPU, launched through the app's
CLI in a real tmux server, that fail for real — a dataset missing from dataset_info.json, and a run killed with
SIGKILL (exit 137, no Python error) — and `runs --json` says why."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from .conftest import cli, run_pids
from .test_e2e_llamafactory import _lf, build, lf_env, runs, wait  # noqa: F401  (fixture)


def _launch(env, cfg, name, *extra):
    r = cli(env, "launch", str(cfg), "--gpus", "none", "--name", name, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()[-1]


@pytest.mark.timeout(300)
def test_missing_dataset_and_sigkill_are_explained(lf_env, tmp_path):
    cfg = build(tmp_path, "--epochs", "200")
    env = _lf().train_env(cfg.parent, 1, base=lf_env)
    bad = cfg.with_name("missing_dataset.yaml")
    bad.write_text(cfg.read_text().replace("dataset: tiny", "dataset: tiny_v2")
                   .replace("tiny-lora-sft", "tiny-missing"))
    # the offline check would stop this launch (it knows dataset_info.json): --no-validate lets it fail for real
    missing = _launch(env, bad, "missing-ds", "--no-validate")
    long = _launch(env, cfg, "to-be-killed")

    def ended(run_id):
        x = runs(env)[run_id]
        return x if x["state"] in ("finished", "failed", "lost") else None

    x = wait(lambda: ended(missing), 200)
    assert x["state"] == "failed" and x["exit_code"] == 1
    assert x["reason"]["code"] == "dataset_missing"
    assert x["reason"]["summary"] == "dataset tiny_v2 is not in dataset_info.json"

    def training():  # the long run is past loading: its trainer_log grows
        y = runs(env)[long]
        return y if y["progress"] and y["progress"]["step"] else None

    wait(training, 200)
    victims = [p for p in run_pids(long) if "llamafactory-cli" in " ".join(psutil.Process(p).cmdline())]
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    y = wait(lambda: ended(long), 60)
    assert y["exit_code"] == 137, y
    assert y["reason"]["code"] == "oom_killer" and "no Python error" in y["reason"]["summary"]
    wait(lambda: run_pids(long) == [], 30)
