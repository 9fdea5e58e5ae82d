"""The scriptable contract: exit codes, one-line errors, JSON schema, record -> replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftmllm_tui.core.samplers import bundled_recording

DATA = Path(__file__).parent / "data"


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", *args], capture_output=True,
                          text=True, timeout=60, **kw)


def has_nvml() -> bool:
    from ftmllm_tui.core.nvml import NvmlReader, NvmlUnavailable

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
