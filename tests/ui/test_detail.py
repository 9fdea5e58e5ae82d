"""The run detail and compare views with the Pilot: a log and a trainer_log that grow while shown."""

from __future__ import annotations

import json
import shutil

import pytest
from textual.widgets import Input

from ftmllm_tui.ui.screens.compare import CompareScreen
from ftmllm_tui.ui.screens.detail import RunDetailScreen
from ftmllm_tui.ui.widgets.log_view import LogView

from .conftest import DATA, make_app, until


def rec(step, total=40, **kw):
    d = {"current_steps": step, "total_steps": total, "loss": 5.0 - step * 0.05, "lr": 1e-3,
         "epoch": step / 10, "percentage": round(100 * step / total, 2), "elapsed_time": f"0:00:{step:02d}",
         "remaining_time": "0:01:00"}
    d.update(kw)
    return json.dumps(d) + "\n"


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    (d / "trainer_log.jsonl").write_text("".join(rec(s) for s in range(1, 11)))
    (d / "running_log.txt").write_text("".join(f"[INFO] starting {i}\n" for i in range(30)))
    return d


async def test_follows_a_growing_log_and_trainer_log(out, clock):
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_follow(str(out))
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None
                    and app.screen.last.progress.step == 10)
        screen = app.screen
        log = screen.query_one(LogView)
        assert len(log.lines) == 30 and log.follow
        assert "step 10/40" in screen.query_one("#dprogress").text.plain
        with open(out / "trainer_log.jsonl", "a") as f:
            f.write("".join(rec(s) for s in range(11, 21)))
            f.write(rec(20, eval_loss=4.5).replace('"loss"', '"x_loss"'))
        with open(out / "running_log.txt", "a") as f:
            f.write(" 10%|█         | 4/40\r 20%|██        | 8/40\r 50%|█████     | 20/40\n")
            f.write("[INFO] {'loss': 4.0, 'learning_rate': 0.001, 'epoch': 2.0}\n")
        await until(pilot, lambda: screen.last.progress.step == 20 and len(log.lines) == 32)
        assert log.lines[30].strip().startswith("50%")  # tqdm redraws collapsed to the latest
        assert "eval_loss" in screen.last.series and "eval_loss" in screen.query_one("#lossplot").render().plain
        assert log.scroll_offset.y == log.max_scroll_y  # following the end


async def test_scrolling_up_pauses_and_counts_new_lines(out, clock):
    app = make_app(clock)
    async with app.run_test(size=(100, 30)) as pilot:
        app.open_follow(str(out))
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
        screen = app.screen
        log = screen.query_one(LogView)
        await pilot.press("home")
        assert not log.follow
        with open(out / "running_log.txt", "a") as f:
            f.write("".join(f"more {i}\n" for i in range(7)))
        await until(pilot, lambda: log.new_while_paused == 7)
        assert "7 new lines" in screen.query_one("#logbar").text.plain
        assert log.scroll_offset.y == 0
        await pilot.press("end")
        assert log.follow and log.new_while_paused == 0


async def test_search_and_first_error(out, clock):
    with open(out / "running_log.txt", "a") as f:
        f.write("loading shards\nTraceback (most recent call last):\n  File \"x.py\", line 1\n"
                "RuntimeError: CUDA out of memory\n" + "".join(f"tail {i}\n" for i in range(60)))
    app = make_app(clock)
    async with app.run_test(size=(100, 24)) as pilot:
        app.open_follow(str(out))
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
        screen = app.screen
        log = screen.query_one(LogView)
        await pilot.press("e")
        first = log.lines.index("Traceback (most recent call last):")
        assert not log.follow and log.scroll_offset.y <= first < log.scroll_offset.y + log.size.height
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"starting 2")
        assert len(log.matches) == 1 + 10  # "starting 2", "starting 20".."starting 29"
        await pilot.press("enter")
        assert log.current_match >= 0
        await pilot.press("escape")  # closes the search box, keeps the highlights
        assert isinstance(app.focused, LogView) and log.search == "starting 2"
        before = log.current_match
        await pilot.press("n")
        assert log.current_match == (before + 1) % len(log.matches)


async def test_plot_keys(out, clock):
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_follow(str(out))
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
        screen = app.screen
        await pilot.press("s")
        await until(pilot, lambda: screen._req.smooth == 0.6)
        await pilot.press("right_square_bracket")
        assert screen._req.smooth == 0.7
        await pilot.press("L", "z")
        assert screen._req.logy and screen._req.last_steps == 100
        await until(pilot, lambda: "EMA 0.7" in screen.query_one("#lossplot").render().plain)
        await pilot.press("v")
        await pilot.pause()
        assert screen.has_class("-plot") and not screen.query_one("#logbox").display
        await pilot.press("W")
        assert screen.query_one(LogView).wrap


async def test_compare_shows_result_deltas(tmp_path, clock):
    a = tmp_path / "base"
    b = tmp_path / "finetuned"
    shutil.copytree(DATA / "lf_run", a)
    shutil.copytree(DATA / "lf_run", b)
    (a / "predict_results.json").write_text(json.dumps({"predict_bleu-4": 1.2, "predict_rouge-1": 10.0}))
    (b / "predict_results.json").write_text(json.dumps({"predict_bleu-4": 3.6, "predict_rouge-1": 9.0}))
    app = make_app(clock)
    from ftmllm_tui.core.follow.follow import resolve

    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(CompareScreen([resolve(str(a), None), resolve(str(b), None)]))
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.last is not None
                    and app.screen.results)
        text = app.export_screenshot()
        assert "predict_bleu-4" in text and "+2.4" in text and "+200.0%" in text
        assert "-1" in text and "-10.0%" in text  # rouge went down
        assert app.screen.common()[0] == "loss"
        await pilot.press("m")
        assert app.screen.metric == "eval_loss"
