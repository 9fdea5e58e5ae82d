"""The CLI and bad input: a closed pipe ends any command quietly; a state folder that is a file is one line
naming it (every command that uses it); --json failures are a JSON object; no TUI without a terminal; `logs -f`
of a run ends once the run has ended and its log stopped growing; ambiguous run references list the matches;
--set keys and a config given to the wrong sub-command are reported as such. Real processes, real tmux."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ftmllm_tui.core.runs.registry import Registry, RunRecord

from .conftest import ROOT, cli
from .test_runs import wait_state


def _records(state: Path, n: int, prefix: str = "20261204-1451") -> list[str]:
    reg = Registry(state / "ftmllm-tui" / "runs")
    ids = []
    for i in range(n):
        rid = f"{prefix}{i:04d}-run{i}"
        reg.create(RunRecord(id=rid, name=f"run{i}", kind="train", config="/x.yaml", argv=("llamafactory-cli",),
                             env=(), created_at=1.0 + i, tmux_session=f"ftm-{rid}", output_dir=f"/o/{i}"), "a: 1\n")
        (reg.dir(rid) / "exit_code").write_text("0\n")
        ids.append(rid)
    return ids


def test_a_closed_pipe_ends_quietly(tmux_env, tmp_path):
    _records(Path(tmux_env["XDG_STATE_HOME"]), 400)  # JSON far larger than a pipe holds
    big = tmp_path / "big.log"
    big.write_text("".join(f"line {i} of a long console log\n" for i in range(50_000)))
    for args in (("runs", "--json"), ("logs", str(big), "-n", "50000")):
        p = subprocess.Popen([sys.executable, "-m", "ftmllm_tui.cli", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=tmux_env)
        assert p.stdout.readline()
        p.stdout.close()  # what `| head -1` does
        err = p.stderr.read().decode()
        assert p.wait(timeout=60) == 141, err
        assert err == "", err  # no BrokenPipeError traceback, no "Exception ignored"


def test_a_state_folder_that_is_a_file_is_one_line_naming_it(tmux_env, tmp_path):
    bad = tmp_path / "not-a-folder"
    bad.write_text("")
    env = dict(tmux_env, XDG_STATE_HOME=str(bad))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"stage": "sft", "do_train": True, "output_dir": str(tmp_path / "o")}))
    for args in (("runs",), ("launch", str(cfg), "--gpus", "none"), ("stop", "x", "--yes"), ("logs", "x"),
                 ("plot", "x"), ("edit", str(cfg)), ("--open", "x")):
        r = cli(env, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and f"{bad} is a file, not a folder" in lines[0], (args, r.stderr)
        assert "no runs yet" not in r.stdout and "Traceback" not in r.stderr
    r = cli(env, "runs", "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["error"].endswith("(set XDG_STATE_HOME to a folder you can "
                                                                        "write to)")


def test_json_commands_print_a_json_error_object(tmux_env, tmp_path):
    r = cli(tmux_env, "validate", "--json", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["exit_code"] == 2 and "does not exist" in out["error"]
    assert "does not exist" in r.stderr  # the one line for people stays
    r = cli(tmux_env, "snapshot", "--json", "--replay", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 2 and json.loads(r.stdout)["ok"] is False


def test_no_tui_without_a_terminal(tmux_env):
    r = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "--open", "nosuchrun"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=tmux_env, timeout=30, check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "needs a terminal" in r.stderr


def test_logs_follow_ends_when_the_run_has_ended(tmux_env, tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text(yaml.safe_dump({"stage": "sft", "do_train": True, "output_dir": str(tmp_path / "o"),
                                   "steps": 2, "sleep": 2}))
    r = cli(tmux_env, "launch", str(cfg), "--gpus", "none", "--name", "follow")
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    t0 = time.monotonic()
    r = cli(tmux_env, "logs", run_id, "-f", timeout=40)  # started while it runs: ends after it ended
    assert r.returncode == 0, r.stderr
    assert "fake llamafactory-cli train" in r.stdout and "the run has ended (finished, exit 0)" in r.stderr
    assert time.monotonic() - t0 < 30
    wait_state(tmux_env, run_id, {"finished"})
    r = cli(tmux_env, "logs", run_id, "-f", timeout=20)  # an ended run: prints it and ends
    assert r.returncode == 0 and "fake llamafactory-cli train" in r.stdout


def test_an_ambiguous_run_lists_the_matches_without_stray_quotes(tmux_env, tmp_path):
    ids = _records(Path(tmux_env["XDG_STATE_HOME"]), 2)
    for args in (("logs", "20261204-1451"), ("stop", "20261204-1451", "--yes")):
        r = cli(tmux_env, *args)
        assert r.returncode == 2
        line = r.stderr.strip()
        assert line == f"ftmllm-tui: 20261204-1451 matches 2 runs: {ids[1]}, {ids[0]} — give more of the id", line
    r = cli(tmux_env, "logs", "nosuch")
    assert r.stderr.strip() == ("ftmllm-tui: 'nosuch' is neither a file, a directory nor a run (no run id, id "
                                "prefix or name matches it; see `ftmllm-tui runs`)")


def test_set_keys_and_a_train_config_for_chat_are_reported_as_such(tmux_env, tmp_path):
    env = dict(tmux_env, XDG_CONFIG_HOME=str(tmp_path / "cfghome"))  # default settings: the offline check is on
    sft = ROOT / "configs" / "qwen2.5vl_lora_sft.yaml"
    n_lines = len(sft.read_text().splitlines())
    r = cli(env, "launch", str(sft), "--gpus", "none", "--dry-run", "--set", "lerning_rate=1",
            "--set", f"output_dir={tmp_path / 'fresh'}")
    assert r.returncode == 1
    bad = [line for line in r.stderr.splitlines() if "lerning_rate" in line]
    assert len(bad) == 1 and bad[0].startswith("error: lerning_rate=1 (from --set / Set, not the file): unknown key")
    assert f"line {n_lines + 1}" not in r.stderr
    r = cli(env, "launch", str(sft), "--kind", "chat", "--gpus", "none", "--dry-run")
    assert r.returncode == 1
    wrong = [line for line in r.stderr.splitlines() if "does not take" in line]
    assert len(wrong) == 1, r.stderr
    assert " keys are training arguments that `chat` does not take: do_train, " in wrong[0]
    assert "--kind train" in wrong[0]
