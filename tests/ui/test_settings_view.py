"""The settings view writes config.toml through settings_write (comments kept), checks every value
with the settings' own checks first, and applies what it saved."""

from __future__ import annotations

import tomllib

from textual.widgets import Input

from ftmllm_tui.settings import config_file, load_settings
from ftmllm_tui.ui.screens.settings_view import SettingsScreen

from .conftest import make_app, until

TOML = """\
# my settings: keep this comment
[runs]
# the lab's env
llamafactory_cli = "llamafactory-cli"  # default for now
stop_grace_s = 10.0

[ui]
theme = "dark"
"""


async def test_settings_view_checks_then_writes_comment_preserving(tmp_path, clock):
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TOML)
    app = make_app(clock)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("O")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen) and app.screen.query("#f-env"))
        scr = app.screen
        scr.query_one("#f-llamafactory_cli", Input).value = "conda run --no-capture-output -n lf llamafactory-cli"
        scr.query_one("#f-env", Input).value = "HUGGINGFACE_HUB_CACHE=/data/hf/hub NCCL_P2P_LEVEL=NVL"
        scr.query_one("#f-stop_grace_s", Input).value = "ten"
        scr.query_one("#f-lf_python", Input).value = "/opt/lf/bin/python"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "runs.stop_grace_s should be a number, got 'ten': nothing was saved" in \
            str(scr.query_one("#e-stop_grace_s").render())
        assert path.read_text() == TOML  # nothing written while one field is bad
        scr.query_one("#f-stop_grace_s", Input).value = "-1"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "should be 0 or more" in str(scr.query_one("#e-stop_grace_s").render())
        scr.query_one("#f-stop_grace_s", Input).value = "45"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "45" in path.read_text() and "lf_python" in path.read_text())
        text = path.read_text()
        assert "# my settings: keep this comment" in text and "# the lab's env" in text
        assert 'theme = "dark"' in text
        doc = tomllib.loads(text)
        assert doc["runs"]["llamafactory_cli"] == "conda run --no-capture-output -n lf llamafactory-cli"
        assert doc["runs"]["env"] == {"HUGGINGFACE_HUB_CACHE": "/data/hf/hub", "NCCL_P2P_LEVEL": "NVL"}
        assert doc["configs"]["lf_python"] == "/opt/lf/bin/python"
        s = load_settings()
        assert s.stop_grace_s == 45.0
        # applied at once: the next stop, run and deep check use them
        assert app.ctx.settings.stop_grace_s == 45.0 and app.ctx.settings.lf_python == "/opt/lf/bin/python"
        assert app.ctx.llamafactory_cli.startswith("conda run")
        assert dict(app.ctx.settings.env)["NCCL_P2P_LEVEL"] == "NVL"
