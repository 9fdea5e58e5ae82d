"""Configs that are not UTF-8: a problem at the line (with the encoding they look like), or "not a text file" —
the same from `validate` (CLI), the validator and `cfgfile.read`; never a YAML error about #xdcb3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ftmllm_tui.core.configs import cfgfile, textenc
from ftmllm_tui.core.configs.lfvalidate import validate

ROOT = Path(__file__).parents[3]
GOOD = "stage: sft\ndo_train: true\nfinetuning_type: lora\n"
GBK_LINE = "# 训练数据".encode("gbk")


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(cwd / "state"),
               XDG_CONFIG_HOME=str(cwd / "config"), FTMLLM_LLAMAFACTORY_CLI=str(cwd / "none"))
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60, check=False)


def test_a_gbk_comment_is_an_error_at_its_line(tmp_path):
    cfg = tmp_path / "gbk.yaml"
    cfg.write_bytes(GOOD.encode() + GBK_LINE + b"\nlerning_rate: 1.0e-4\n")
    loaded = cfgfile.read(cfg)
    assert loaded.undecodable
    report = validate(loaded.text, path=cfg, check_files=False)
    enc = [f for f in report.findings if f.code == "not-utf8"]
    assert [(f.line, f.message) for f in enc] == [(4, "line 4 is not UTF-8 (looks like GBK?)")]
    assert "iconv -f GBK -t UTF-8" in enc[0].hint
    # the rest of the file is still checked (the bad bytes are only in a comment)
    assert any(f.code == "unknown-key" and f.line == 5 for f in report.findings)
    assert report.syntax_ok and not report.ok
    # the CLI says the same, with the line, and exits 1; --json too
    r = cli("validate", "gbk.yaml", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "gbk.yaml:4:4: error: line 4 is not UTF-8 (looks like GBK?)" in r.stdout
    assert "#xdc" not in r.stdout + r.stderr and "Traceback" not in r.stderr
    r = cli("validate", "--json", "gbk.yaml", cwd=tmp_path)
    found = json.loads(r.stdout)["findings"]
    assert found[0]["rule"] == "not-utf8" and found[0]["line"] == 4


def test_reencoding_gbk_keeps_utf8_lines_as_they_are(tmp_path):
    text = ("# 已是 UTF-8\n" + GOOD).encode() + GBK_LINE + b"\n"
    decoded = text.decode("utf-8", "surrogateescape")
    scan = textenc.scan(decoded)
    assert scan.encoding == "GBK" and not scan.binary
    assert textenc.reencoded(decoded, "GBK") == "# 已是 UTF-8\n" + GOOD + "# 训练数据\n"
    assert "\ufffd" in scan.clean and not any("\udc80" <= ch <= "\udcff" for ch in scan.clean)


def test_not_gbk_either_says_only_not_utf8():
    text = b"stage: sft\n# \xff\xfe\xff\n".decode("utf-8", "surrogateescape")
    report = validate(text, check_files=False)
    assert report.findings[0].message == "line 2 is not UTF-8"
    assert textenc.scan(text).encoding is None


def test_a_binary_file_is_not_a_text_file(tmp_path):
    cfg = tmp_path / "model.yaml"
    cfg.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\xb3\xdc" + bytes(range(256)) * 4)
    report = validate(cfgfile.read(cfg).text, path=cfg)
    assert [f.code for f in report.findings] == ["not-text"] and not report.syntax_ok
    assert report.findings[0].message.startswith("not a text file")
    r = cli("validate", "model.yaml", cwd=tmp_path)
    assert r.returncode == 1 and "not a text file" in r.stdout and "unacceptable character" not in r.stdout


def test_a_stray_control_character_has_its_line():
    report = validate("stage: sft\ndo_train: true\x7f\n", check_files=False)
    assert report.findings[0].line == 2 and "control character (#x7f)" in report.findings[0].message
