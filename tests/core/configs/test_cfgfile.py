"""Reading and safely saving config files: conflicts, backups, atomic writes, key overrides."""

from __future__ import annotations

import difflib
import errno
import os
import stat
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from ftmllm_tui.core.configs import cfgfile
from ftmllm_tui.core.configs.cfgfile import (
    ConfigFileError,
    Conflict,
    Stamp,
    backups,
    changed_on_disk,
    diff,
    read,
    save,
    set_keys,
)

is_root = os.geteuid() == 0

LF_CONFIG = """\
### model
model_name_or_path: Qwen/Qwen2-VL-7B-Instruct   # base model from the HF cache
image_max_pixels: 262144
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
deepspeed: "examples/deepspeed/ds_z3_config.json"  # ZeRO-3

### dataset
dataset: mllm_demo,identity,alpaca_en_demo  # comma-separated, not a YAML list
template: qwen2_vl
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16
report_to:
  - tensorboard
  - swanlab

### output
output_dir: 'saves/qwen2_vl-7b/lora/sft'   # where checkpoints go
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4          # peak LR
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000

### eval
# val_size: 0.1
# per_device_eval_batch_size: 1
"""


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    d = tmp_path / "configs"
    d.mkdir()
    p = d / "train.yaml"
    p.write_bytes(b"learning_rate: 1.0e-4\n")
    return p


@pytest.fixture
def bdir(tmp_path: Path) -> Path:
    return tmp_path / "backups"


# ---- read ---------------------------------------------------------------------------------------------------

def test_read_returns_text_and_stamp(cfg: Path):
    loaded = read(cfg)
    assert loaded.text == "learning_rate: 1.0e-4\n" and not loaded.undecodable
    assert loaded.stamp == Stamp.of(cfg)
    assert loaded.stamp.size == 22 and loaded.stamp.inode == cfg.stat().st_ino


def test_read_missing(tmp_path: Path):
    with pytest.raises(ConfigFileError, match=r"x\.yaml.*does not exist"):
        read(tmp_path / "x.yaml")
    loaded = read(tmp_path / "x.yaml", allow_missing=True)
    assert (loaded.text, loaded.stamp) == ("", None)
    assert Stamp.of(tmp_path / "x.yaml") is None


def test_read_directory(tmp_path: Path):
    with pytest.raises(ConfigFileError, match="is a folder"):
        read(tmp_path, allow_missing=True)


def test_read_too_large(tmp_path: Path):
    p = tmp_path / "big.yaml"
    p.write_bytes(b"#" * (5 * 1024 * 1024 + 1))
    with pytest.raises(ConfigFileError, match=r"big\.yaml.*too large for a config"):
        read(p)


@pytest.mark.skipif(is_root, reason="root bypasses file permissions")
def test_read_permission_denied(cfg: Path):
    cfg.chmod(0)
    with pytest.raises(ConfigFileError, match=r"cannot read .*train\.yaml: permission denied"):
        read(cfg)


def test_invalid_utf8_round_trips_byte_exact(cfg: Path, bdir: Path):
    raw = b"# caf\xe9 (latin-1)\r\nname: \xff\xfe\r\nlr: 1\r\n"
    cfg.write_bytes(raw)
    loaded = read(cfg)
    assert loaded.undecodable
    saved = save(cfg, loaded.text, expected=loaded.stamp, backup_dir=bdir)
    assert cfg.read_bytes() == raw
    edited = loaded.text.replace("lr: 1", "lr: 2")  # an edit elsewhere keeps the odd bytes as they were
    save(cfg, edited, expected=saved.stamp, backup_dir=bdir)
    assert cfg.read_bytes() == raw.replace(b"lr: 1", b"lr: 2")


