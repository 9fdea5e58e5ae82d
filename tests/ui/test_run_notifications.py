"""A run that ends while the app is open raises a notification on whatever view (a finished one and a failed one,
with its reason), and the bell / OSC 9 desktop notification when [ui] notify asks for it."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.core.runs.watch import desktop_sequence
from ftmllm_tui.settings import Settings
from ftmllm_tui.ui.app import FtmApp
from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording

from .conftest import until

LOGS = Path(__file__).parents[1] / "data" / "failure_logs"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_TMUX_SOCKET", f"ftmtest-none-{uuid.uuid4().hex[:8]}")
    return tmp_path


def _run(app, name: str) -> RunRecord:
    reg = app.ctx.registry
    reg.root.mkdir(parents=True, exist_ok=True)
    r = RunRecord(id=f"20261204-120000-{name}-{uuid.uuid4().hex[:4]}", name=name, kind="train", config=None,
                  argv=("llamafactory-cli", "train", "x.yaml"), env=(), created_at=1.0, tmux_socket="nosuch",
                  tmux_session="ftm-nosuch")
    reg.create(r, None)
    return r


def _messages(app) -> list[str]:
    return [n.message for n in app._notifications]


@pytest.mark.parametrize("mode", ["off", "bell"])
async def test_finished_and_failed_runs_raise_notifications(env, monkeypatch, mode):
    app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, settings=Settings(notify=mode))
    app.runwatch_s = 0.2
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    old = _run(app, "ended-before")
    (app.ctx.registry.dir(old.id) / "exit_code").write_text("0\n")
    ok, bad = _run(app, "sft-ok"), _run(app, "sft-bad")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.6)                      # the watcher takes stock: nothing to say yet
        assert not any("Run " in m for m in _messages(app))
        await pilot.press("r")                      # on another view
        (app.ctx.registry.dir(ok.id) / "exit_code").write_text("0\n")
        shutil.copy(LOGS / "dataset_missing.log", app.ctx.registry.dir(bad.id) / "console.log")
        (app.ctx.registry.dir(bad.id) / "exit_code").write_text("1\n")
        await until(pilot, lambda: sum("Run " in m for m in _messages(app)) >= 2)
        msgs = _messages(app)
        assert "Run sft-ok finished" in msgs
        assert "Run sft-bad failed (exit 1): dataset tiny_v2 is not in dataset_info.json" in msgs
        assert not any("ended-before" in m for m in msgs)     # it had ended before the app started
        assert len(bells) == (2 if mode == "bell" else 0)


def test_osc9_sequence_plain_and_through_tmux():
    assert desktop_sequence("ftmllm-tui", "Run a finished", in_tmux=False) == "\x1b]9;ftmllm-tui: Run a finished\x07"
    seq = desktop_sequence("t", "x\x1bevil\x07", in_tmux=True)
    assert seq == "\x1bPtmux;\x1b\x1b]9;t: xevil\x07\x1b\\"
