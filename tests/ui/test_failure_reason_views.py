"""A failed run's reason in the run detail (top line; `e` jumps to the line) and in the Runs view (REASON column
when the terminal is wide, the detail lines under the table), from a real failing run's console.log."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.ui.screens.detail import RunDetailScreen
from ftmllm_tui.ui.screens.runs import RunsScreen, RunsTable
from ftmllm_tui.ui.widgets.log_view import LogView

from .conftest import make_app, screen_text, until

LOGS = Path(__file__).parents[1] / "data" / "failure_logs"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FTMLLM_TMUX_SOCKET", f"ftmtest-none-{uuid.uuid4().hex[:8]}")
    return tmp_path


def _failed(app, case: str = "dataset_missing") -> RunRecord:
    reg = app.ctx.registry
    reg.root.mkdir(parents=True, exist_ok=True)
    r = RunRecord(id=f"20261204-120000-{case[:10]}-{uuid.uuid4().hex[:4]}", name=case, kind="train",
                  config=None, argv=("llamafactory-cli", "train", "x.yaml"), env=(), created_at=1.0,
                  tmux_socket="nosuch", tmux_session="ftm-nosuch")
    reg.create(r, None)
    shutil.copy(LOGS / f"{case}.log", reg.dir(r.id) / "console.log")
    (reg.dir(r.id) / "exit_code").write_text((LOGS / f"{case}.exit").read_text())
    return r


async def test_detail_top_line_and_e_jumps_to_the_reason(env, clock):
    app = make_app(clock)
    async with app.run_test(size=(160, 40)) as pilot:
        r = _failed(app)
        app.open_follow(r.id)
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None
                    and getattr(app.screen, "reason", None) is not None)
        screen = app.screen
        await until(pilot, lambda: "✗ dataset tiny_v2 is not in dataset_info.json" in screen_text(app)[0])
        log = screen.query_one(LogView)
        await pilot.press("e")
        i = log.lines.index("ValueError: Undefined dataset tiny_v2 in dataset_info.json.")
        assert not log.follow and log.scroll_offset.y <= i < log.scroll_offset.y + log.size.height
        # not the first "Traceback" line (what e finds without a reason)
        assert log.lines[i].startswith("ValueError")


async def test_runs_view_reason_column_when_wide(env, clock):
    app = make_app(clock)
    async with app.run_test(size=(200, 30)) as pilot:
        r = _failed(app, "port_in_use")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.views)
        table = app.screen.query_one(RunsTable)
        await until(pilot, lambda: any(c.key == "reason" for c in table.cols))
        text = "\n".join(screen_text(app))
        assert "REASON" in text and "port already in use" in text
        assert "✗ port already in use (console.log line 45)" in text       # the detail under the table
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:   # at 80 columns the column gives way
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.views)
        assert not any(c.key == "reason" for c in app.screen.query_one(RunsTable).cols)
        assert r.id in {v.status.record.id for v in app.screen.views}
