"""SVG snapshots with deterministic data (replay, fixed clock, UTC). Update with --snapshot-update."""

from __future__ import annotations

from tests.conftest import FakeClock

from .conftest import DATA, make_app

BANNER = ("No NVIDIA driver found (libnvidia-ml.so is not installed). Showing a REPLAY of a real "
          "2×H200 recording; --replay FILE replays another.")


def _before(app, clock, keys=()):
    async def run(pilot):
        for _ in range(app._preload):
            app.ingest(app.sampler.sample())
            clock.tick(1.0)
        await pilot.pause()
        for k in keys:
            await pilot.press(k)
        await pilot.pause()
    return run


def test_home_80x24_no_driver(snap_compare):
    clock = FakeClock()
    app = make_app(clock, samples=40, banner=BANNER)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_before(app, clock))


def test_home_80x24_eight_gpus_tree(snap_compare):
    clock = FakeClock()
    app = make_app(clock, DATA / "h200x8_synth.jsonl", samples=40)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_before(app, clock, ("t",)))


def test_home_200x50_cards(snap_compare):
    clock = FakeClock()
    app = make_app(clock, samples=200)
    assert snap_compare(app, terminal_size=(200, 50), run_before=_before(app, clock))


def test_home_120x40_filtered_sorted(snap_compare):
    clock = FakeClock()
    app = make_app(clock, DATA / "h200x8_synth.jsonl", samples=90)
    keys = ("slash", *"root", "enter", "s", "s", "s", "s")  # filter root, sort by SM%
    assert snap_compare(app, terminal_size=(120, 40), run_before=_before(app, clock, keys))


def _detail_app(tmp_path, monkeypatch):
    import shutil

    out = tmp_path / "tiny-lora-sft"
    shutil.copytree(DATA / "lf_run", out)
    shutil.copy(DATA / "console_tiny_lora_sft.log", out / "running_log.txt")
    monkeypatch.chdir(tmp_path)
    clock = FakeClock()
    return make_app(clock, open_ref="tiny-lora-sft")


def _wait_detail(app):
    async def run(pilot):
        import asyncio

        from ftmllm_tui.ui.screens.detail import RunDetailScreen

        for _ in range(200):
            s = app.screen
            if isinstance(s, RunDetailScreen) and s.last is not None and s.last.charts is not None \
                    and s.query_one("#lossplot").render().plain.count("\n") > 3:
                break
            await asyncio.sleep(0.05)
            await pilot.pause()
        await asyncio.sleep(0.3)
        await pilot.pause()
    return run


def test_detail_80x24(snap_compare, tmp_path, monkeypatch):
    app = _detail_app(tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_wait_detail(app))


def test_detail_200x50(snap_compare, tmp_path, monkeypatch):
    app = _detail_app(tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=(200, 50), run_before=_wait_detail(app))


def _editor_app(tmp_path, monkeypatch):
    import shutil

    root = tmp_path / "work"
    shutil.copytree(DATA.parents[1] / "configs", root / "configs")
    text = (root / "configs" / "qwen2.5vl_lora_sft.yaml").read_text()
    # two mistakes people make: a choice with a typo and a key with a typo
    text = text.replace("lr_scheduler_type: cosine", "lr_scheduler_type: cosin").replace(
        "warmup_ratio: 0.1", "warmup_ratoi: 0.1")
    (root / "configs" / "sft.yaml").write_text(text)
    monkeypatch.chdir(root / "configs")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(tmp_path / "no-llamafactory-cli"))
    return make_app(FakeClock(), edit_path="sft.yaml")


def _wait_editor(app, line: int):
    async def run(pilot):
        import asyncio

        from ftmllm_tui.ui.screens.editor import EditorScreen

        for _ in range(200):
            s = app.screen
            if isinstance(s, EditorScreen) and s.report is not None and "no training" in s.schema_why:
                break
            await asyncio.sleep(0.05)
            await pilot.pause()
        ed = app.screen.query_one("#ed")
        ed.move_cursor((line - 1, 0), center=True)
        await asyncio.sleep(0.2)
        await pilot.pause()
    return run


def test_editor_120x36(snap_compare, tmp_path, monkeypatch):
    app = _editor_app(tmp_path, monkeypatch)
    assert snap_compare(app, terminal_size=(120, 36), run_before=_wait_editor(app, 46))
