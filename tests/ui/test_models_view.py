"""Models view (M) and the dataset browser (D): Pilot against a real HF cache layout and real data files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import FakeClock

from .conftest import make_app, screen_text, until

sys.path.insert(0, str(Path(__file__).parents[1]))
from hfcache import commit_of, make_cache  # noqa: E402


@pytest.fixture
def env(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    make_cache(hub, repos=3)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("FTMLLM_IMAGES", "halfblock")
    return hub


def _app():
    return make_app(FakeClock())


async def test_models_view_paints_at_once_and_fills_in_from_a_worker(env):
    app = _app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("M")
        await pilot.pause()
        from ftmllm_tui.ui.screens.models import ModelsScreen

        assert isinstance(app.screen, ModelsScreen)
        await until(pilot, lambda: app.screen.report is not None)
        text = "\n".join(screen_text(app))
        assert "org0/model-000" in text and "team/rlhf-v" in text and "dataset" in text
        assert f"cache {env} (HF_HUB_CACHE)" in text and "free of" in text
        t = app.screen.query_one("DataTable")
        assert t.row_count == 4
        await pilot.press("y")  # copy the snapshot path
        assert app.clipboard == app.screen.rows[0].path and "/snapshots/" in app.clipboard
        await pilot.press("escape")
        assert not isinstance(app.screen, ModelsScreen)


async def test_use_in_config_fills_model_name_or_path_of_the_open_editor(env, tmp_path):
    cfg = tmp_path / "sft.yaml"
    cfg.write_text("model_name_or_path: old/model\nstage: sft\n")
    app = _app()
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_editor(cfg)
        await pilot.pause()
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None)
        app.action_models()
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None and app.screen.rows)
        await pilot.press("down")  # org1/model-001
        await pilot.press("u")
        await pilot.pause()
        from ftmllm_tui.ui.screens.editor import EditorScreen

        assert isinstance(app.screen, EditorScreen)
        assert app.screen.query_one("YamlEditor").text.splitlines()[0] == "model_name_or_path: org1/model-001"
        assert cfg.read_text().startswith("model_name_or_path: old/model")  # not saved behind the user's back


async def test_delete_asks_with_cancel_focused_and_deletes_through_the_strategy(env):
    app = _app()
    async with app.run_test(size=(120, 30)) as pilot:
        app.action_models()
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None and app.screen.rows)
        await pilot.press("down")  # org1/model-001: one revision
        await pilot.press("x")
        from ftmllm_tui.ui.screens.confirm import ConfirmScreen

        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.focused.id == "cancel"
        body = "\n".join(screen_text(app))
        assert "Delete revision" in body and "org1/model-001" in body and "come back" in body
        await pilot.press("enter")  # Cancel
        await pilot.pause()
        repo = env / "models--org1--model-001"
        assert (repo / "snapshots").is_dir()
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab", "enter")  # Delete
        await until(pilot, lambda: not (repo / "snapshots" / commit_of("org1/model-001-1")).exists())
        await until(pilot, lambda: app.screen.report is not None and not app.screen.scanning and
                    all(r.repo is None or r.repo.revisions or r.repo.repo_id != "org1/model-001"
                        for r in app.screen.rows))


@pytest.fixture
def data(tmp_path) -> Path:
    from PIL import Image

    d = tmp_path / "data"
    (d / "img").mkdir(parents=True)
    im = Image.new("RGB", (32, 24))
    for x in range(32):
        for y in range(24):
            im.putpixel((x, y), (x * 8, y * 10, 200 if (x // 8 + y // 8) % 2 else 30))
    im.save(d / "img" / "a.png")
    (d / "dataset_info.json").write_text(json.dumps({
        "mm": {"file_name": "mm.jsonl", "formatting": "sharegpt", "columns": {"messages": "messages", "images": "images"},
               "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}},
        "hub": {"hf_hub_url": "llamafactory/RLHF-V", "ranking": True, "formatting": "sharegpt"}}))
    rows = [{"messages": [{"role": "user", "content": "<image>What is this?"},
                          {"role": "assistant", "content": "A checkerboard."}], "images": ["img/a.png"]},
            {"messages": [{"role": "user", "content": "<image>Where?"}, {"role": "assistant", "content": "Here."}],
             "images": ["img/missing.png"]},
            {"messages": [{"role": "user", "content": "find the needle"}, {"role": "assistant", "content": "ok"}]}]
    (d / "mm.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return d


async def test_dataset_browser_entries_rows_search_jump_and_checks(env, data):
    app = _app()
    async with app.run_test(size=(110, 32)) as pilot:
        app.action_datasets(str(data))
        from ftmllm_tui.ui.screens.datasets import DatasetsScreen, RowsScreen

        await until(pilot, lambda: isinstance(app.screen, DatasetsScreen) and "mm" in app.screen.counts)
        text = "\n".join(screen_text(app))
        assert "llamafactory/RLHF-V (not cached)" in text and "sharegpt" in text
        await pilot.press("c")
        await until(pilot, lambda: app.screen.checks.get("mm") == "! 1")
        await pilot.press("enter")  # hub: a hub dataset cannot be browsed, says so
        await pilot.pause()
        assert isinstance(app.screen, DatasetsScreen)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, RowsScreen) and app.screen.row is not None)
        await until(pilot, lambda: app.screen.total == 3)
        rows = screen_text(app)
        assert "row 1 of 3" in rows[0] and "✓ nothing LLaMA-Factory would trip on" in rows[1]
        assert any(line.startswith("user      <image>What is this?") for line in rows)
        assert any("▀" in line or "▄" in line for line in rows)  # the image, as half-blocks
        await pilot.press("e")  # next problem
        await until(pilot, lambda: app.screen.index == 1)
        assert "image-missing: img/missing.png not found" in screen_text(app)[1]
        await pilot.press("slash", *"NEEDLE", "enter")
        await until(pilot, lambda: app.screen.index == 2)
        await pilot.press("j", "1", "enter")
        await until(pilot, lambda: app.screen.index == 0)
        await pilot.press("c")
        await until(pilot, lambda: app.screen.summary == "1 row with problems: image-missing 1")
        await pilot.press("escape")
        assert isinstance(app.screen, DatasetsScreen)


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast", "mono"])
def test_row_with_an_image_as_half_blocks(snap_compare, env, data, theme):
    """An SVG snapshot of a row with its image drawn with half-block cells (works over any SSH link), in every
    built-in theme (roles take the theme's colours)."""
    from ftmllm_tui.core.models import datasets as ds
    from ftmllm_tui.ui.palette import PALETTE
    from ftmllm_tui.ui.screens.datasets import RowsScreen
    from ftmllm_tui.ui.themes import load_themes

    app = make_app(FakeClock(), theme=theme)
    entry = next(e for e in ds.entries(data)[0] if e.name == "mm")

    async def run_before(pilot):
        app.push_screen(RowsScreen(entry, data / "mm.jsonl", data))
        await until(pilot, lambda: isinstance(app.screen, RowsScreen) and app.screen.total == 3)
        await pilot.pause(0.2)

    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
    finally:
        PALETTE.apply(load_themes().get("dark").colors, "dark")  # the next test starts from the default


async def test_ctrl_g_in_the_editor_opens_the_dataset_under_the_cursor(env, data, tmp_path):
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(f"stage: sft\ndataset_dir: {data}\ndataset: hub, mm\ncutoff_len: 2048\n")
    app = _app()
    async with app.run_test(size=(110, 32)) as pilot:
        app.open_editor(cfg)
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None)
        ed = app.screen.query_one("YamlEditor")
        ed.move_cursor((2, len("dataset: hub, m")))
        await pilot.press("ctrl+g")
        from ftmllm_tui.ui.screens.datasets import RowsScreen

        await until(pilot, lambda: isinstance(app.screen, RowsScreen) and app.screen.row is not None)
        assert app.screen.entry.name == "mm" and app.screen.context["cutoff_len"] == 2048
        await pilot.press("escape", "escape")
        from ftmllm_tui.ui.screens.editor import EditorScreen

        assert isinstance(app.screen, EditorScreen)


