"""F2 on model_name_or_path: where it looked is said when nothing is found, and a typed path + Enter is
taken as the value."""

from __future__ import annotations

from ftmllm_tui.ui.screens.pick import PickScreen

from .conftest import until
from .test_editor import app_for, editor, env  # noqa: F401 (fixture)


async def test_empty_model_picker_says_where_it_looked_and_takes_a_typed_path(env, monkeypatch):  # noqa: F811
    tmp, cfg = env
    monkeypatch.setenv("HF_HOME", str(tmp / "no-hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp / "home"))
    app = app_for(cfg)
    async with app.run_test(size=(130, 40)) as pilot:
        scr = await editor(app, pilot)
        ed = scr.query_one("#ed")
        row = next(i for i in range(ed.document.line_count) if ed.document.get_line(i).startswith("model_name"))
        ed.move_cursor((row, 0))
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen.found is not None)
        await pilot.pause()
        status = str(app.screen.query_one("#status").render())
        assert "0 of 0" in status
        assert str(tmp / "models") in status and str(tmp / "home" / "models") in status, status
        assert "looked in" in status and "no Hugging Face cache at" in status
        await pilot.press(*"/data/models/my-qwen")
        await until(pilot, lambda: "Enter uses" in str(app.screen.query_one("#status").render()))
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, PickScreen))
        assert ed.document.get_line(row).startswith("model_name_or_path: /data/models/my-qwen")
