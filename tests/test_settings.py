from __future__ import annotations

from ftmllm_tui.settings import Settings, config_file, load_settings


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