async def test_readonly_hides_delete_download_and_ollama(env):
    app = make_app(FakeClock(), readonly=True)
    async with app.run_test(size=(120, 30)) as pilot:
        app.action_models()
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None and app.screen.rows)
        footer = screen_text(app)[-1]
        assert "Copy path" in footer and "Delete" not in footer and "Download" not in footer
        await pilot.press("x")
        await pilot.pause()
        from ftmllm_tui.ui.screens.confirm import ConfirmScreen

        assert not isinstance(app.screen, ConfirmScreen)


async def test_the_editors_model_picker_reads_the_cache_runs_use(env, tmp_path, monkeypatch):
    """[runs.env] HUGGINGFACE_HUB_CACHE (not the shell's): F2 on model_name_or_path lists that cache."""
    from ftmllm_tui.settings import Settings
    from ftmllm_tui.ui.screens.pick import PickScreen

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-shell-cache"))
    cfg = tmp_path / "sft.yaml"
    cfg.write_text("model_name_or_path: x\nstage: sft\n")
    app = make_app(FakeClock(), settings=Settings(env=(("HF_HUB_CACHE", str(env)),)))
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_editor(cfg)
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None)
        app.screen.query_one("YamlEditor").move_cursor((0, 20))
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.found is not None)
        assert "org1/model-001" in {c.value for c in app.screen.found.choices}
        app.action_models()
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None and app.screen.rows)
        assert app.screen.report.caches[0].source == "[runs.env] HF_HUB_CACHE"
