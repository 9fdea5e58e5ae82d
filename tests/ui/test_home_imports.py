"""The home view stays light: the real program, started in a pty on a replay and quit with q, never
loads what only other views need (the editor, YAML, schema, plots, logs, other hosts, Slurm, models).
Each module loaded costs memory for the whole session (issue 11: peak RSS at idle)."""

from __future__ import annotations

import os

from .test_pty import read_until, running, wait_exit

# top-level packages and our own parts that the home view (and quitting it) must not import
NOT_AT_HOME = (
    "numpy", "msgspec", "orjson", "ruamel", "yaml", "tomlkit", "huggingface_hub", "tree_sitter", "libtmux",
    "llamafactory", "swanlab", "textual.widgets._text_area", "textual.document",
    "ftmllm_tui.core.configs", "ftmllm_tui.core.follow", "ftmllm_tui.core.models", "ftmllm_tui.core.slurm",
    "ftmllm_tui.core.estimate", "ftmllm_tui.core.hosts.cluster", "ftmllm_tui.core.hosts.link",
    "ftmllm_tui.ui.screens.editor", "ftmllm_tui.ui.widgets.yaml_editor", "ftmllm_tui.ui.screens.help",
    "ftmllm_tui.ui.screens.runs", "ftmllm_tui.ui.screens.detail", "ftmllm_tui.ui.screens.configs",
    "zipfile", "hashlib", "secrets", "importlib.resources",
)

HOOK = """
import atexit, os, sys
def _dump():
    with open(os.environ["FTM_TEST_MODULES_OUT"], "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(_dump)
"""


def _loaded(name: str, modules: set[str]) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_home_view_and_quitting_load_none_of_the_other_views_modules(tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    out = tmp_path / "modules.txt"
    env = {"FTMLLM_SPLASH": "1", "FTM_TEST_MODULES_OUT": str(out),
           "PYTHONPATH": f"{hook}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with running(["--replay", "tests/data/h200x8_synth.jsonl", "--interval", "0.5"], env=env,
                 cols=120, rows=40) as (pid, fd):
        assert b"Filter" in read_until(fd, b"Filter", 30)  # the full UI
        # a few refreshes of the home view (the clock in the title moves each second)
        read_until(fd, b"\x00never", 1.5)
        os.write(fd, b"w")  # the history window: home-view work with no other view behind it
        read_until(fd, b"History window", 5)
        os.write(fd, b"q")
        assert wait_exit(pid, fd, 15) == 0
    modules = set(out.read_text().split())
    assert "ftmllm_tui.ui.screens.home" in modules and "textual.app" in modules  # the hook saw the app
    loaded = [name for name in NOT_AT_HOME if _loaded(name, modules)]
    assert not loaded, f"the home view loaded {loaded}"
