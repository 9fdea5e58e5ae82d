"""Every modal dialog at 80x24 (and 300x80): its buttons on screen and not covered, long content scrolling inside
the dialog, Esc cancels, the default button; the Kill title counts only what can be signalled; the launch dialog
in REPLAY defaults GPUs to none."""

from __future__ import annotations

import dataclasses

import pytest
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Button, Input, OptionList, Static

from ftmllm_tui.core.runs.kill import Plan, Refusal, Target
from ftmllm_tui.core.configs.pickers import Choice, Found
from ftmllm_tui.core.gpus.proctree import Proc
from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.ui.screens import kill as kill_mod
from ftmllm_tui.ui.screens import stop as stop_mod
from ftmllm_tui.ui.screens.confirm import ConfirmScreen, PromptScreen
from ftmllm_tui.ui.screens.diffview import ConflictScreen, SaveScreen
from ftmllm_tui.ui.screens.kill import KillScreen
from ftmllm_tui.ui.screens.launch import LaunchScreen
from ftmllm_tui.ui.screens.pick import PickScreen
from ftmllm_tui.ui.screens.stop import StopScreen

from .conftest import until

SMALL, BIG = (80, 24), (300, 80)
LONG_DIFF = "--- a\n+++ b\n@@ -1,40 +1,40 @@\n" + "".join(f"-old line {i}\n+new line {i}\n" for i in range(40))
SUMMARY = Text("2 error(s), 0 warning(s) — saving anyway keeps your work; launching checks again\nwritten "
               "atomically; the previous version is kept in /home/someone/.local/state/ftmllm-tui/backups")


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(tmp_path / "no-such-llamafactory-cli"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_app() -> FtmApp:
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False)
    app.ingest(app.sampler.sample())  # a REPLAY snapshot
    return app


async def open_dialog(app, pilot, screen, ready=lambda s: True):
    """Push ``screen``; returns a list that gets the dismiss result."""
    result: list = []
    app.push_screen(screen, result.append)
    await until(pilot, lambda: app.screen is screen and ready(screen))
    await pilot.pause(0.1)
    return result


