"""Relaunch reproduces a run (its frozen config, overrides, GPUs, env), and no launch writes into another
recorded run's output_dir unless the user confirms (--reuse-output-dir; a confirmation in the dialog).
Real tmux on a private socket, the stand-in llamafactory-cli, real run folders."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from textual.widgets import Button, Input

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.confirm import ConfirmScreen
from ftmllm_tui.ui.screens.launch import LaunchScreen
from ftmllm_tui.ui.screens.runs import RunsScreen

from .conftest import cli
from .test_runs import wait_state
from .test_runs_ui import until


def state(env) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs"


def launch_a(env, tmp_path, monkeypatch) -> tuple[str, Path]:
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(yaml.safe_dump({"stage": "sft", "do_train": True, "output_dir": "out/run1", "steps": 3,
                                   "overwrite_output_dir": True}))
    monkeypatch.chdir(tmp_path)  # relative output_dirs are the run's cwd's
    r = cli(env, "launch", "sft.yaml", "--gpus", "none", "--name", "A", "--set", "steps=7",
            "--set", "output_dir=out/A", "--env", "FOO=bar")
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    return run_id, cfg


def test_run_json_keeps_overrides_and_env_and_another_runs_output_dir_is_refused(tmux_env, tmp_path, monkeypatch):
    a, cfg = launch_a(tmux_env, tmp_path, monkeypatch)
    rec = json.loads((state(tmux_env) / a / "run.json").read_text())
    assert rec["overrides"] == [["steps", "7"], ["output_dir", "out/A"]]
    assert rec["user_env"] == [["FOO", "bar"]] and rec["kind"] == "train" and rec["gpus"] is None
    x = wait_state(tmux_env, a, {"finished"})
    assert x["progress"]["total"] == 7
    # the same output_dir, written another way (absolute): refused, nothing started; A is named
    before = sorted(p.name for p in state(tmux_env).iterdir())
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none", "--set", f"output_dir={tmp_path}/out/./A")
    assert r.returncode == 1, r.stdout + r.stderr
    err = [line for line in r.stderr.splitlines() if "belongs to" in line]
    assert len(err) == 1 and f"belongs to run {a} (ended, exit 0)" in err[0] and "--reuse-output-dir" in err[0]
    assert sorted(p.name for p in state(tmux_env).iterdir()) == before
    # --dry-run says the same; a fresh output_dir is fine; --reuse-output-dir starts it with a warning
    assert cli(tmux_env, "launch", str(cfg), "--gpus", "none", "--set", "output_dir=out/A",
               "--dry-run").returncode == 1
    assert cli(tmux_env, "launch", str(cfg), "--gpus", "none", "--set", "output_dir=out/B",
               "--dry-run").returncode == 0
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none", "--set", "output_dir=out/A", "--reuse-output-dir",
            "--set", "overwrite_output_dir=true")
    assert r.returncode == 0, r.stderr
    assert "warning: output_dir out/A belongs to run" in r.stderr and "reused on purpose" in r.stderr
    # resuming from a checkpoint continues a run where it was: that is reuse on purpose
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none", "--set", "output_dir=out/A", "--dry-run",
            "--set", "resume_from_checkpoint=out/A/checkpoint-7")
    assert r.returncode == 0 and "reused on purpose" in r.stderr, r.stderr


async def test_relaunch_reproduces_the_run_and_asks_before_reusing_its_output_dir(tmux_env, tmp_path, monkeypatch):
    a, cfg = launch_a(tmux_env, tmp_path, monkeypatch)
    wait_state(tmux_env, a, {"finished"})
    cfg.write_text(yaml.safe_dump({"stage": "sft", "do_train": True, "output_dir": "out/run1", "steps": 2,
                                   "edited": "later"}))  # the file changed since: the relaunch must not care
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False,
                 settings=Settings(check_on_launch=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.views)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.prepared is not None)
        dlg = app.screen
        field = {k: dlg.query_one(f"#{k}", Input).value for k in ("config", "overrides", "env", "gpus-in", "name")}
        assert field == {"config": str(state(tmux_env) / a / "config.yaml"), "overrides": "steps=7 output_dir=out/A",
                         "env": "FOO=bar", "gpus-in": "none", "name": "A"}
        preview = str(dlg.query_one("#preview").render())
        assert f"relaunch {a} as it was" in preview
        assert f"output_dir out/A belongs to run {a}" in preview and "Start asks" in preview
        assert dict(dlg.prepared.env)["LLAMABOARD_WORKDIR"] == "out/A"
        # Start asks first; the question starts on Cancel: Enter starts nothing
        await pilot.click("#start")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is dlg)
        assert len(list(state(tmux_env).iterdir())) == 1
        # a fresh output_dir: ready, no question; the run gets the frozen config, the overrides, the env
        dlg.query_one("#overrides", Input).value = "steps=7 output_dir=out/A2"
        await until(pilot, lambda: dlg.prepared is not None and dlg.prepared.ok
                    and dlg.prepared.output_dir == "out/A2")
        assert not dlg.query_one("#start", Button).disabled
        await pilot.click("#start")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen))
    new = [p.name for p in state(tmux_env).iterdir() if p.name != a]
    assert len(new) == 1
    x = wait_state(tmux_env, new[0], {"finished"})
    rec = json.loads((state(tmux_env) / new[0] / "run.json").read_text())
    assert rec["overrides"] == [["steps", "7"], ["output_dir", "out/A2"]] and rec["user_env"] == [["FOO", "bar"]]
    assert x["progress"]["total"] == 7 and (tmp_path / "out" / "A2" / "trainer_log.jsonl").exists()
    frozen = yaml.safe_load((state(tmux_env) / new[0] / "config.yaml").read_text())
    assert "edited" not in frozen and frozen["output_dir"] == "out/A2"
    assert dict(map(tuple, rec["env"]))["FOO"] == "bar"


async def test_relaunch_into_the_same_output_dir_after_confirming(tmux_env, tmp_path, monkeypatch):
    a, _cfg = launch_a(tmux_env, tmp_path, monkeypatch)
    wait_state(tmux_env, a, {"finished"})
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False,
                 settings=Settings(check_on_launch=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.views)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.prepared is not None)
        await pilot.click("#start")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.focused.id == "cancel"
        await pilot.press("tab", "enter")  # "Start in that output_dir"
        await until(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, LaunchScreen)))
    new = [p.name for p in state(tmux_env).iterdir() if p.name != a]
    assert len(new) == 1
    wait_state(tmux_env, new[0], {"finished"})
    rec = json.loads((state(tmux_env) / new[0] / "run.json").read_text())
    assert rec["output_dir"] == "out/A" and rec["overrides"] == [["steps", "7"], ["output_dir", "out/A"]]
