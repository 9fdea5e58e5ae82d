"""The detail view of an ended run: its state and exit code in the header, no ETA, no stall warning."""

from __future__ import annotations

import json
import os
import time

from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.ui.screens.detail import RunDetailScreen

from .conftest import make_app, screen_text, until


def seed_ended(reg, tmp_path, *, exit_code: int, stopped: bool) -> RunRecord:
    out = tmp_path / "out"
    out.mkdir()
    rows = [{"current_steps": s, "total_steps": 3000, "loss": 2.0, "lr": 1e-4, "epoch": 0.1,
             "percentage": round(100 * s / 3000, 2), "elapsed_time": "0:02:00", "remaining_time": "0:14:47"}
            for s in range(1, 40)]
    (out / "trainer_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    old = time.time() - 3600  # an hour without a new step: a stall if it were running
    os.utime(out / "trainer_log.jsonl", (old, old))
    rec = RunRecord(id="20261204-120000-ended-0001", name="ended", kind="train", config=None, argv=("x",),
                    env=(), output_dir=str(out), created_at=old - 120, tmux_session="nosuch",
                    stop_requested_at=old if stopped else None)
    reg.create(rec, None)
    (reg.dir(rec.id) / "exit_code").write_text(f"{exit_code}\n")
    (reg.dir(rec.id) / "console.log").write_text("training…\n")
    return rec


async def test_stopped_run_header_says_stopped_exit_130_and_no_eta_or_stall(tmp_path, clock):
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        rec = seed_ended(app.ctx.registry, tmp_path, exit_code=130, stopped=True)
        app.open_follow(rec.id)
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
        await pilot.pause()
        screen = app.screen
        assert "stopped, exit 130" in screen.query_one("#dtitle").text.plain
        progress = screen.query_one("#dprogress").text.plain
        assert "step 39/3000" in progress
        assert "ETA" not in progress and "no new step" not in progress
        assert any("stopped, exit 130" in row for row in screen_text(app))


async def test_finished_and_failed_runs_say_so(tmp_path, clock):
    app = make_app(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        rec = seed_ended(app.ctx.registry, tmp_path, exit_code=1, stopped=False)
        app.open_follow(rec.id)
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
        await pilot.pause()
        assert app.screen.query_one("#dtitle").text.plain.startswith("ended  failed, exit 1")
        (app.ctx.registry.dir(rec.id) / "exit_code").write_text("0\n")
        await until(pilot, lambda: app.screen.query_one("#dtitle").text.plain.startswith("ended  finished  train"))


async def test_mono_theme_draws_loss_and_eval_loss_in_different_patterns(tmp_path, clock):
    import shutil

    from .conftest import DATA

    out = tmp_path / "tiny-lora-sft"
    shutil.copytree(DATA / "lf_run", out)
    app = make_app(clock, theme="mono")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the app's first screen is up
        app.open_follow(str(out))
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.query("#lossplot")
                    and "eval_loss" in app.screen.query_one("#lossplot").render().plain)
        legend = app.screen.query_one("#lossplot").render().plain.splitlines()[0]
        assert "⣀⣀⣀ loss" in legend and "⡀⡀⡀ eval_loss" in legend, legend
