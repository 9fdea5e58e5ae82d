"""Export to ollama, from a real LLaMA-Factory export of the tiny model (.venv-lf): the Modelfile it writes, num_ctx
from the run's cutoff_len, the `ollama create` command line, the job in tmux, and clear messages when ollama is
missing or its server is down. Against a real `ollama` only when one is on PATH (skipped with the reason)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ftmllm_tui.core.models import ollama as ol

from .conftest import cli

ROOT = Path(__file__).resolve().parents[2]
LF_BIN = ROOT / ".venv-lf" / "bin"
BUILD = ROOT / "tests" / "lf" / "build_tiny.py"

needs_lf = pytest.mark.skipif(not (LF_BIN / "llamafactory-cli").exists(),
                              reason="the LLaMA-Factory test environment .venv-lf is missing: run `make lf-env`")


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A real `llamafactory-cli export` of the tiny Qwen2 model (~15 s on 2 CPUs)."""
    if not (LF_BIN / "llamafactory-cli").exists():
        pytest.skip("the LLaMA-Factory test environment .venv-lf is missing: run `make lf-env`")
    ws = tmp_path_factory.mktemp("lf")
    r = subprocess.run([str(LF_BIN / "python"), str(BUILD), str(ws / "tiny"), "--epochs", "1"], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = ws / "export.yaml"
    out = ws / "export"
    cfg.write_text(f"model_name_or_path: {ws / 'tiny' / 'model'}\ntemplate: qwen\nexport_dir: {out}\n"
                   "export_size: 1\nexport_device: cpu\nexport_legacy_format: false\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATH=f"{LF_BIN}:{os.environ['PATH']}", TMPDIR=str(ws))
    r = subprocess.run([str(LF_BIN / "llamafactory-cli"), "export", str(cfg)], capture_output=True, text=True,
                       timeout=300, env=env, cwd=ws)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "Modelfile").is_file()
    return out


def without_ollama_path() -> str:
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not (Path(p) / "ollama").exists())


def test_the_modelfile_of_a_real_export_and_the_create_command(export, tmp_path):
    text = ol.read_modelfile(export)
    assert ol.num_ctx(text) == 4096 and "FROM ." in text  # what LLaMA-Factory 0.9.5 writes
    fixed = ol.with_absolute_from(ol.with_num_ctx(text, 64), export)
    assert ol.num_ctx(fixed) == 64 and f"FROM {export.resolve()}" in fixed
    assert fixed.count("num_ctx") == 1 and 'PARAMETER stop "<|im_end|>"' in fixed  # the rest untouched
    mf = tmp_path / "Modelfile"
    mf.write_text(fixed)
    assert ol.create_argv("tiny-qwen:latest", mf) == ["ollama", "create", "tiny-qwen:latest", "-f", str(mf)]
    # ollama's refusal for an architecture it cannot convert, named from the export's config.json
    why = ol.explain("Error: unsupported architecture \"Qwen2ForCausalLM\"", export)
    assert "Qwen2ForCausalLM" in why and "GGUF" in why
    assert ol.check_name("Tiny Qwen") and ol.check_name("tiny-qwen:latest") is None


def test_missing_ollama_and_a_server_that_is_down(tmp_path):
    st = ol.status({"PATH": without_ollama_path()})
    assert st.state == "missing" and "ollama is not installed" in st.message and "ollama serve" in st.message
    # a program named ollama on PATH, nothing listening on OLLAMA_HOST: "not running", with how to start it
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ollama").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "ollama").chmod(0o755)
    st = ol.status({"PATH": str(bin_dir), "OLLAMA_HOST": "127.0.0.1:9"})
    assert st.state == "down" and "not running at http://127.0.0.1:9" in st.message and "ollama serve" in st.message


