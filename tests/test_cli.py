"""The scriptable contract: exit codes, one-line errors, JSON schema, record -> replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftmllm_tui.core.gpus.samplers import bundled_recording

DATA = Path(__file__).parent / "data"


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", *args], capture_output=True,
                          text=True, timeout=60, **kw)


def has_nvml() -> bool:
    from ftmllm_tui.core.gpus.nvml import NvmlReader, NvmlUnavailable

    try:
        NvmlReader().close()
        return True
    except NvmlUnavailable:
        return False


def test_version():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("ftmllm-tui ")


def test_snapshot_json_schema_from_replay():
    r = cli("snapshot", "--json", "--replay", str(bundled_recording()))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == 1 and doc["source"] == "replay"
    g = doc["gpus"][0]
    for key in ("index", "name", "uuid", "utilization_pct", "memory_used_bytes", "memory_total_bytes",
                "temperature_c", "power_w", "error"):
        assert key in g
    assert g["memory_used_bytes"] == 13323665408 and g["error"] is None
    procs = {p["pid"]: p for p in doc["processes"]}
    assert procs[586]["user"] == "alice" and procs[586]["gpu_memory_bytes"] == 3969908736
    for key in ("pid", "user", "gpu_memory_bytes", "command", "run"):
        assert key in procs[662]
    assert procs[662]["run"] is None
    assert set(doc["host"] or {}) in (set(), {"hostname", "cpu_pct", "cpu_count", "mem_used_bytes",
                                              "mem_total_bytes", "load", "uptime_s"})


def test_snapshot_text_marks_replay_and_errors():
    r = cli("snapshot", "--replay", str(DATA / "h200x8_synth.jsonl"))
    assert r.returncode == 0
    assert r.stdout.startswith("REPLAY")
    assert "GpuIsLost" in r.stdout and "free 4 4,5,6,7" in r.stdout


@pytest.mark.skipif(has_nvml(), reason="this machine has NVML")
def test_snapshot_without_nvml_exits_2_with_a_hint():
    r = cli("snapshot")
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--replay" in lines[0] and "driver" in lines[0]


def test_bad_replay_file_exits_2(tmp_path):
    r = cli("snapshot", "--replay", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "bad.jsonl").write_text("{half")
    r = cli("snapshot", "--replay", str(tmp_path / "bad.jsonl"))
    assert r.returncode == 2 and "no sweeps" in r.stderr


def test_record_from_replay_round_trips(tmp_path):
    out = tmp_path / "rec.jsonl"
    r = cli("--replay", str(bundled_recording()), "record", str(out), "--seconds", "0.5",
            "--interval", "0.1")
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert "meta" in json.loads(lines[0]) and len(lines) >= 5
    r = cli("snapshot", "--json", "--replay", str(out))
    assert r.returncode == 0 and json.loads(r.stdout)["gpus"][0]["name"] == "NVIDIA H200"


@pytest.mark.skipif(has_nvml(), reason="this machine has NVML")
def test_record_without_nvml_exits_2():
    r = cli("record", "x.jsonl", "--seconds", "1")
    assert r.returncode == 2 and "NVML" in r.stderr


def test_free_gpu_rule_comes_from_settings(tmp_path):
    import os

    cfg = tmp_path / "ftmllm-tui"
    cfg.mkdir()
    (cfg / "config.toml").write_text("[gpus]\nfree_max_util_pct = -1\n")  # nothing is idle enough
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    r = cli("snapshot", "--json", "--replay", str(DATA / "h200x8_synth.jsonl"), env=env)
    assert r.returncode == 0 and [g["free"] for g in json.loads(r.stdout)["gpus"]] == [False] * 8
    r = cli("snapshot", "--json", "--replay", str(DATA / "h200x8_synth.jsonl"))
    assert [g["index"] for g in json.loads(r.stdout)["gpus"] if g["free"]] == [4, 5, 6, 7]


# --- TUI options: flags over settings, and what FtmApp is started with ------------------------

def ui_options(argv, settings=None, environ=None, encoding="utf-8"):
    from ftmllm_tui.cli import build_parser, resolve_ui_options
    from ftmllm_tui.settings import Settings

    return resolve_ui_options(build_parser().parse_args(argv), settings or Settings(),
                              {"LANG": "en_US.UTF-8"} if environ is None else environ, encoding)


def test_ui_options_default_from_settings():
    from ftmllm_tui.cli import UiOptions
    from ftmllm_tui.settings import Settings

    assert ui_options([]) == UiOptions(theme="dark", ascii_mode=False, mouse=True, colors="auto")
    s = Settings(theme="light", ascii="on", mouse=False, colors="16")
    assert ui_options([], s) == UiOptions(theme="light", ascii_mode=True, mouse=False, colors="16")


def test_ui_flags_override_settings():
    from ftmllm_tui.settings import Settings

    s = Settings(theme="light", ascii="on", mouse=False, colors="16")
    o = ui_options(["--theme", "high-contrast", "--no-ascii", "--mouse", "--colors", "truecolor"], s)
    assert (o.theme, o.ascii_mode, o.mouse, o.colors, o.color_system) == (
        "high-contrast", False, True, "truecolor", "truecolor")
    o = ui_options(["--ascii", "--no-mouse"], Settings(ascii="off"))
    assert o.ascii_mode is True and o.mouse is False
    assert ui_options(["edit", "x.yaml"], s).theme == "light"  # flags before a sub-command: edit too


def test_ui_ascii_auto_follows_the_locale():
    assert ui_options([], environ={"LANG": "C"}).ascii_mode is True
    assert ui_options([], environ={"LC_ALL": "en_GB.UTF-8", "LANG": "C"}).ascii_mode is False
    assert ui_options([], environ={}, encoding="ascii").ascii_mode is True
    assert ui_options(["--no-ascii"], environ={"LANG": "C"}).ascii_mode is False


@pytest.mark.parametrize("colors, want", [("auto", None), ("truecolor", "truecolor"), ("256", "256"),
                                          ("16", "standard")])
def test_colors_become_textual_color_system(colors, want):
    from ftmllm_tui.cli import apply_color_system

    o = ui_options(["--colors", colors])
    env = {"TEXTUAL_COLOR_SYSTEM": "mine"}
    apply_color_system(o, env)
    assert o.color_system == want and env["TEXTUAL_COLOR_SYSTEM"] == (want or "mine")


def test_tui_starts_the_app_with_the_resolved_options(monkeypatch):
    """cmd_tui with a stand-in FtmApp: the keyword arguments and run(mouse=...) it gets."""
    import ftmllm_tui.ui.app as app_module
    from ftmllm_tui.cli import main
    from ftmllm_tui.settings import config_file

    calls = {}

    class FakeApp:
        return_code = None

        def __init__(self, sampler, **kw):
            calls["init"] = kw

        def run(self, **kw):
            calls["run"] = kw

    monkeypatch.setattr(app_module, "FtmApp", FakeApp)
    monkeypatch.setattr("ftmllm_tui.cli.no_terminal", lambda: None)  # pytest's stdout is not a terminal
    monkeypatch.setenv("FTMLLM_SPLASH", "0")
    monkeypatch.setenv("LANG", "C")
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "")  # so that it is restored after the test...
    monkeypatch.delenv("TEXTUAL_COLOR_SYSTEM")  # ...and absent during it
    import textual.constants

    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", textual.constants.COLOR_SYSTEM)  # restored after
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text('[ui]\ntheme = "light"\nmouse = false\nascii = "off"\n')
    assert main(["--replay", str(bundled_recording()), "--interval", "2"]) == 0
    kw = calls["init"]
    assert kw["theme"] == "light" and kw["ascii_mode"] is False and calls["run"] == {"mouse": False}
    assert kw["settings"].refresh_interval == 2.0 and kw["settings"].theme == "light"
    assert "TEXTUAL_COLOR_SYSTEM" not in os.environ

    assert main(["--replay", str(bundled_recording()), "--theme", "high-contrast", "--ascii", "--mouse",
                 "--colors", "16"]) == 0
    assert (calls["init"]["theme"], calls["init"]["ascii_mode"], calls["run"]) == ("high-contrast", True,
                                                                                   {"mouse": True})
    assert os.environ["TEXTUAL_COLOR_SYSTEM"] == "standard" and textual.constants.COLOR_SYSTEM == "standard"


def test_tui_bad_theme_flag_exits_2(capsys):
    from ftmllm_tui.cli import main

    assert main(["--theme", ""]) == 2
    assert "--theme" in capsys.readouterr().err
