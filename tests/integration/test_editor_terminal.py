"""The editor in a real terminal (tmux, private socket): ctrl+s saves for real (no XON/XOFF swallowing it),
and ctrl+o suspends the TUI for $EDITOR and reloads what it wrote — neither can be seen headless."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def tmux(sock, *args):
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True)


def screen(sock) -> str:
    return tmux(sock, "capture-pane", "-p", "-t", "ed").stdout


def wait(sock, cond, timeout=20.0) -> str:
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = screen(sock)
        if cond(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"not on screen in time:\n{text}")


@pytest.fixture
def term(tmp_path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required (make test installs it)")
    sock = f"ftmed-{uuid.uuid4().hex[:8]}"
    yield sock
    tmux(sock, "kill-server")


def test_save_and_external_editor_in_a_real_terminal(term, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("stage: sft\ndo_train: true\ndataset: demo\ntemplate: qwen\noutput_dir: out\n")
    fake_editor = tmp_path / "fake-editor"
    fake_editor.write_text("#!/bin/sh\nprintf 'learning_rate: 2.0e-5\\n' >> \"$1\"\n")
    fake_editor.chmod(0o755)
    env = dict(os.environ, EDITOR=str(fake_editor), VISUAL="", XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=str(ROOT), TERM="xterm-256color",
               FTMLLM_LLAMAFACTORY_CLI=str(tmp_path / "none"))
    env.pop("TMUX", None)
    cmd = f"cd {tmp_path} && {sys.executable} -m ftmllm_tui.cli edit run.yaml"
    subprocess.run(["tmux", "-L", term, "-f", "/dev/null", "new-session", "-d", "-s", "ed", "-x", "110", "-y",
                    "30", cmd], env=env, check=True)
    wait(term, lambda s: "run.yaml" in s and "Problems" in s)
    time.sleep(0.5)
    tmux(term, "send-keys", "-t", "ed", "End")  # an escape sequence: give the parser a moment before the next key
    time.sleep(0.3)
    tmux(term, "send-keys", "-t", "ed", "Enter")
    tmux(term, "send-keys", "-t", "ed", "-l", "seed: 7")
    wait(term, lambda s: "[modified]" in s)
    tmux(term, "send-keys", "-t", "ed", "C-s")
    wait(term, lambda s: "Save run.yaml" in s)
    tmux(term, "send-keys", "-t", "ed", "Enter")
    end = time.monotonic() + 10
    while "seed: 7" not in cfg.read_text() and time.monotonic() < end:
        time.sleep(0.1)
    assert cfg.read_text().endswith("output_dir: out\nseed: 7\n") or "seed: 7" in cfg.read_text()
    tmux(term, "send-keys", "-t", "ed", "C-o")
    wait(term, lambda s: "learning_rate: 2.0e-5" in s)  # the editor ran, the TUI came back and reloaded
    assert cfg.read_text().endswith("learning_rate: 2.0e-5\n")
    tmux(term, "send-keys", "-t", "ed", "Escape")
    end = time.monotonic() + 10
    while tmux(term, "has-session", "-t", "ed").returncode == 0 and time.monotonic() < end:
        if "GPUs" in screen(term) or "Processes" in screen(term):
            tmux(term, "send-keys", "-t", "ed", "q")
        time.sleep(0.3)
    assert tmux(term, "has-session", "-t", "ed").returncode != 0, screen(term)