def test_create_as_a_job_says_what_is_missing(export, tmux_env, tmp_path):
    """Without ollama here the job runs, fails, and its log says what to do (with ollama: see the next test)."""
    if shutil.which("ollama"):
        pytest.skip("ollama is installed here: the real create is tested below")
    from ftmllm_tui.context import RunContext
    from ftmllm_tui.settings import Settings

    ctx = RunContext.create(Settings())
    rec = ol.start_create(export, ol.with_num_ctx(ol.read_modelfile(export), 64), "tiny-qwen:latest",
                          ctx.registry, ctx.tmux)
    run_dir = ctx.registry.dir(rec.id)
    end = time.monotonic() + 20
    while not (run_dir / "exit_code").exists() and time.monotonic() < end:
        time.sleep(0.1)
    assert (run_dir / "exit_code").read_text().strip() == "2"
    assert "ollama is not installed here" in (run_dir / "console.log").read_text()
    frozen = (run_dir / "config.yaml").read_text()  # the Modelfile the job used: num_ctx 64, FROM absolute
    assert "PARAMETER num_ctx 64" in frozen and f"FROM {export.resolve()}" in frozen
    assert not (export / "Modelfile").read_text().count("num_ctx 64")  # the export folder is not written to
    x = {r["id"]: r for r in json.loads(cli(tmux_env, "runs", "--json").stdout)}[rec.id]
    assert x["kind"] == "ollama" and x["state"] == "failed"


@pytest.mark.skipif(shutil.which("ollama") is None, reason="ollama is not installed on this machine")
def test_real_ollama_create_and_list(export, tmux_env):
    st = ol.status()
    if not st.ok:
        pytest.skip(st.message)
    from ftmllm_tui.context import RunContext
    from ftmllm_tui.settings import Settings

    ctx = RunContext.create(Settings())
    name = f"ftmllm-test-{os.getpid()}:latest"
    rec = ol.start_create(export, ol.read_modelfile(export), name, ctx.registry, ctx.tmux, then_run=True)
    run_dir = ctx.registry.dir(rec.id)
    end = time.monotonic() + 300
    while not (run_dir / "exit_code").exists() and time.monotonic() < end:
        time.sleep(0.5)
    log = (run_dir / "console.log").read_text()
    try:
        if "unsupported architecture" in log.lower():
            assert "GGUF" in log  # the clear message
            return
        assert (run_dir / "exit_code").read_text().strip() == "0", log
        assert name.split(":")[0] in subprocess.run(["ollama", "list"], capture_output=True, text=True).stdout
        assert "is open in the window 'ollama-run'" in log
    finally:
        subprocess.run(["ollama", "rm", name], capture_output=True)


async def test_o_in_the_models_view_shows_the_modelfile_with_num_ctx_from_cutoff_len(export, tmux_env, tmp_path,
                                                                                       monkeypatch):
    from tests.conftest import FakeClock
    from tests.ui.conftest import make_app, until

    from ftmllm_tui.core.runs.registry import Registry, RunRecord
    from ftmllm_tui.ui.screens.models import ModelsScreen
    from ftmllm_tui.ui.screens.ollama import OllamaScreen

    monkeypatch.setenv("PATH", without_ollama_path())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "nohub"))
    reg = Registry(Path(tmux_env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs")
    reg.create(RunRecord(id="t1", name="sft", kind="train", config="s.yaml", argv=(), env=(), cwd=str(tmp_path),
                         output_dir=str(tmp_path / "saves" / "sft")),
               f"output_dir: {tmp_path / 'saves' / 'sft'}\ncutoff_len: 96\n")
    reg.create(RunRecord(id="e1", name="export", kind="export", config="e.yaml", argv=(), env=(), cwd=str(tmp_path)),
               f"adapter_name_or_path: {tmp_path / 'saves' / 'sft'}\nexport_dir: {export}\n")
    app = make_app(FakeClock())
    async with app.run_test(size=(120, 36)) as pilot:
        app.action_models()
        await until(pilot, lambda: isinstance(app.screen, ModelsScreen) and app.screen.report is not None)
        screen = app.screen
        row = next(i for i, r in enumerate(screen.rows) if r.local is not None and r.local.kind == "export")
        screen.query_one("DataTable").move_cursor(row=row)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, OllamaScreen))
        dlg = app.screen
        assert app.focused.id == "cancel"
        assert dlg.query_one("#onumctx").value == "96"  # the training run's cutoff_len, not LLaMA-Factory's 4096
        assert "FROM ." in dlg.query_one("#mf").text
        await until(pilot, lambda: dlg.ollama is not None)
        assert dlg.ollama.state == "missing"
        assert "PARAMETER num_ctx 96" in dlg.modelfile()
        await pilot.click("#create")
        await pilot.pause()
        assert isinstance(app.screen, OllamaScreen)  # refused: not installed, said in the dialog
        assert "ollama is not installed" in str(dlg.query_one("#ostatus").render())
