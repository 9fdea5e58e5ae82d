from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from ftmllm_tui.settings import (DEFAULT, SECTION_OF, Settings, ascii_wanted, config_file, load_settings,
                                 read_settings, save_setting, save_ui_setting)
from ftmllm_tui.settings_write import SettingsWriteError

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def test_missing_file_means_defaults(tmp_path):
    assert load_settings(tmp_path / "none.toml") == Settings()


def test_xdg_config_home_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_file() == tmp_path / "ftmllm-tui" / "config.toml"
    config_file().parent.mkdir(parents=True)
    config_file().write_text("[ui]\nrefresh_interval = 2\ntree = true\n")
    s = load_settings()
    assert s.refresh_interval == 2.0 and s.tree is True and s.warnings == ()


def test_broken_toml_gives_a_warning_and_defaults(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[ui\nrefresh_interval = ")
    s = load_settings(p)
    assert s.refresh_interval == 1.0 and "not valid TOML" in s.warnings[0] and str(p) in s.warnings[0]


def test_unknown_keys_and_wrong_types_are_reported(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[ui]\nrefresh_interval = "fast"\ncolour = 1\n[gpu]\nx = 1\n'
                 "[gpus]\nprocess_util_interval = 5\n")
    s = load_settings(p)
    assert s.refresh_interval == 1.0 and s.process_util_interval == 5.0
    text = " | ".join(s.warnings)
    assert "ui.refresh_interval should be" in text and "unknown key ui.colour" in text
    assert "unknown section [gpu]" in text


def test_values_are_clamped(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[ui]\nrefresh_interval = 0.01\nhistory_window_min = 7\n")
    s = load_settings(p)
    assert s.refresh_interval == 0.5 and s.history_window_min == 5


def test_invalid_utf8_is_a_warning(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b"\xff\xfe[ui]")
    assert "cannot read" in load_settings(p).warnings[0]


# --- [ui] theme, ascii, mouse, colors ---------------------------------------------------------

def test_ui_appearance_defaults():
    s = Settings()
    assert (s.theme, s.ascii, s.mouse, s.colors) == ("dark", "auto", True, "auto")


def test_ui_appearance_values_are_read(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[ui]\ntheme = "my-solarized"\nascii = "ON"\nmouse = false\ncolors = "256"\n')
    s = load_settings(p)
    assert (s.theme, s.ascii, s.mouse, s.colors) == ("my-solarized", "on", False, "256") and s.warnings == ()


def test_ascii_as_bool_and_colors_as_int_read_naturally(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[ui]\nascii = false\ncolors = 16\n")
    s = load_settings(p)
    assert (s.ascii, s.colors, s.warnings) == ("off", "16", ())


@pytest.mark.parametrize("line, key", [
    ('ascii = "maybe"', "ui.ascii should be one of auto, on, off"),
    ('colors = "88"', "ui.colors should be one of auto, truecolor, 256, 16"),
    ("colors = 88", "ui.colors should be str"),
    ('theme = "  "', "ui.theme should be a theme's name"),
    ("theme = 3", "ui.theme should be str"),
    ('mouse = "no"', "ui.mouse should be bool"),
])
def test_bad_ui_values_warn_and_use_the_default(tmp_path, line, key):
    p = tmp_path / "c.toml"
    p.write_text(f"[ui]\n{line}\ntree = true\n")
    s = load_settings(p)
    assert (s.theme, s.ascii, s.mouse, s.colors) == ("dark", "auto", True, "auto")
    assert s.tree is True and len(s.warnings) == 1
    assert key in s.warnings[0] and "using the default" in s.warnings[0] and str(p) in s.warnings[0]


def test_read_settings_says_where_each_value_came_from(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[ui]\ntheme = "light"\nascii = "bad"\n')
    loaded = read_settings(p)
    assert loaded.exists and loaded.path == p
    assert loaded.sources["theme"] == str(p) and loaded.sources["mouse"] == DEFAULT
    assert loaded.sources["ascii"].startswith(DEFAULT) and "invalid" in loaded.sources["ascii"]
    assert set(loaded.sources) == {f.name for f in fields(Settings)} - {"warnings"}
    o = loaded.override("mouse", False, "--no-mouse")
    assert o.settings.mouse is False and o.sources["mouse"] == "--no-mouse" and loaded.settings.mouse is True
    with pytest.raises(ValueError, match="should be one of"):
        loaded.override("colors", "88", "--colors")
    assert not read_settings(tmp_path / "none.toml").exists


@pytest.mark.parametrize("environ, encoding, want", [
    ({"LANG": "en_US.UTF-8"}, "utf-8", False),
    ({"LANG": "de_DE.utf8"}, "ascii", False),          # the locale decides, not stdout
    ({"LANG": "C.UTF-8"}, "utf-8", False),
    ({"LC_CTYPE": "UTF-8"}, "utf-8", False),            # macOS
    ({"LANG": "C"}, "utf-8", True),
    ({"LANG": "POSIX"}, "utf-8", True),
    ({"LANG": "en_US"}, "utf-8", True),                # no codeset: ISO-8859-1
    ({"LANG": "de_DE.ISO-8859-15@euro"}, "utf-8", True),
    ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, "utf-8", True),       # LC_ALL wins
    ({"LC_ALL": "", "LC_CTYPE": "en_US.UTF-8", "LANG": "C"}, "utf-8", False),  # empty does not count
    ({}, "utf-8", False),                              # nothing set (SSH): trust stdout
    ({}, "UTF8", False),
    ({}, "ANSI_X3.4-1968", True),
    ({}, "latin-1", True),
])
def test_ascii_auto_follows_the_locale(environ, encoding, want):
    assert ascii_wanted("auto", environ, encoding) is want


def test_ascii_on_and_off_ignore_the_locale():
    assert ascii_wanted("on", {"LANG": "en_US.UTF-8"}, "utf-8") is True
    assert ascii_wanted("off", {"LANG": "C"}, "ascii") is False


def test_ascii_auto_sees_lang_c_through_pythons_locale_coercion():
    # Python rewrites LC_CTYPE=C.UTF-8 into os.environ when it starts under LANG=C (PEP 538)
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_CTYPE", "LANG")}
    code = "from ftmllm_tui.settings import ascii_wanted; print(ascii_wanted('auto'))"
    run = lambda extra: subprocess.run([sys.executable, "-c", code], env={**env, **extra},  # noqa: E731
                                       capture_output=True, text=True, timeout=60).stdout.strip()
    if sys.platform.startswith("linux"):
        assert run({"LANG": "C"}) == "True"
    assert run({"LANG": "en_US.UTF-8"}) == "False"


# --- save_setting ---------------------------------------------------------------------------

USER_FILE = """\
# my settings, written by hand
[ui]
refresh_interval = 2   # fast enough
theme = "dark"   # until I try light

[runs.env]
HF_HOME = '/data/hf'   # literal string kept
"""


def test_save_keeps_comments_formatting_and_other_keys(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text(USER_FILE)
    save_ui_setting("theme", "light", p)
    text = p.read_text()
    assert text == USER_FILE.replace('theme = "dark"', 'theme = "light"')
    save_ui_setting("mouse", False, p)
    save_setting("runs", "stop_grace_s", 30, p)
    text = p.read_text()
    assert "# my settings, written by hand" in text and "# fast enough" in text
    assert "HF_HOME = '/data/hf'   # literal string kept" in text
    s = load_settings(p)
    assert (s.theme, s.mouse, s.stop_grace_s, s.refresh_interval, s.env, s.warnings) == (
        "light", False, 30.0, 2.0, (("HF_HOME", "/data/hf"),), ())
    assert [f.name for f in tmp_path.iterdir()] == ["config.toml"]  # no temp file left


def test_save_creates_the_file_and_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    save_ui_setting("theme", "high-contrast")
    assert config_file().exists() and load_settings().theme == "high-contrast"
    save_setting("configs", "config_dirs", ["./a", "~/b"])
    save_setting("runs", "env", {"A": "1"})
    s = load_settings()
    assert s.config_dirs == ("./a", "~/b") and s.env == (("A", "1"),) and s.theme == "high-contrast"
    assert s.warnings == ()


def test_save_keeps_the_files_mode_and_writes_through_a_symlink(tmp_path):
    real = tmp_path / "dotfiles" / "config.toml"
    real.parent.mkdir()
    real.write_text("[ui]\ntree = true\n")
    real.chmod(0o600)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    save_ui_setting("colors", "16", link)
    assert link.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o600
    assert load_settings(link).colors == "16" and load_settings(real).tree is True


def test_save_never_overwrites_a_broken_file(tmp_path):
    p = tmp_path / "config.toml"
    p.write_text("[ui\ntheme = 'dark'\n")
    with pytest.raises(SettingsWriteError, match="not valid TOML") as e:
        save_ui_setting("theme", "light", p)
    assert str(p) in str(e.value) and "not overwritten" in str(e.value)
    assert p.read_text() == "[ui\ntheme = 'dark'\n"
    p.write_text("ui = 3\n")
    with pytest.raises(SettingsWriteError, match="not a table"):
        save_ui_setting("theme", "light", p)
    assert p.read_text() == "ui = 3\n"


@pytest.mark.parametrize("section, key, value, msg", [
    ("ui", "theme", "", "theme's name"),
    ("ui", "ascii", "sometimes", "one of auto, on, off"),
    ("ui", "colors", "88", "one of auto"),
    ("ui", "mouse", "yes", "should be bool"),
    ("ui", "colour", "x", "unknown setting ui.colour"),
    ("gpus", "theme", "x", "unknown setting gpus.theme"),
    ("gui", "theme", "x", "unknown settings section"),
])
def test_save_refuses_what_load_would_refuse(tmp_path, section, key, value, msg):
    p = tmp_path / "config.toml"
    p.write_text("[ui]\ntree = true\n")
    with pytest.raises(ValueError, match=msg):
        save_setting(section, key, value, p)
    assert p.read_text() == "[ui]\ntree = true\n"


# --- README ---------------------------------------------------------------------------------

def readme_settings_section() -> str:
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Settings\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def test_readme_documents_every_setting():
    section = readme_settings_section()
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert blocks, "the Settings section has no ```toml example"
    example = tomllib.loads(blocks[0])
    missing = []
    for f in fields(Settings):
        if f.name == "warnings":
            continue
        where = SECTION_OF[f.name]
        if f.name not in example.get(where, {}) or not re.search(rf"\b{re.escape(f.name)}\b", section):
            missing.append(f"{where}.{f.name}")
    assert not missing, f"README's Settings section does not document: {', '.join(missing)}"


def test_readme_example_shows_the_defaults(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(re.findall(r"```toml\n(.*?)```", readme_settings_section(), re.S)[0])
    assert load_settings(p) == Settings() and load_settings(p).warnings == ()
