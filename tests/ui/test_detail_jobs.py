"""The detail view of a download or ollama create job: its log and its own progress (files, bytes, rate,
ETA for a download, from its progress.json), no loss chart, no plot keys, no GPUs, no stall warning."""

from __future__ import annotations

import json
import os
import time

from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.ui.screens.detail import RunDetailScreen

from .conftest import make_app, screen_text, until


def seed(reg, tmp_path, kind: str, *, exit_code: int | None = None) -> RunRecord:
    old = time.time() - 3600
    rec = RunRecord(id=f"20261204-120000-{kind}-0001", name=f"my-{kind}", kind=kind, config=None, argv=("x",),
                    env=(), created_at=old, tmux_session="nosuch", output_dir=str(tmp_path / "dest"))
    reg.create(rec, None)
    d = reg.dir(rec.id)
    (d / "console.log").write_text(f"{kind} job started\nworking…\n")
    if exit_code is not None:
        (d / "exit_code").write_text(f"{exit_code}\n")
    return rec


async def test_download_job_shows_files_bytes_rate_eta_and_no_chart(tmp_path, clock):
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        reg = app.ctx.registry
        rec = seed(reg, tmp_path, "download")
        (reg.dir(rec.id) / "progress.json").write_text(json.dumps(
            {"files_done": 3, "files_total": 10, "bytes_done": 3 << 30, "bytes_total": 12 << 30,
             "rate": 50 << 20, "eta_s": 184, "done": False}))
        # a stale trainer_log where a training's would be: no stall warning, no chart from it
        (tmp_path / "dest").mkdir()
        (tmp_path / "dest" / "trainer_log.jsonl").write_text(
            json.dumps({"current_steps": 5, "total_steps": 9, "loss": 1.5, "percentage": 55}) + "\n")
        old = time.time() - 3600
        os.utime(tmp_path / "dest" / "trainer_log.jsonl", (old, old))
        app.open_follow(rec.id)
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None
                    and "files" in app.screen.query_one("#dprogress").text.plain)
        await pilot.pause()
        screen = app.screen
        progress = screen.query_one("#dprogress").text.plain
        assert "3/10 files" in progress and "25.0%" in progress and "ETA 0:03:04" in progress, progress
        assert "3.2 GB of 12.9 GB" in progress and "52.4 MB/s" in progress, progress
        assert "step" not in progress and "no new step" not in progress and "no progress yet" not in progress
        assert screen.query_one("#plots").styles.display == "none"
        assert "GPUs" not in screen.query_one("#dtitle").text.plain
        text = "\n".join(screen_text(app))
        assert "working…" in text and "loss" not in text.lower()
        assert "Smooth" not in text and "Layout" not in text  # no plot keys in the footer


async def test_ollama_job_says_how_it_ended_and_shows_no_chart(tmp_path, clock):
    app = make_app(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        rec = seed(app.ctx.registry, tmp_path, "ollama", exit_code=1)
        app.open_follow(rec.id)
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
        await pilot.pause()
        screen = app.screen
        progress = screen.query_one("#dprogress").text.plain
        assert progress.startswith("ollama create: failed, exit 1"), progress
        assert screen.query_one("#plots").styles.display == "none"
        assert "loss" not in "\n".join(screen_text(app)).lower()