def assert_buttons_usable(app) -> None:
    """Every displayed Button lies inside the screen and is what the mouse finds at its centre."""
    scr = app.screen
    buttons = [b for b in scr.query(Button) if b.display]
    assert buttons
    for b in buttons:
        r = b.region
        assert r.height == 1 and r.width > 0, (b.id, r)
        assert scr.region.contains_region(r), (b.id, r, scr.region)
        widget, _ = scr.get_widget_at(r.x + r.width // 2, r.y)
        assert widget is b, (b.id, widget)


def assert_on_screen(app, widget) -> None:
    r = widget.region
    assert r.height > 0 and app.screen.region.contains_region(r), (widget, r)


def proc(pid: int, cmd: str, user: str = "root") -> Proc:
    return Proc(pid, 1_700_000_000.0 + pid, 1, 4000, 4000, 0, user, tuple(cmd.split()))


def torchrun_plan(workers: int = 8) -> Plan:
    """The runner, torchrun and 8 ranks (10 processes), plus another user's process that is refused."""
    targets = [Target(proc(4000, "python -m ftmllm_tui.core.runs.runner /state/runs/x/run.json"), "runner"),
               Target(proc(4001, "torchrun --nproc_per_node 8 src/train.py /state/runs/x/config.yaml"),
                      "launcher")]
    targets += [Target(proc(4010 + i, f"python -u src/train.py /state/runs/x/config.yaml --local_rank {i}"),
                       "worker", (i,), 40 * 2**30) for i in range(workers)]
    refused = (Refusal(proc(5000, "sleep 3600", "nobody"), "owned by nobody, not you"),)
    return Plan(tuple(targets), refused, run_id="x")


def record(kind: str = "train") -> RunRecord:
    return RunRecord(id="20261130-114043-qwen2-5vl-7b-lora-sf-9f77", name="qwen2-5vl-7b-lora-sft", kind=kind,
                     config="configs/sft.yaml", argv=("torchrun", "--nproc_per_node", "8", "src/train.py",
                                                      "/home/someone/.local/state/ftmllm-tui/runs/x/config.yaml"),
                     env=(), gpus=tuple(range(8)))


# -- Save / Conflict ---------------------------------------------------------------------------------
async def test_save_dialog_long_diff_fits_80x24_and_uses_the_height_at_300x80():
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        scr = SaveScreen("x.yaml", LONG_DIFF, SUMMARY)
        result = await open_dialog(app, pilot, scr)
        assert_buttons_usable(app)
        assert_on_screen(app, scr.query_one("#summary"))
        assert scr.query_one("#diffbox", VerticalScroll).max_scroll_y > 0  # the diff scrolls inside
        assert app.focused.id == "save"  # "Enter saves"
        await pilot.press("escape")
        await until(pilot, lambda: result == [None])
    app = make_app()
    async with app.run_test(size=BIG) as pilot:
        scr = SaveScreen("x.yaml", LONG_DIFF, SUMMARY)
        await open_dialog(app, pilot, scr)
        assert_buttons_usable(app)
        assert scr.query_one("#diffbox").region.height > 30
        assert scr.query_one("#dlg").region.width >= 120


async def test_conflict_dialog_diff_shows_and_scrolls_at_80x24():
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        scr = ConflictScreen("x.yaml", LONG_DIFF)
        result = await open_dialog(app, pilot, scr)
        assert app.focused.id == "cancel"
        assert_buttons_usable(app)
        await pilot.click("#diff-btn")
        await pilot.pause(0.1)
        assert app.screen is scr and result == []  # Diff does not close the dialog
        assert "+new line 0" in str(scr.query_one("#diff", Static).render())
        assert_buttons_usable(app)
        assert_on_screen(app, scr.query_one("#summary"))
        assert scr.query_one("#diffbox", VerticalScroll).max_scroll_y > 0
        await pilot.click("#diff-btn")  # hides it again
        await pilot.pause(0.1)
        assert not scr.query_one("#diff").display and app.screen is scr
        await pilot.press("escape")
        await until(pilot, lambda: result == [None])


@pytest.mark.parametrize("button", ["cancel", "reload", "overwrite"])
async def test_conflict_dialog_answers_once(button):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        under = app.screen
        result = await open_dialog(app, pilot, ConflictScreen("x.yaml", LONG_DIFF))
        await pilot.click(f"#{button}")
        await until(pilot, lambda: result)
        await pilot.pause(0.2)
        assert result == [None if button == "cancel" else button]
        assert app.screen is under  # the screen underneath stays


# -- Stop / Kill -------------------------------------------------------------------------------------
async def test_stop_dialog_with_an_8_gpu_torchrun_fits_80x24(monkeypatch):
    monkeypatch.setattr(stop_mod, "plan_run_stop", lambda *a, **k: torchrun_plan())
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        scr = StopScreen(record())
        result = await open_dialog(app, pilot, scr, lambda s: s.plan is not None)
        assert app.focused.id == "cancel"
        assert {b.id for b in scr.query(Button)} == {"cancel", "stop", "save", "force"}
        assert_buttons_usable(app)
        progress = scr.query_one("#progress", Static)
        assert_on_screen(app, progress)
        assert "SIGINT" in str(progress.render()) and "Stop and save" in str(progress.render())
        assert scr.query_one("#targetbox", VerticalScroll).max_scroll_y > 0  # the list scrolls
        await pilot.press("escape")
        await until(pilot, lambda: result == [None])
    app = make_app()
    async with app.run_test(size=BIG) as pilot:
        scr = StopScreen(record())
        await open_dialog(app, pilot, scr, lambda s: s.plan is not None)
        assert_buttons_usable(app)
        assert scr.query_one("#dlg").region.width >= 200


@pytest.mark.parametrize("size", [SMALL, BIG])
async def test_kill_dialog_with_many_processes_fits(monkeypatch, size):
    plan = torchrun_plan()
    plan = Plan(plan.targets + plan.targets[2:], plan.refused + plan.refused)  # 18 + 2 refused
    monkeypatch.setattr(kill_mod, "plan_for", lambda picked, allow_others: plan)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        scr = KillScreen([(t.proc.pid, None, (), None) for t in plan.targets])
        result = await open_dialog(app, pilot, scr, lambda s: s.plan is not None)
        assert app.focused.id == "cancel"
        assert_buttons_usable(app)
        if size == SMALL:
            assert scr.query_one("#targetbox", VerticalScroll).max_scroll_y > 0
        others = scr.query_one("#others", Input)
        if others.display:  # as root, with another user's process refused
            assert_on_screen(app, others)
        await pilot.click("#cancel")
        await until(pilot, lambda: result == [None])


async def test_kill_title_counts_only_what_can_be_signalled(monkeypatch):
    ok = Target(proc(4001, "python train.py"), "process", (0,), 2**30)
    refused = Refusal(proc(5000, "sleep 3600", "nobody"), "owned by nobody, not you")
    plans = {1: Plan((ok,), (refused,)), 0: Plan((), (refused,)), 2: Plan((ok, ok), ())}
    for n, want in ((1, "Signal 1 process · 1 refused"), (0, "Nothing to signal · 1 refused"),
                    (2, "Signal 2 processes")):
        monkeypatch.setattr(kill_mod, "plan_for", lambda picked, allow_others, p=plans[n]: p)
        app = make_app()
        async with app.run_test(size=SMALL) as pilot:
            scr = KillScreen([(4001, None, (0,), None), (5000, None, (), None)])
            await open_dialog(app, pilot, scr, lambda s: s.plan is not None)
            assert scr.query_one("#dlg").border_title == want
            assert scr.query_one("#kill", Button).disabled == (n == 0)


# -- Launch ------------------------------------------------------------------------------------------
async def test_launch_dialog_fits_80x24_and_replay_defaults_to_no_gpus():
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        scr = LaunchScreen(config="configs/sft.yaml", name="try-2")
        result = await open_dialog(app, pilot, scr, lambda s: s.prepared is not None)
        assert app.focused.id == "cancel"
        assert_buttons_usable(app)
        for inp in scr.query(Input):  # every field on screen, no placeholder cut mid-word
            assert_on_screen(app, inp)
            assert len(inp.placeholder) <= inp.region.width, (inp.id, inp.placeholder, inp.region.width)
        assert scr.query_one("#gpus-in", Input).value == "none"
        assert "needs live data" in str(scr.query_one("#gputable", Static).render())
        assert scr.prepared.request.gpus == "none"
        assert not any("no GPUs are visible" in p.message for p in scr.prepared.problems)
        scr.query_one("#config", Input).focus()
        await pilot.press("escape")  # from a field, too
        await until(pilot, lambda: result == [None])


async def test_launch_dialog_keeps_auto_live_and_explicit_gpus_in_replay():
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        scr = LaunchScreen(config="configs/sft.yaml", gpus="0,1")
        await open_dialog(app, pilot, scr)
        assert scr.query_one("#gpus-in", Input).value == "0,1"
    app = make_app()
    app.snapshot = dataclasses.replace(app.snapshot, source="live")
    async with app.run_test(size=SMALL) as pilot:
        scr = LaunchScreen(config="configs/sft.yaml")
        await open_dialog(app, pilot, scr)
        assert scr.query_one("#gpus-in", Input).value == "auto"


# -- Confirm / Prompt / Pick -------------------------------------------------------------------------
async def test_confirm_with_a_long_body_fits_80x24():
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        body = "\n".join(f"line {i} of a long explanation" for i in range(40))
        scr = ConfirmScreen("Really?", body, yes="Do it")
        result = await open_dialog(app, pilot, scr)
        assert app.focused.id == "cancel"
        assert_buttons_usable(app)
        assert scr.query_one("#body", VerticalScroll).max_scroll_y > 0
        await pilot.press("enter")  # Enter right away: Cancel
        await until(pilot, lambda: result == [False])
        scr = ConfirmScreen("YAML syntax error", "found unexpected [/x] ']' here", yes="Save anyway")
        result = await open_dialog(app, pilot, scr)  # taken as plain text, not markup
        assert "[/x]" in str(scr.query("#body Static").last().render())
        assert_buttons_usable(app)
        await pilot.press("escape")
        await until(pilot, lambda: result == [False])


async def test_prompt_and_pick_cancel_with_escape_at_80x24():
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        result = await open_dialog(app, pilot, PromptScreen("Follow a run", "run id", "abc"))
        assert_on_screen(app, app.screen.query_one(Input))
        await pilot.press("escape")
        await until(pilot, lambda: result == [None])

        long = "a detail long enough to wrap at eighty columns " * 3
        choices = tuple(Choice(f"v{i}", f"model-{i}", long, "hf-cache") for i in range(30))
        scr = PickScreen("Pick a model", lambda: Found(choices, ()))
        result = await open_dialog(app, pilot, scr, lambda s: s.found is not None)
        ol = scr.query_one(OptionList)
        assert_on_screen(app, ol)
        assert ol.virtual_size.height == len(choices)  # one row per choice: details do not wrap
        await pilot.press("escape")
        await until(pilot, lambda: result == [None])


async def test_a_running_stop_offers_next_signal_now(monkeypatch):
    """Stopping a stubborn run: while the dialog waits out a grace period, "Next signal now" cuts it short."""
    import threading

    from ftmllm_tui.core.runs.kill import Report

    monkeypatch.setattr(stop_mod, "plan_run_stop", lambda *a, **k: torchrun_plan(2))
    seen: list[str] = []

    def fake_stop(*a, hurry=None, progress=lambda m: None, **k):
        progress("SIGINT to the launcher's group; waiting up to 60 s")
        assert isinstance(hurry, threading.Event)
        if hurry.wait(10):
            seen.append("hurried")
            progress("not waiting any longer: next signal now")
        return Report("r1")

    monkeypatch.setattr(stop_mod, "execute_stop", fake_stop)
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        scr = StopScreen(record())
        result = await open_dialog(app, pilot, scr, lambda s: s.plan is not None)
        await pilot.click("#stop")
        await until(pilot, lambda: str(scr.query_one("#force", Button).label) == "Next signal now")
        force = scr.query_one("#force", Button)
        assert not force.disabled and scr.running
        await pilot.press("escape")  # does not abandon a stop half-way: it says what is going on
        await pilot.pause(0.1)
        assert app.screen is scr and any("Next signal now" in str(n.message) for n in app._notifications)
        await pilot.click("#force")
        await until(pilot, lambda: seen == ["hurried"] and not scr.running)
        assert force.disabled
        await pilot.press("escape")
        await until(pilot, lambda: result)


async def test_f1_lists_the_keys_of_a_dialog():
    """App keys do not reach a modal: every dialog binds F1 (and ? outside text fields) itself."""
    from ftmllm_tui.ui.screens.confirm import ConfirmScreen
    from ftmllm_tui.ui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        scr = ConfirmScreen("Forget run x?", "Its folder is deleted.", yes="Forget")
        await open_dialog(app, pilot, scr)
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen) and app.screen.under is scr
        assert "Confirm" in app.screen.query_one("VerticalScroll").border_title
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.screen is scr
        await pilot.press("f1")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