def test_crlf_and_bom_kept(cfg: Path, bdir: Path):
    raw = "\ufeffa: 1\r\nb: 2   \r\n\r\n".encode()
    cfg.write_bytes(raw)
    loaded = read(cfg)
    assert loaded.text == "\ufeffa: 1\r\nb: 2   \r\n\r\n"
    save(cfg, set_keys(loaded.text, {"a": "3"}), expected=loaded.stamp, backup_dir=bdir)
    assert cfg.read_bytes() == raw.replace(b"a: 1", b"a: 3")


# ---- save ---------------------------------------------------------------------------------------------------

def test_save_writes_and_returns_new_stamp(cfg: Path, bdir: Path):
    loaded = read(cfg)
    saved = save(cfg, "learning_rate: 2.0e-5\n", expected=loaded.stamp, backup_dir=bdir)
    assert cfg.read_text() == "learning_rate: 2.0e-5\n"
    assert saved.stamp == Stamp.of(cfg) and saved.path == cfg
    assert not changed_on_disk(saved.stamp, cfg)
    save(cfg, "learning_rate: 3.0e-5\n", expected=saved.stamp, backup_dir=bdir)  # the chain goes on
    assert cfg.read_text() == "learning_rate: 3.0e-5\n"


def test_save_new_file(tmp_path: Path, bdir: Path):
    p = tmp_path / "new.yaml"
    old = os.umask(0o027)
    try:
        saved = save(p, "a: 1\n", expected=None, backup_dir=bdir)
    finally:
        os.umask(old)
    assert p.read_text() == "a: 1\n" and saved.backup is None
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    assert files_in(tmp_path) == {"new.yaml", "backups"}


def test_backup_holds_old_bytes_and_only_keep_are_kept(cfg: Path, bdir: Path):
    stamp = read(cfg).stamp
    made = []
    for i in range(5):
        saved = save(cfg, f"learning_rate: {i}\n", expected=stamp, backup_dir=bdir, keep=3)
        stamp = saved.stamp
        made.append(saved.backup)
        if i == 0:
            assert saved.backup.read_bytes() == b"learning_rate: 1.0e-4\n"
    assert made[0].parent.parent == bdir and made[0].name.startswith("train.yaml.")
    kept = backups(cfg, bdir)
    assert kept == [made[4], made[3], made[2]]  # newest first
    assert [p.read_text() for p in kept] == ["learning_rate: 3\n", "learning_rate: 2\n", "learning_rate: 1\n"]
    assert not made[0].exists() and not made[1].exists()


def test_backups_of_same_named_files_do_not_mix(tmp_path: Path, bdir: Path):
    a, b = tmp_path / "a" / "train.yaml", tmp_path / "b" / "train.yaml"
    for p in (a, b):
        p.parent.mkdir()
        p.write_text(f"where: {p.parent.name}\n")
        save(p, "x: 1\n", expected=read(p).stamp, backup_dir=bdir)
    assert [p.read_text() for p in backups(a, bdir)] == ["where: a\n"]
    assert [p.read_text() for p in backups(b, bdir)] == ["where: b\n"]


def test_saving_unchanged_text_writes_nothing(cfg: Path, bdir: Path):
    loaded = read(cfg)
    saved = save(cfg, loaded.text, expected=loaded.stamp, backup_dir=bdir)
    assert saved.backup is None and backups(cfg, bdir) == []
    assert cfg.stat().st_ino == loaded.stamp.inode


def test_mode_kept(cfg: Path, bdir: Path):
    cfg.chmod(0o640)
    save(cfg, "a: 2\n", expected=read(cfg).stamp, backup_dir=bdir)
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640


@pytest.mark.skipif(not is_root, reason="only root can give a file to another user")
def test_owner_kept_when_root(cfg: Path, bdir: Path):
    os.chown(cfg, 1234, 4321)
    save(cfg, "a: 2\n", expected=read(cfg).stamp, backup_dir=bdir)
    assert (cfg.stat().st_uid, cfg.stat().st_gid) == (1234, 4321)


