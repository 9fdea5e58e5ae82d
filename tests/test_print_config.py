"""--print-config: valid TOML, every key, its default and its source; round-trips through load_settings."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

import pytest

from ftmllm_tui.cli import build_parser, config_toml, effective_settings, main
from ftmllm_tui.settings import SECTIONS, Settings, config_file, load_settings

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

USER_FILE = """\
# hand-written
[ui]
refresh_interval = 2
theme = "light"
ascii = "sometimes"
[runs]
llamafactory_cli = "conda run --no-capture-output -n lf llamafactory-cli"
pass_env = ["HF_TOKEN"]
[runs.env]
HF_HOME = "/data/hf"
"WEIRD KEY" = 'va"lue'
[configs]
config_dirs = ["./configs", "~/lf configs"]
"""


@pytest.fixture
def user_config(monkeypatch):
    for var in ("FTMLLM_TMUX_SOCKET", "FTMLLM_LLAMAFACTORY_CLI"):
        monkeypatch.delenv(var, raising=False)
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(USER_FILE)
    return path


def printed(argv, capsys) -> str:
    assert main([*argv, "--print-config"]) == 0
    return capsys.readouterr().out


def test_output_is_toml_with_every_section_and_key(user_config, capsys):
    doc = tomllib.loads(printed([], capsys))
    assert list(doc) == list(SECTIONS)
    for section, keys in SECTIONS.items():
        assert list(doc[section]) == list(keys)
    assert {k for keys in SECTIONS.values() for k in keys} == {f.name for f in fields(Settings)} - {"warnings"}


@pytest.mark.parametrize("argv", [
    [],
    ["--theme", "my theme", "--no-mouse", "--colors", "256", "--interval", "3", "--ascii"],
    ["--no-ascii", "--mouse", "--colors", "16", "--tmux-socket", "sock", "--llamafactory-cli", "lf"],
    ["--interval", "0.01"],  # clamped, as the app would
])
def test_output_round_trips_to_the_same_settings(user_config, capsys, tmp_path, argv):
    out = printed(argv, capsys)
    effective = effective_settings(build_parser().parse_args(argv)).settings
    again = tmp_path / "printed.toml"
    again.write_text(out)
    reloaded = load_settings(again)
    assert reloaded == effective and reloaded.warnings == ()
    assert effective != Settings()  # the file counted
    # and printing the printed file prints the same values
    assert tomllib.loads(config_toml(effective_settings(build_parser().parse_args([]), {}, again))) == \
        tomllib.loads(out)


def test_comments_give_the_default_and_the_source(user_config, capsys):
    lines = printed(["--theme", "high-contrast", "--no-mouse"], capsys).splitlines()
    assert lines[1] == f"# config file: {user_config}"
    assert any(line.startswith("# warning:") and "ui.ascii" in line for line in lines)
    by_key = {line.split(" = ")[0]: line for line in lines if " = " in line and not line.startswith("#")}
    assert by_key["theme"].endswith('# default "dark"; from --theme') and '"high-contrast"' in by_key["theme"]
    assert by_key["mouse"] == "mouse = false  # default true; from --no-mouse"
    assert by_key["refresh_interval"] == f"refresh_interval = 2.0  # default 1.0; from {user_config}"
    assert by_key["tree"] == "tree = false  # default false; from default"
    assert "from default (the file's value is invalid)" in by_key["ascii"]
    assert by_key["env"].startswith("env = {") and "# default {}; from" in by_key["env"]
    assert all("# default " in line and "; from " in line for line in by_key.values())


def test_environment_sits_between_the_file_and_the_flags(user_config, capsys, monkeypatch):
    monkeypatch.setenv("FTMLLM_TMUX_SOCKET", "envsock")
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", "envcli")
    out = printed(["--llamafactory-cli", "flagcli"], capsys)
    doc = tomllib.loads(out)
    assert doc["runs"]["tmux_socket"] == "envsock" and doc["runs"]["llamafactory_cli"] == "flagcli"
    assert "from FTMLLM_TMUX_SOCKET" in out and "from --llamafactory-cli" in out


def test_no_file_means_defaults_and_says_so(capsys, monkeypatch):
    for var in ("FTMLLM_TMUX_SOCKET", "FTMLLM_LLAMAFACTORY_CLI"):
        monkeypatch.delenv(var, raising=False)
    out = printed([], capsys)
    assert "(not found: defaults)" in out.splitlines()[1]
    assert "from /" not in out
    p = config_file()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(out)
    assert load_settings(p) == Settings()


def test_bad_flag_value_exits_2(capsys):
    assert main(["--print-config", "--theme", " "]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ftmllm-tui: --theme:") and len(err.strip().splitlines()) == 1


def test_works_without_gpu_tmux_or_textual(tmp_path):
    """A plain subprocess with no tmux on PATH: prints, exits 0, loads neither Textual nor NVML."""
    (tmp_path / "ftmllm-tui").mkdir()
    (tmp_path / "ftmllm-tui" / "config.toml").write_text(USER_FILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTMLLM_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), PATH=str(tmp_path / "nothing-here"))
    code = ("import sys; from ftmllm_tui.cli import main; rc = main(['--print-config', '--theme', 'light']); "
            "assert not {'textual', 'pynvml', 'libtmux'} & set(sys.modules), sorted(sys.modules); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout)["ui"]["theme"] == "light"
    r = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "--print-config"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and tomllib.loads(r.stdout)["runs"]["env"] == {"HF_HOME": "/data/hf",
                                                                             "WEIRD KEY": 'va"lue'}
