"""Compare is live: the curves grow while the runs train; smoothing draws the smoothed curves over the raw
ones; eval_loss can be compared as soon as one run has evaluated (the last evaluation of each is shown)."""

from __future__ import annotations

import json

from ftmllm_tui.core.follow.follow import resolve
from ftmllm_tui.ui.screens.compare import CompareScreen

from .conftest import make_app, screen_text, until


def shown(app) -> str:
    return "\n".join(screen_text(app))


def rec(step, **kw):
    d = {"current_steps": step, "total_steps": 400, "epoch": step / 100, "percentage": step / 4}
    d.update(kw or {"loss": 3.0 - step / 200 + (0.3 if step % 2 else 0.0), "lr": 1e-4})
    return json.dumps(d) + "\n"


def seed(tmp_path):
    a, b = tmp_path / "run-a", tmp_path / "run-b"
    for d in (a, b):
        d.mkdir()
        (d / "trainer_log.jsonl").write_text("".join(rec(s) for s in range(1, 41)))
    with open(a / "trainer_log.jsonl", "a") as f:
        f.write(rec(40, eval_loss=2.5))
    return a, b


async def test_compare_follows_growing_runs_and_eval_loss_before_both_evaluated(tmp_path, clock):
    a, b = seed(tmp_path)
    app = make_app(clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        app.push_screen(CompareScreen([resolve(str(a), None), resolve(str(b), None)]))
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.last is not None
                    and app.screen.query_one("#cplot").render().plain.count("\n") > 3)
        scr = app.screen
        assert "40" in scr.query_one("#cplot").render().plain.splitlines()[-1]  # x axis ends at step 40
        with open(b / "trainer_log.jsonl", "a") as f:  # run-b trains on
            f.write("".join(rec(s) for s in range(41, 121)))
        await until(pilot, lambda: scr.query_one("#cplot").render().plain.splitlines()[-1].rstrip().endswith("120"))
        # eval_loss: only run-a has evaluated; it is offered, run-b is named as waiting
        assert scr.common()[:2] == ["loss", "eval_loss"]
        await pilot.press("m")
        await until(pilot, lambda: "no eval_loss yet: run-b" in scr.query_one("#cplot").render().plain)
        assert "last evaluation: run-a 2.5 @ step 40 · run-b none yet" in shown(app)
        with open(b / "trainer_log.jsonl", "a") as f:
            f.write(rec(120, eval_loss=2.25))
        await until(pilot, lambda: "run-b 2.25 @ step 120" in shown(app))
        await until(pilot, lambda: "no eval_loss yet" not in scr.query_one("#cplot").render().plain)


async def test_smoothing_draws_smoothed_over_raw(tmp_path, clock):
    a, b = seed(tmp_path)
    app = make_app(clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        app.push_screen(CompareScreen([resolve(str(a), None), resolve(str(b), None)]))
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.last is not None
                    and app.screen.last.chart is not None)
        scr = app.screen
        await pilot.press("s")
        await until(pilot, lambda: scr.last.owners == (-1, -1, 0, 1))
        assert "over raw (dim)" in scr.query_one("#cplot").render().plain


async def test_detail_smoothing_keeps_the_raw_curves_under(tmp_path, clock):
    from ftmllm_tui.ui.screens.detail import RunDetailScreen

    a, _ = seed(tmp_path)
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open_follow(str(a))
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None)
        await pilot.press("s")
        await until(pilot, lambda: app.screen.last.chart_raw == 2 and app.screen.last.charts is not None)
        await until(pilot, lambda: "EMA 0.6 over raw (dim)" in app.screen.query_one("#lossplot").render().plain)
