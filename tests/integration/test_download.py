"""Downloads as jobs: the real huggingface_hub client in a real tmux session, against a local HTTP server that
answers the Hub API paths (no network here). Interrupted with the safe stop, resumed, then 'already in the cache';
a disk too small is refused before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import cli

sys.path.insert(0, str(Path(__file__).parents[1]))
from hubserver import Hub  # noqa: E402


@pytest.fixture
def hub():
    h = Hub().start()
    yield h
    h.stop()


def runs(env) -> dict:
    r = cli(env, "runs", "--json")
    assert r.returncode == 0, r.stderr
    return {x["id"]: x for x in json.loads(r.stdout)}


def until(cond, timeout=30.0, what=""):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"not reached in {timeout} s: {what}")


def test_download_job_progress_stop_resume_and_already_cached(tmux_env, hub, tmp_path):
    weights = {f"model-0000{i}-of-00003.safetensors": os.urandom(1 << 20) for i in (1, 2, 3)}
    files = {"config.json": b'{"architectures": ["Qwen2ForCausalLM"]}', **weights}
    sha = hub.add("Qwen/Tiny-VL", files)
    hub.delay = 0.02  # the first weight file comes in ~0.3 s, the two others take ~5 s
    hub.slow = {n: 0.3 for n in list(weights)[1:]}
    cache = tmp_path / "hub"
    env = dict(tmux_env, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(cache), HF_TOKEN="hf_not_on_disk_123",
               HF_HUB_DISABLE_TELEMETRY="1")
    r = cli(env, "download", "Qwen/Tiny-VL")
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    assert "4 files" in r.stdout and "HF_TOKEN" in r.stdout
    # progress in `runs --json`: files and bytes
    x = until(lambda: (v := runs(env).get(run_id)) and v["progress"] and v["progress"]["bytes_done"] and v,
              what="progress")
    assert x["kind"] == "download" and x["progress"]["bytes_total"] == sum(map(len, files.values()))
    assert x["progress"]["total"] == 4
    # and in the Runs view: files, bytes, rate and ETA under the table
    from ftmllm_tui.core.runs.runctl import collect
    from ftmllm_tui.core.runs.registry import Registry

    views, _ = collect(Registry(Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs"), None)
    p = next(v.progress for v in views if v.status.record.id == run_id)
    assert p.total == 4 and p.bytes_total == x["progress"]["bytes_total"] and p.percentage is not None
    # interrupt after at least one weight file is in, before all are: the run's safe stop
    snap = cache / "models--Qwen--Tiny-VL" / "snapshots" / sha
    until(lambda: any((snap / n).exists() for n in weights), what="a first file")
    r = cli(env, "stop", run_id, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert runs(env)[run_id]["state"] == "stopped"
    first = {n for n in weights if (snap / n).exists()}
    log = (Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id / "console.log").read_text()
    assert first and len(first) < 3, (first, log, r.stdout)
    assert "interrupted; finished files stay in the cache" in log
    assert not [p for p in (cache / "models--Qwen--Tiny-VL" / "blobs").iterdir() if p.name.endswith(".incomplete")]
    # the token reached the server, and no file of the state dir holds it
    for p in Path(env["XDG_STATE_HOME"]).rglob("*"):
        if p.is_file():
            assert b"hf_not_on_disk_123" not in p.read_bytes(), p
    assert any(a == "Bearer hf_not_on_disk_123" for a in hub.auth)
    # resume: only the missing files are fetched again
    hub.delay, hub.slow = 0.0, {}
    before = len(hub.requests)
    r = cli(env, "download", "Qwen/Tiny-VL")
    assert r.returncode == 0, r.stderr
    assert f"{len(first) + 1} already in the cache" in r.stdout or f"{len(first)} already in the cache" in r.stdout
    run2 = r.stdout.strip().splitlines()[-1]
    x = until(lambda: (v := runs(env).get(run2)) and v["state"] in ("finished", "failed") and v, what="finished")
    assert x["state"] == "finished" and x["progress"]["bytes_done"] == x["progress"]["bytes_total"]
    fetched = {p.rsplit("/", 1)[-1] for m, p in hub.requests[before:] if m == "GET" and "/resolve/" in p}
    assert fetched and not fetched & first, (fetched, first)
    for n, data in files.items():
        assert (snap / n).read_bytes() == data
    # the third time: already in the cache, no job
    r = cli(env, "download", "Qwen/Tiny-VL", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["already_cached"] and out["run_id"] is None and out["snapshot"] == str(snap)


def test_unknown_repo_and_no_hub(tmux_env, hub, tmp_path):
    env = dict(tmux_env, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hub"))
    r = cli(env, "download", "nobody/nothing", "--json")
    assert r.returncode == 2 and "nobody/nothing is not on" in json.loads(r.stdout)["error"]
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens there
    r = cli(env, "download", "Qwen/Tiny-VL")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot reach" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_is_refused_before_starting(tmux_env, hub, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        hub.add("Qwen/Big", {"model.safetensors": b"\0" * (3 << 20)})
        env = dict(tmux_env, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(small / "hub"))
        r = cli(env, "download", "Qwen/Big")
        assert r.returncode == 1
        assert "needs 3.1 MB but only" in r.stderr and "free" in r.stderr
        assert not any(m == "GET" and "/resolve/" in p for m, p in hub.requests)
        assert not [x for x in runs(env).values() if x["kind"] == "download"]  # (other people's runs: external)
    finally:
        subprocess.run(["umount", str(small)])


async def test_d_in_the_models_view_plans_asks_and_starts_the_job(tmux_env, hub, tmp_path, monkeypatch):
    from tests.conftest import FakeClock
    from tests.ui.conftest import make_app, screen_text, until as ui_until

    from ftmllm_tui.ui.screens.confirm import ConfirmScreen

    sha = hub.add("Qwen/Tiny-VL", {"config.json": b"{}", "model.safetensors": b"\1" * 300_000})
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    app = make_app(FakeClock())
    async with app.run_test(size=(120, 30)) as pilot:
        app.action_models()
        await ui_until(pilot, lambda: getattr(app.screen, "report", None) is not None)
        await pilot.press("d", *"Qwen/Tiny-VL", "enter")
        await ui_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = "\n".join(screen_text(app))
        assert "Download Qwen/Tiny-VL?" in text and "2 files, 300 KB" in text and app.focused.id == "cancel"
        await pilot.press("tab", "enter")
        snap = tmp_path / "hub" / "models--Qwen--Tiny-VL" / "snapshots" / sha / "model.safetensors"
        await ui_until(pilot, lambda: snap.exists(), timeout=30)
    x = until(lambda: [v for v in runs(tmux_env).values() if v["kind"] == "download" and v["state"] == "finished"],
              what="the job finished")
    assert x[0]["progress"]["total"] == 2


async def test_R_on_a_stopped_download_in_runs_resumes_it(tmux_env, hub, tmp_path, monkeypatch):
    from tests.conftest import FakeClock
    from tests.ui.conftest import make_app, screen_text, until as ui_until

    from ftmllm_tui.ui.screens.confirm import ConfirmScreen
    from ftmllm_tui.ui.screens.runs import RunsScreen

    files = {"config.json": b"{}", "a.safetensors": b"\2" * 200_000, "b.safetensors": b"\3" * 200_000}
    sha = hub.add("Qwen/Tiny-VL", files)
    hub.slow = {"b.safetensors": 2.0}  # never finishes before the stop
    env = dict(tmux_env, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hub"))
    run_id = cli(env, "download", "Qwen/Tiny-VL").stdout.strip().splitlines()[-1]
    snap = tmp_path / "hub" / "models--Qwen--Tiny-VL" / "snapshots" / sha
    until(lambda: (snap / "a.safetensors").exists(), what="a first file")
    assert cli(env, "stop", run_id, "--yes").returncode == 0
    hub.slow = {}
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    app = make_app(FakeClock())
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_runs()
        await ui_until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.views)
        await pilot.pause()
        text = "\n".join(screen_text(app))
        assert "download" in text and "/3 files · " in text and " of 400 KB" in text  # under the table
        await pilot.press("R")
        await ui_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "2 already in the cache, 200 KB to fetch" in " ".join(str(w.render()) for w in app.screen.query("Static"))
        await pilot.press("tab", "enter")
        await ui_until(pilot, lambda: (snap / "b.safetensors").exists(), timeout=30)
    assert (snap / "b.safetensors").read_bytes() == files["b.safetensors"]


def test_runs_env_decides_the_cache_and_the_mirror(tmux_env, hub, tmp_path):
    """[runs.env] HUGGINGFACE_HUB_CACHE / HF_ENDPOINT (how the team configures runs): downloads go where runs look."""
    hub.add("Qwen/Tiny-VL", {"config.json": b"{}"})
    settings = Path(tmux_env["XDG_CONFIG_HOME"]) / "ftmllm-tui" / "config.toml"
    settings.write_text(settings.read_text() + f'\n[runs.env]\nHUGGINGFACE_HUB_CACHE = "{tmp_path / "shared"}"\n'
                        f'HF_ENDPOINT = "{hub.url}"\n')
    env = {k: v for k, v in tmux_env.items() if k not in ("HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")}
    r = cli(env, "download", "Qwen/Tiny-VL", "--dry-run", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert out["cache_dir"] == str(tmp_path / "shared") and out["endpoint"] == hub.url and out["run_id"] is None