def test_symlink_written_through_and_kept(tmp_path: Path, cfg: Path, bdir: Path):
    link = tmp_path / "link.yaml"
    link.symlink_to(cfg)
    loaded = read(link)
    saved = save(link, "a: 2\n", expected=loaded.stamp, backup_dir=bdir)
    assert link.is_symlink() and os.readlink(link) == str(cfg)
    assert cfg.read_text() == "a: 2\n"
    assert saved.backup.read_text() == "learning_rate: 1.0e-4\n"
    assert backups(link, bdir) == backups(cfg, bdir) == [saved.backup]


# ---- conflicts ----------------------------------------------------------------------------------------------

def test_modified_after_read_is_a_conflict(cfg: Path, bdir: Path):
    loaded = read(cfg)
    cfg.write_text("learning_rate: 9.9\n")
    assert changed_on_disk(loaded, cfg)
    with pytest.raises(Conflict, match=r"train\.yaml was changed on disk") as info:
        save(cfg, "learning_rate: 2.0e-5\n", expected=loaded.stamp, backup_dir=bdir)
    assert info.value.disk_text == "learning_rate: 9.9\n"
    assert info.value.disk_stamp == Stamp.of(cfg)
    assert cfg.read_text() == "learning_rate: 9.9\n" and backups(cfg, bdir) == []


def test_same_size_change_with_same_mtime_and_inode_is_a_conflict(cfg: Path, bdir: Path):
    loaded = read(cfg)
    with open(cfg, "r+b") as f:  # in place: same inode, same size
        f.write(b"LEARNING")
    os.utime(cfg, ns=(loaded.stamp.mtime_ns, loaded.stamp.mtime_ns))
    assert changed_on_disk(loaded.stamp, cfg)
    with pytest.raises(Conflict):
        save(cfg, "x: 1\n", expected=loaded.stamp, backup_dir=bdir)


def test_touch_alone_is_not_a_conflict(cfg: Path, bdir: Path):
    loaded = read(cfg)
    os.utime(cfg, ns=(loaded.stamp.mtime_ns + 5_000_000_000,) * 2)
    assert Stamp.of(cfg).mtime_ns != loaded.stamp.mtime_ns
    assert not changed_on_disk(loaded, cfg)
    save(cfg, "a: 2\n", expected=loaded.stamp, backup_dir=bdir)
    assert cfg.read_text() == "a: 2\n"


def test_force_overwrites(cfg: Path, bdir: Path):
    loaded = read(cfg)
    cfg.write_text("theirs: 1\n")
    saved = save(cfg, "mine: 1\n", expected=loaded.stamp, backup_dir=bdir, force=True)
    assert cfg.read_text() == "mine: 1\n"
    assert saved.backup.read_text() == "theirs: 1\n"


def test_deleted_after_read_is_a_conflict(cfg: Path, bdir: Path):
    loaded = read(cfg)
    cfg.unlink()
    assert changed_on_disk(loaded, cfg)
    with pytest.raises(Conflict, match="was deleted") as info:
        save(cfg, "a: 1\n", expected=loaded.stamp, backup_dir=bdir)
    assert info.value.disk_stamp is None and info.value.disk_text == ""
    assert not cfg.exists()


def test_created_meanwhile_is_a_conflict(tmp_path: Path, bdir: Path):
    p = tmp_path / "new.yaml"
    loaded = read(p, allow_missing=True)
    assert not changed_on_disk(loaded, p)
    p.write_text("someone: else\n")
    assert changed_on_disk(loaded, p)
    with pytest.raises(Conflict, match="was created") as info:
        save(p, "a: 1\n", expected=None, backup_dir=bdir)
    assert info.value.disk_text == "someone: else\n"
    assert p.read_text() == "someone: else\n"


def test_second_of_two_saves_from_the_same_read_conflicts(cfg: Path, bdir: Path):
    stamp = read(cfg).stamp
    save(cfg, "first: 1\n", expected=stamp, backup_dir=bdir)
    with pytest.raises(Conflict) as info:
        save(cfg, "second: 1\n", expected=stamp, backup_dir=bdir)
    assert info.value.disk_text == "first: 1\n"
    assert cfg.read_text() == "first: 1\n"


