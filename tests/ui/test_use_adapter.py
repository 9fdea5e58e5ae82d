"""u on a run with a saved adapter: chat with it or export it, from a config written from the run's."""

from __future__ import annotations

import time

import yaml
from textual.widgets import Input, Select

from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.ui.screens.launch import LaunchScreen
from ftmllm_tui.ui.screens.pick import PickScreen
from ftmllm_tui.ui.screens.runs import RunsScreen, RunsTable

from .conftest import make_app, screen_text, until


async def test_u_offers_export_with_the_saved_adapter(tmp_path, clock):
    cfgdir = tmp_path / "cfg"
    cfgdir.mkdir()
    adapter = tmp_path / "saves" / "sft"
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        reg = app.ctx.registry
        rec = RunRecord(id="20261204-120000-sft-saved-0001", name="sft-saved", kind="train",
                        config=str(cfgdir / "sft.yaml"), argv=("x",), env=(), tmux_session="nosuch",
                        created_at=time.time() - 60, stop_requested_at=time.time() - 30, gpus=(0, 1),
                        saved_adapter=str(adapter), saved_step=1110)
        reg.create(rec, "model_name_or_path: /models/qwen\ntemplate: qwen2_vl\nfinetuning_type: lora\n"
                        "quantization_bit: 4\nstage: sft\n")
        (reg.dir(rec.id) / "exit_code").write_text("0\n")
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count)
        app.screen.query_one(RunsTable).move_cursor_to_key(rec.id)
        await pilot.pause()
        assert any("stopped saved" in row for row in screen_text(app))
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.found is not None)
        await pilot.press(*"export", "enter")
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.pause()
        path = app.screen.query_one("#config", Input).value
        assert path == str(cfgdir / "sft-saved_export.yaml")
        assert app.screen.query_one("#kind", Select).value == "export"
        assert app.screen.query_one("#gpus-in", Input).value == "0,1"
        cfg = yaml.safe_load(open(path))
        assert cfg["adapter_name_or_path"] == str(adapter) and cfg["export_dir"] == str(adapter) + "-merged"
        assert "quantization_bit" not in cfg and cfg["template"] == "qwen2_vl"
