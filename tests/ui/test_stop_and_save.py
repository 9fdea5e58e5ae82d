"""Stop and save in the dialog: the real sequence in words, the saved adapter, and the next steps
(a chat / export config written from the run's, the launch dialog opened on it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import yaml
from textual.widgets import Button, Input, Select

from ftmllm_tui.core.runs import kill
from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.ui.screens.launch import LaunchScreen
from ftmllm_tui.ui.screens.stop import StopScreen

from .conftest import make_app, until

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
from standin.helpers import TREE  # noqa: E402


async def test_stop_and_save_says_what_happened_and_offers_chat_and_export(tmp_path, clock, monkeypatch):
    real_role = kill.role_of
    monkeypatch.setattr(kill, "role_of", lambda p, runner: "worker" if "worker" in p.cmdline[:3]
                        else real_role(p, runner))
    rid = f"20261204-120000-save-{uuid.uuid4().hex[:4]}"
    out, ready, cfgdir = tmp_path / "out", tmp_path / "ready", tmp_path / "cfg"
    cfgdir.mkdir()
    app = make_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        reg = app.ctx.registry
        rec = RunRecord(id=rid, name="sft-save", kind="train", config=str(cfgdir / "sft.yaml"), cwd=str(tmp_path),
                        output_dir=str(out), gpus=None,
                        argv=(sys.executable, str(TREE), "launcher", "--workers", "1", "--ready", str(ready),
                              "--save-dir", str(out)), env=(("FTMLLM_RUN_ID", rid),))
        reg.create(rec, "model_name_or_path: /models/tiny\ntemplate: qwen\nfinetuning_type: lora\n"
                        "stage: sft\ndo_train: true\noutput_dir: out\n")
        runner = subprocess.Popen([sys.executable, "-m", "ftmllm_tui.core.runs.runner", str(reg.dir(rid))],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, FTMLLM_RUN_ID=rid), start_new_session=True)
        try:
            end = time.monotonic() + 20
            while not ready.exists() and time.monotonic() < end:
                time.sleep(0.05)
            await pilot.pause()
            scr = StopScreen(rec)
            app.push_screen(scr)
            await until(pilot, lambda: app.screen is scr and scr.plan is not None)
            await pilot.pause()
            scr.query_one("#save", Button).press()
            await until(pilot, lambda: scr.report is not None, timeout=30)
            await pilot.pause()
            progress = str(scr.query_one("#progress").render())
            assert "SIGABRT → saved at step " in progress and "→ exited 0 in" in progress, progress
            assert "already gone" not in str(scr.query_one("#targets").render())
            assert reg.load(rid).saved_adapter == str(out)
            scr.query_one("#next-chat", Button).press()
            await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
            await pilot.pause()
            path = app.screen.query_one("#config", Input).value
            assert path == str(cfgdir / "sft-save_chat.yaml")
            assert app.screen.query_one("#kind", Select).value == "webchat"
            cfg = yaml.safe_load(open(path))
            assert cfg["adapter_name_or_path"] == str(out) and cfg["model_name_or_path"] == "/models/tiny"
            assert cfg["template"] == "qwen" and "stage" not in cfg and "output_dir" not in cfg
        finally:
            runner.kill()
            runner.wait()