# ---- failures leave the file alone --------------------------------------------------------------------------

def test_failed_rename_leaves_original_and_no_temp(cfg: Path, bdir: Path, monkeypatch):
    loaded = read(cfg)

    def boom(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cfgfile.os, "replace", boom)
    with pytest.raises(ConfigFileError) as info:
        save(cfg, "a: 2\n", expected=loaded.stamp, backup_dir=bdir)
    msg = str(info.value)
    assert "train.yaml" in msg and "no space left on device" in msg and "unchanged" in msg
    assert not isinstance(info.value, Conflict)
    assert cfg.read_bytes() == b"learning_rate: 1.0e-4\n"
    assert files_in(cfg.parent) == {"train.yaml"}


def test_failed_fsync_leaves_original_and_no_temp(cfg: Path, bdir: Path, monkeypatch):
    loaded = read(cfg)
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(cfgfile.os, "fsync", fsync)
    with pytest.raises(ConfigFileError, match=r"train\.yaml: input/output error.*unchanged"):
        save(cfg, "a: 2\n", expected=loaded.stamp, backup_dir=bdir)
    assert cfg.read_bytes() == b"learning_rate: 1.0e-4\n"
    assert files_in(cfg.parent) == {"train.yaml"}


def test_failed_fsync_of_new_file_creates_nothing(tmp_path: Path, bdir: Path, monkeypatch):
    def fsync(_fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(cfgfile.os, "fsync", fsync)
    with pytest.raises(ConfigFileError, match="unchanged"):
        save(tmp_path / "new.yaml", "a: 1\n", expected=None, backup_dir=bdir)
    assert files_in(tmp_path) == {"backups"}


@pytest.mark.skipif(is_root, reason="root bypasses file permissions")
def test_read_only_folder(cfg: Path, bdir: Path):
    loaded = read(cfg)
    cfg.parent.chmod(0o555)
    try:
        with pytest.raises(ConfigFileError, match=r"folder .*configs is not writable.*unchanged"):
            save(cfg, "a: 2\n", expected=loaded.stamp, backup_dir=bdir)
    finally:
        cfg.parent.chmod(0o755)
    assert cfg.read_bytes() == b"learning_rate: 1.0e-4\n"
    assert files_in(cfg.parent) == {"train.yaml"}


def test_parent_is_a_file(tmp_path: Path, bdir: Path):
    (tmp_path / "notadir").write_text("x")
    with pytest.raises(ConfigFileError, match=r"cannot save .*notadir/x\.yaml: .*not a folder"):
        save(tmp_path / "notadir" / "x.yaml", "a: 1\n", expected=None, backup_dir=bdir)
    assert (tmp_path / "notadir").read_text() == "x"


def test_unusable_backup_folder_leaves_original(cfg: Path, tmp_path: Path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(ConfigFileError, match=r"backup folder.*unchanged"):
        save(cfg, "a: 2\n", expected=read(cfg).stamp, backup_dir=tmp_path / "blocker" / "b")
    assert cfg.read_bytes() == b"learning_rate: 1.0e-4\n"


def test_unwritable_text_is_refused(cfg: Path, bdir: Path):
    with pytest.raises(ConfigFileError, match="cannot be written"):
        save(cfg, "a: \ud800\n", expected=read(cfg).stamp, backup_dir=bdir)
    assert cfg.read_bytes() == b"learning_rate: 1.0e-4\n"


# ---- diff ---------------------------------------------------------------------------------------------------

def test_diff():
    assert diff("a: 1\n", "a: 1\n", "x.yaml") == ""
    out = diff("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 20\nc: 3", "x.yaml", context=1)
    assert out.splitlines() == [
        "--- x.yaml (on disk)", "+++ x.yaml (editor)", "@@ -1,3 +1,3 @@",
        " a: 1", "-b: 2", "-c: 3", "+b: 20", "+c: 3", "\\ No newline at end of file",
    ]


# ---- set_keys -----------------------------------------------------------------------------------------------

def changes(old: str, new: str) -> tuple[list[str], list[str]]:
    a, b = old.splitlines(), new.splitlines()
    removed, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += a[i1:i2]
            added += b[j1:j2]
    return removed, added


def rt_load(text: str):
    return YAML(typ="rt").load(text)


def test_set_keys_changes_only_the_lines_of_those_keys():
    out = set_keys(LF_CONFIG, {
        "learning_rate": "2.0e-5", "output_dir": "saves/x", "report_to": "none", "max_samples": "",
        "resume_from_checkpoint": "saves/old/checkpoint-500",
    })
    removed, added = changes(LF_CONFIG, out)
    assert removed == [
        "max_samples: 1000", "report_to:", "  - tensorboard", "  - swanlab",
        "output_dir: 'saves/qwen2_vl-7b/lora/sft'   # where checkpoints go", "learning_rate: 1.0e-4          # peak LR",
    ]
    assert added == [
        "report_to: none", "output_dir: saves/x   # where checkpoints go", "learning_rate: 2.0e-5          # peak LR",
        "resume_from_checkpoint: saves/old/checkpoint-500",
    ]
    assert out.endswith("# per_device_eval_batch_size: 1\nresume_from_checkpoint: saves/old/checkpoint-500\n")
    data = yaml.safe_load(out)  # what LLaMA-Factory itself will read
    assert data["learning_rate"] == 2e-5 and data["output_dir"] == "saves/x" and "max_samples" not in data
    assert data["dataset"] == "mllm_demo,identity,alpaca_en_demo"


def test_set_keys_values_are_yaml_scalars_as_typed():
    out = set_keys("a: 1\n", {"lr": "2.0e-5", "flag": "true", "ds": "a,b", "q": '"quoted"', "n": "7"})
    assert out == 'a: 1\nlr: 2.0e-5\nflag: true\nds: a,b\nq: "quoted"\nn: 7\n'
    data = rt_load(out)
    assert data["flag"] is True and data["ds"] == "a,b" and data["n"] == 7 and data["lr"] == 2e-5


def test_set_keys_quotes_what_would_not_stay_one_value():
    out = set_keys("a: 1\n", {"b": "x # not a comment", "c": "k: v", "d": "#x", "e": "two\nlines", "f": "'open"})
    data = rt_load(out)
    assert [data[k] for k in "bcdef"] == ["x # not a comment", "k: v", "#x", "two\nlines", "'open"]
    assert out.count("\n") == 6


def test_set_keys_in_place_edge_cases():
    assert set_keys("a:   # empty\nb: 2\n", {"a": "5"}) == "a: 5   # empty\nb: 2\n"
    assert set_keys("a: 1\nb:\nc: 3\n", {"b": ""}) == "a: 1\nc: 3\n"
    assert set_keys("a: 1\r\nb: 2", {"b": "3", "c": "4"}) == "a: 1\r\nb: 3\r\nc: 4\r\n"
    assert set_keys("  a: 1\n  b: 2\n", {"c": "3"}) == "  a: 1\n  b: 2\n  c: 3\n"
    assert set_keys("a: 1\n...\n", {"b": "2"}) == "a: 1\nb: 2\n...\n"
    assert set_keys("a: |\n  x\n  y\n\nb: 2\n", {"a": "z"}) == "a: z\n\nb: 2\n"
    assert set_keys("", {"a": "1"}) == "a: 1\n"
    assert set_keys("# only a comment\n", {"a": "1"}) == "# only a comment\na: 1\n"
    assert set_keys("a: 1\n", {"gone": ""}) == "a: 1\n"
    assert set_keys("a: 1\n", {}) == "a: 1\n"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "a: [\n", "a: 1\na: 2\n"])
def test_set_keys_refuses_what_is_not_a_mapping(text: str):
    with pytest.raises(ConfigFileError, match="config"):
        set_keys(text, {"a": "1"})
