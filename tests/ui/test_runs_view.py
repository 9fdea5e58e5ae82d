"""The Runs view with the Pilot: records written straight into the registry (no tmux server), two of
them kept "running" by a sleeping process written as their runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from ftmllm_tui.core.runs.registry import Registry, RunRecord
from ftmllm_tui.ui.screens.help import HelpScreen
from ftmllm_tui.ui.screens.runs import RunsScreen, RunsTable, fit_columns, gpus_label

from .conftest import make_app, screen_text, until

DAY = 86400.0


def rec(reg: Registry, name: str, created: float, *, kind: str = "train", **kw) -> RunRecord:
    rid = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(created))}-{name[:20]}-{uuid.uuid4().hex[:4]}"
    r = RunRecord(id=rid, name=name, kind=kind, config=f"/work/cfg/{name}.yaml",
                  argv=("llamafactory-cli", kind, f"/work/cfg/{name}.yaml"), env=(), user="alice", host="gpu1",
                  cwd="/work", tmux_socket="nosuch", tmux_session=f"ftm-{rid}", created_at=created, **kw)
    reg.create(r, None)
    return r


def set_mtime(path: Path, t: float, text: str = "x\n") -> None:
    path.write_text(text)
    os.utime(path, (t, t))


def seed(reg: Registry, tmp: Path, sleeper: subprocess.Popen) -> dict[str, RunRecord]:
    """One run of each state; the running ones point at ``sleeper`` as their runner."""
    now = time.time()
    runner = f"{sleeper.pid} {psutil.Process(sleeper.pid).create_time()}"
    out = tmp / "saves" / "qwen2-5vl-7b" / "lora" / "sft-with-a-long-output-dir-name"
    out.mkdir(parents=True)
    (out / "trainer_log.jsonl").write_text(json.dumps(
        {"current_steps": 140, "total_steps": 300, "percentage": 46.7, "loss": 0.6135,
         "remaining_time": "0:12:34"}) + "\n")
    runs = {
        "webchat": rec(reg, "webchat-demo", now - 300, kind="webchat", port=32881,
                       url="http://localhost:32881"),
        "train": rec(reg, "qwen2-5vl-7b-lora-sft-demo", now - 600, gpus=(0, 1, 2, 3), output_dir=str(out)),
        "finished": rec(reg, "sft-finished", now - DAY),
        "failed": rec(reg, "dpo-crash", now - DAY),
        "stopped": rec(reg, "to-be-stopped", now - DAY, stop_requested_at=now - DAY + 300),
        "lost": rec(reg, "lost-export", now - DAY, kind="export"),
        "silent": rec(reg, "lost-silent", now - DAY, kind="export"),
    }
    for k in ("webchat", "train"):
        (reg.dir(runs[k].id) / "pid").write_text(runner)
    set_mtime(reg.dir(runs["finished"].id) / "exit_code", now - DAY + 600, "0\n")
    set_mtime(reg.dir(runs["failed"].id) / "exit_code", now - DAY + 90, "1\n")
    set_mtime(reg.dir(runs["lost"].id) / "console.log", now - DAY + 120)
    return runs


@pytest.fixture
def seeded(tmp_path, monkeypatch):
    monkeypatch.setenv("FTMLLM_TMUX_SOCKET", f"ftmtest-none-{uuid.uuid4().hex[:8]}")  # never a real server
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield lambda app: seed(app.ctx.registry, tmp_path, sleeper)
    finally:
        sleeper.kill()
        sleeper.wait()


async def open_runs(app, pilot, n=7) -> RunsScreen:
    await pilot.press("r")
    await until(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.views) >= n
                and app.screen.query_one(RunsTable).row_count >= n)
    await pilot.pause()
    return app.screen


def row_of(table: RunsTable, run_id: str) -> dict[str, str]:
    cells = table._cells[run_id]
    return {c.key: cells[i].plain for i, c in enumerate(table.cols)}


def move_to(screen: RunsScreen, run_id: str) -> None:
    screen.query_one(RunsTable).move_cursor_to_key(run_id)


# -- A5: the detail under the table ------------------------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_detail_line_shows_url_ssh_hint_output_dir_and_pids(seeded, clock, size):
    app = make_app(clock)
    async with app.run_test(size=size) as pilot:
        runs = seeded(app)
        screen = await open_runs(app, pilot)
        move_to(screen, runs["webchat"].id)
        await until(pilot, lambda: screen.query_one("#rundetail").size.height >= 3)
        text = "\n".join(screen_text(app))
        assert "http://localhost:32881" in text and "ssh -L 32881:localhost:32881 alice@gpu1" in text
        assert "1 processes:" in text or "processes:" in text
        move_to(screen, runs["train"].id)
        await until(pilot, lambda: "output_dir" in "\n".join(screen_text(app)))
        assert "processes:" in "\n".join(screen_text(app))


async def test_tall_screen_shows_the_whole_record(seeded, clock):
    app = make_app(clock)
    async with app.run_test(size=(160, 50)) as pilot:
        runs = seeded(app)
        screen = await open_runs(app, pilot)
        move_to(screen, runs["stopped"].id)
        await until(pilot, lambda: "config /work/cfg/to-be-stopped.yaml" in "\n".join(screen_text(app)))
        text = "\n".join(screen_text(app))
        assert "stopped 20" in text and "tmux session ftm-" in text and "by alice@gpu1" in text


# -- the table's columns ----------------------------------------------------------------------------------
async def test_columns_fit_80_columns(seeded, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        seeded(app)
        screen = await open_runs(app, pilot)
        table = screen.query_one(RunsTable)
        keys = [c.key for c in table.cols]
        assert sum(c.width + 1 for c in table.cols) <= table.size.width
        assert {"name", "state", "progress", "loss", "elapsed"} <= set(keys)
        assert table.max_scroll_x == 0
        header = screen_text(app)[1]
        assert "TIME" in header and header.rstrip().endswith(("ETA", "TIME"))
        name = next(c for c in table.cols if c.key == "name")
        assert name.width >= 12


async def test_columns_grow_at_300_columns(seeded, clock):
    app = make_app(clock)
    async with app.run_test(size=(300, 80)) as pilot:
        runs = seeded(app)
        screen = await open_runs(app, pilot)
        table = screen.query_one(RunsTable)
        used = sum(c.width + 1 for c in table.cols)
        assert table.size.width - 2 <= used <= table.size.width  # no wide empty band on the right
        text = "\n".join(screen_text(app))
        assert "qwen2-5vl-7b-lora-sft-demo" in text  # NAME in full
        for r in runs.values():
            assert r.id in text  # ID in full
        assert "sft-with-a-long-output-dir-name" in text  # and the output dir fills the rest


def test_fit_columns_drops_low_value_columns_first():
    natural = {"name": 26, "kind": 7, "state": 10, "gpus": 7, "progress": 11, "loss": 6, "elapsed": 7,
               "eta": 7, "user": 5, "started": 11, "id": 40, "output": 60}
    w80 = fit_columns(80, natural)
    assert "id" not in w80 and "user" not in w80 and "output" not in w80
    assert sum(n + 1 for n in w80.values()) <= 80 and {"name", "elapsed", "eta"} <= set(w80)
    w60 = fit_columns(60, natural)
    assert sum(n + 1 for n in w60.values()) <= 60 and {"name", "state", "progress", "elapsed"} <= set(w60)
    w300 = fit_columns(300, natural)
    assert w300["name"] == 26 and w300["id"] == 40 and sum(n + 1 for n in w300.values()) == 300
    assert gpus_label((0, 1, 2, 3, 6)) == "0-3,6" and gpus_label(None) == "cpu" and gpus_label((2, 3)) == "2,3"


# -- TIME of ended runs ------------------------------------------------------------------------------------
async def test_time_is_the_runs_duration_once_it_ended(seeded, clock):
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = seeded(app)
        screen = await open_runs(app, pilot)
        table = screen.query_one(RunsTable)
        assert row_of(table, runs["finished"].id)["elapsed"] == "10:00"
        assert row_of(table, runs["failed"].id)["elapsed"] == "1:30"
        assert row_of(table, runs["stopped"].id)["elapsed"] == "5:00"  # until the stop, not "1d00h"
        assert row_of(table, runs["lost"].id)["elapsed"] == "2:00"  # until console.log last moved
        assert row_of(table, runs["silent"].id)["elapsed"] == "-"  # nothing tells
        assert row_of(table, runs["train"].id)["elapsed"].startswith("10:")  # still counting


# -- sorting ------------------------------------------------------------------------------------------------
async def test_header_click_and_s_S_sort(seeded, clock):
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        seeded(app)
        screen = await open_runs(app, pilot)
        table = screen.query_one(RunsTable)
        names = lambda: [row_of(table, k)["name"] for k in table.order]  # noqa: E731
        await pilot.click(RunsTable, offset=(3, 0))  # the NAME header
        await pilot.pause()
        assert table.sort_key == "name" and names() == sorted(names())
        assert table.cols[0].label == "NAME▲" and "sort NAME▲" in screen.query_one("#runbar").text.plain
        await pilot.click(RunsTable, offset=(3, 0))  # again: reversed
        await pilot.pause()
        assert names() == sorted(names(), reverse=True)
        loss_x = sum(c.width + 1 for c in table.cols[:[c.key for c in table.cols].index("loss")]) + 2
        await pilot.click(RunsTable, offset=(loss_x, 0))
        await pilot.pause()
        assert table.sort_key == "loss"
        assert [row_of(table, k)["loss"] for k in table.order][:2] == ["0.6135", "-"]  # no value: last
        await pilot.press("s")
        assert table.sort_key == table.cols[[c.key for c in table.cols].index("loss") + 1].key
        await pilot.press("S")
        assert table.sort_reverse


# -- help and footer -------------------------------------------------------------------------------------
async def test_runs_help_has_its_own_title_and_keys(seeded, clock):
    app = make_app(clock)
    async with app.run_test(size=(100, 40)) as pilot:
        seeded(app)
        await open_runs(app, pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(screen_text(app))
        assert "Runs" in text and "Enter" in text and "a column header: sort" in text
        assert "move in the process table" not in text


async def test_runs_footer_fits_80_columns_with_help(seeded, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        seeded(app)
        await open_runs(app, pilot)
        footer = screen_text(app)[-1]
        assert "? Help" in footer and "l Follow" in footer and "x Stop" in footer and "C Compare" in footer
