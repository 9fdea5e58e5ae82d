"""The launch dialog, the Runs view, the stop modal and k on a process, with the Pilot and a real
tmux server (private socket) and real process trees."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml
from textual.widgets import Button, Input

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens.kill import KillScreen
from ftmllm_tui.ui.screens.launch import LaunchScreen
from ftmllm_tui.ui.screens.runs import RunsScreen
from ftmllm_tui.ui.screens.stop import StopScreen

from .conftest import run_pids


async def until(pilot, cond, timeout=20.0, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(step)
        await pilot.pause()
    raise AssertionError("condition not met in time")


def make(readonly=False) -> FtmApp:
    # the stand-in llamafactory-cli takes keys LLaMA-Factory does not know (steps): no offline check on launch
    return FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, readonly=readonly,
                  settings=Settings(check_on_launch=False))


def cfg(tmp_path: Path, name: str, **keys) -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(keys))
    return p


async def test_launch_dialog_cancel_is_default_then_start(tmux_env, tmp_path):
    c = cfg(tmp_path, "tiny.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "out"), steps=3)
    app = make()
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        assert app.focused.id == "cancel"
        await pilot.press("enter")  # Enter on Cancel: nothing starts
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen))
        assert app.ctx.registry.all()[0] == []

        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        dialog = app.screen
        dialog.query_one("#config", Input).value = str(c)
        dialog.query_one("#gpus-in", Input).value = "none"
        await until(pilot, lambda: dialog.prepared is not None and dialog.prepared.ok
                    and dialog.prepared.request.gpus == "none")
        preview = str(dialog.query_one("#preview").render())
        assert "llamafactory-cli train" in preview and "ready" in preview
        assert not dialog.query_one("#start", Button).disabled
        await pilot.click("#start")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        runs = app.screen
        await until(pilot, lambda: any(v.status.state == "finished" for v in runs.views))
        rec = runs.views[0].status.record
        assert rec.kind == "train" and rec.gpus is None


async def test_launch_dialog_shows_problems_and_blocks_start(tmux_env, tmp_path):
    c = cfg(tmp_path, "swan.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "o"),
            use_swanlab=True)
    app = make()
    async with app.run_test(size=(110, 40)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        d = app.screen
        d.query_one("#config", Input).value = str(c)
        d.query_one("#gpus-in", Input).value = "none"
        await until(pilot, lambda: d.prepared is not None and d.prepared.request.gpus == "none")
        assert not d.prepared.ok and "SWANLAB_API_KEY" in str(d.query_one("#preview").render())
        assert d.query_one("#start", Button).disabled




async def test_stop_modal_starts_on_cancel_and_stops_the_whole_tree(tmux_env, tmp_path):
    c = cfg(tmp_path, "tree.yaml", stage="sft", do_train=True, output_dir=str(tmp_path / "t"),
            steps=1, tree=True)
    r = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "launch", str(c), "--gpus", "none"],
                       capture_output=True, text=True, env=tmux_env)
    run_id = r.stdout.strip().splitlines()[-1]
    end = time.monotonic() + 15
    while len(run_pids(run_id)) < 4 and time.monotonic() < end:
        time.sleep(0.1)
    pids = run_pids(run_id)
    app = make()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.views)
        runs = app.screen
        await until(pilot, lambda: runs.views[0].status.state == "running")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, StopScreen))
        stop = app.screen
        assert app.focused.id == "cancel"
        await until(pilot, lambda: stop.plan is not None)
        assert {t.proc.pid for t in stop.plan.targets} >= set(pids)
        await pilot.press("enter")  # Enter on Cancel does not stop anything
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert all(psutil.pid_exists(p) for p in pids)

        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, StopScreen) and app.screen.plan is not None)
        stop = app.screen
        await pilot.click("#stop")
        await until(pilot, lambda: stop.report is not None, timeout=30)
        assert stop.report.all_gone
        assert run_pids(run_id) == []
        await pilot.click("#close")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await until(pilot, lambda: app.screen.views and app.screen.views[0].status.state == "stopped")


async def test_k_on_a_process_signals_it_after_the_modal(tmux_env, tmp_path):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        ctime = psutil.Process(victim.pid).create_time()
        app = make()
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(KillScreen([(victim.pid, ctime, (0,), 2**30)]))
            await until(pilot, lambda: isinstance(app.screen, KillScreen) and app.screen.plan is not None)
            assert app.focused.id == "cancel" and len(app.screen.plan.targets) == 1
            await pilot.click("#term")
            await until(pilot, lambda: victim.poll() is not None)
            assert victim.returncode == -15
        audit = app.ctx.audit.path.read_text()
        assert f'"pid": {victim.pid}' in audit and "SIGTERM" in audit
    finally:
        victim.kill()
        victim.wait()


async def test_k_refuses_a_process_whose_pid_was_reused(tmux_env):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        ctime = psutil.Process(victim.pid).create_time()
        app = make()
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(KillScreen([(victim.pid, ctime - 10, (), None)]))  # shown: another process
            await until(pilot, lambda: isinstance(app.screen, KillScreen) and app.screen.plan is not None)
            plan = app.screen.plan
            assert plan.targets == () and "PID reused" in plan.refused[0].reason
            assert app.screen.query_one("#kill", Button).disabled
    finally:
        victim.kill()
        victim.wait()


async def test_readonly_has_no_launch_stop_or_kill(tmux_env):
    app = make(readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "k")
        await pilot.pause()
        assert not isinstance(app.screen, (LaunchScreen, KillScreen))
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Launch a run" not in titles and "Signal processes" not in titles
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert app.screen.check_action("stop", ()) is False
        assert app.screen.check_action("launch", ()) is False
