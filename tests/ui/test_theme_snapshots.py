"""Every view in every built-in theme at 80×24, as SVG snapshots (deterministic data: replay, fixed clock,
UTC, fixed file times, runs that have ended). Update with --snapshot-update after looking at the report."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from ftmllm_tui.core.runs.registry import Registry, RunRecord
from ftmllm_tui.ui.palette import PALETTE
from ftmllm_tui.ui.themes import load_themes
from tests.conftest import FakeClock

from .conftest import DATA, make_app

THEMES = ("dark", "light", "high-contrast", "mono")
SIZE = (80, 24)
T0 = 1796000000.0  # a fixed moment (2026-11-30 UTC) for file times and run records


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))  # no user themes or settings
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(tmp_path / "no-llamafactory-cli"))
    monkeypatch.setenv("FTMLLM_TMUX_SOCKET", "ftm-snapshot-no-server")
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield
    PALETTE.apply(load_themes().get("dark").colors, "dark")  # the next test starts from the default


async def _settle(pilot, cond, tries=200):
    for _ in range(tries):
        if cond():
            break
        await asyncio.sleep(0.05)
        await pilot.pause()
    await asyncio.sleep(0.2)
    await pilot.pause()


def _home(theme, tmp_path, keys=()):
    clock = FakeClock()
    app = make_app(clock, DATA / "h200x8_synth.jsonl", theme=theme)

    async def run(pilot):
        for _ in range(40):
            app.ingest(app.sampler.sample())
            clock.tick(1.0)
        await pilot.pause()
        for k in keys:
            await pilot.press(k)
        await pilot.pause()
    return app, run


def _runs(theme, tmp_path):
    clock = FakeClock()
    app = make_app(clock, theme=theme)
    reg = Registry(tmp_path / "state" / "ftmllm-tui" / "runs")

    def record(rid, name, kind="train", **kw):
        r = RunRecord(id=rid, name=name, kind=kind, config=f"/work/cfg/{name}.yaml",
                      argv=("llamafactory-cli", kind, f"/work/cfg/{name}.yaml"), env=(), user="alice",
                      host="gpu1", cwd="/work", tmux_socket="ftm-snapshot-no-server",
                      tmux_session=f"ftm-{rid}", created_at=T0, **kw)
        reg.create(r, None)
        return reg.dir(rid)

    d = record("20261130-0800-sft-qwen2vl", "sft-qwen2vl", gpus=(0, 1))
    (d / "exit_code").write_text("0\n")
    os.utime(d / "exit_code", (T0 + 5400, T0 + 5400))
    d = record("20261130-0900-dpo-crash", "dpo-crash", gpus=(2,))
    (d / "exit_code").write_text("1\n")
    os.utime(d / "exit_code", (T0 + 95, T0 + 95))
    record("20261130-1000-chat-demo", "chat-demo", kind="chat", gpus=(3,), stop_requested_at=T0 + 1800)

    async def run(pilot):
        from ftmllm_tui.ui.screens.runs import RunsScreen, RunsTable

        app.ingest(app.sampler.sample())
        await pilot.pause()
        assert app.ctx.registry.root == reg.root, (app.ctx.registry.root, reg.root)
        await pilot.press("r")
        await _settle(pilot, lambda: isinstance(app.screen, RunsScreen)
                      and app.screen.query_one(RunsTable).row_count == 3)
    return app, run


def _detail(theme, tmp_path, monkeypatch):
    out = tmp_path / "tiny-lora-sft"
    shutil.copytree(DATA / "lf_run", out)
    shutil.copy(DATA / "console_tiny_lora_sft.log", out / "running_log.txt")
    monkeypatch.chdir(tmp_path)
    app = make_app(FakeClock(), open_ref="tiny-lora-sft", theme=theme)

    async def run(pilot):
        from ftmllm_tui.ui.screens.detail import RunDetailScreen

        await _settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.last is not None
                      and app.screen.last.charts is not None
                      and app.screen.query_one("#lossplot").render().plain.count("\n") > 3)
    return app, run


def _configs_dir(tmp_path, monkeypatch):
    root = tmp_path / "work"
    shutil.copytree(DATA.parents[1] / "configs", root / "configs")
    text = (root / "configs" / "qwen2.5vl_lora_sft.yaml").read_text()
    text = text.replace("lr_scheduler_type: cosine", "lr_scheduler_type: cosin").replace(
        "warmup_ratio: 0.1", "warmup_ratoi: 0.1")
    (root / "configs" / "sft.yaml").write_text(text)
    for f in (root / "configs").rglob("*"):
        os.utime(f, (T0, T0))
    monkeypatch.chdir(root)
    return root


def _configs(theme, tmp_path, monkeypatch):
    from ftmllm_tui.settings import Settings

    _configs_dir(tmp_path, monkeypatch)
    app = make_app(FakeClock(), theme=theme, settings=Settings(config_dirs=("./configs",)))

    async def run(pilot):
        from ftmllm_tui.ui.screens.configs import ConfigsScreen

        app.ingest(app.sampler.sample())
        await pilot.press("c")
        await _settle(pilot, lambda: isinstance(app.screen, ConfigsScreen) and app.screen.entries
                      and len(app.screen.checks) >= len(app.screen.entries))
    return app, run


def _editor(theme, tmp_path, monkeypatch):
    root = _configs_dir(tmp_path, monkeypatch)
    monkeypatch.chdir(root / "configs")
    app = make_app(FakeClock(), edit_path="sft.yaml", theme=theme)

    async def run(pilot):
        from ftmllm_tui.ui.screens.editor import EditorScreen

        await _settle(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen.report is not None
                      and "no training" in app.screen.schema_why)
        app.screen.query_one("#ed").move_cursor((45, 0), center=True)
        await asyncio.sleep(0.2)
        await pilot.pause()
    return app, run


@pytest.mark.parametrize("theme", THEMES)
def test_home(snap_compare, theme, tmp_path):
    app, run = _home(theme, tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=run)


@pytest.mark.parametrize("theme", THEMES)
def test_help(snap_compare, theme, tmp_path):
    app, run = _home(theme, tmp_path, keys=("question_mark",))
    assert snap_compare(app, terminal_size=SIZE, run_before=run)


@pytest.mark.parametrize("theme", THEMES)
def test_runs(snap_compare, theme, tmp_path):
    app, run = _runs(theme, tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=run)


@pytest.mark.parametrize("theme", THEMES)
def test_detail(snap_compare, theme, tmp_path, monkeypatch):
    app, run = _detail(theme, tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=SIZE, run_before=run)


@pytest.mark.parametrize("theme", THEMES)
def test_configs(snap_compare, theme, tmp_path, monkeypatch):
    app, run = _configs(theme, tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=SIZE, run_before=run)


@pytest.mark.parametrize("theme", THEMES)
def test_editor(snap_compare, theme, tmp_path, monkeypatch):
    app, run = _editor(theme, tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=SIZE, run_before=run)
