"""SwanLab local runs read without the swanlab package (ftmllm_tui/core/follow/follow/swanlab_local.py).

Committed data (real SwanLab output, nothing trimmed but the swanlog/.gitignore, which says `*`,
and swanboard's 124 KiB runs.swanlab database):

* tests/data/swanlog/run-20261130_100305-dnpoyv1z: LLaMA-Factory 0.9.5 + swanlab 0.10.3, local
  mode: `build_tiny.py --epochs 1 --eval --swanlab-local`, 18 steps, eval at 10 and 18 (60 KB);
* tests/data/swanlog/swanlab-0.7.20/run-20261130_100129-0evwcybc0iquqyqrh35bs: swanlab 0.7.20, local
  mode, a 12-line script (train/loss, train/learning_rate, eval/loss, a key with `%` and a space,
  NaN at step 8, step 7 logged twice), hardware columns included (20 KB).

The expected numbers below are what swanlab 0.10.3's own reader (DataStoreReader + the Record
protobuf) returns for run-dnpoyv1z.swanlab, except where noted.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftmllm_tui.core.follow.swanlab_local import (
    SwanRun,
    SwanRunReader,
    SwanSeries,
    find_runs,
    read_run,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
RUN10 = DATA / "swanlog" / "run-20261130_100305-dnpoyv1z"
RUN07 = DATA / "swanlog" / "swanlab-0.7.20" / "run-20261130_100129-0evwcybc0iquqyqrh35bs"
LF_PYTHON = ROOT / ".venv-lf" / "bin" / "python"

KEYS10 = [  # logs/1 .. logs/14, in the order SwanLab handed out the folders
    "train/loss", "train/grad_norm", "train/learning_rate", "train/epoch", "train/global_step",
    "eval/loss", "eval/runtime", "eval/samples_per_second", "eval/steps_per_second",
    "single_value/train_runtime", "single_value/train_samples_per_second",
    "single_value/train_steps_per_second", "single_value/total_flos", "single_value/train_loss",
]
STEPS18 = tuple(float(s) for s in range(1, 19))
# swanlab 0.10.3's reader of run-dnpoyv1z.swanlab (floats as repr'd by it; exact)
PKG = {
    "train/loss": [5.7230753898620605, 5.7372283935546875, 5.696432590484619, 5.69611120223999,
                   5.711136341094971, 5.694723606109619, 5.695433139801025, 5.703506946563721,
                   5.662152290344238, 5.663733959197998, 5.713871479034424, 5.692331790924072,
                   5.712543487548828, 5.691844940185547, 5.636263847351074, 5.647287368774414,
                   5.6883416175842285, 5.658034324645996],
    "train/learning_rate": [0.0, 0.0005, 0.001, 0.0009903926402016153, 0.0009619397662556434,
                            0.0009157348061512727, 0.0008535533905932737, 0.0007777851165098011,
                            0.000691341716182545, 0.0005975451610080642, 0.0005,
                            0.00040245483899193594, 0.0003086582838174551, 0.00022221488349019903,
                            0.00014644660940672628, 8.426519384872733e-05, 3.806023374435663e-05,
                            9.607359798384786e-06],
    "eval/loss": [5.672280311584473, 5.669464588165283],
    "eval/runtime": [0.0081, 0.0135],
    "eval/samples_per_second": [492.347, 296.48],
    "eval/steps_per_second": [246.173, 148.24],
    "single_value/train_loss": [5.690225150850084],
    "single_value/total_flos": [315408384.0],
}
# LLaMA-Factory evaluates twice at step 18 (the eval_steps one, then the final evaluate()).
# swanlab 0.10.3's core keeps the first value in the .swanlab file ("duplicate or too old"),
# its local-mode callback rewrites logs/<n>/1000.log with the last one, which is what
# `swanlab watch` shows and what this reader returns. eval/loss is the same both times.
LAST_AT_18 = {"eval/runtime": 0.0264, "eval/samples_per_second": 151.523, "eval/steps_per_second": 75.761}


def copy_run(tmp_path: Path, src: Path = RUN10) -> Path:
    dst = tmp_path / "swanlog" / src.name
    shutil.copytree(src, dst)
    return dst


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


# --------------------------------------------------------------------------- committed runs


def test_find_runs(tmp_path):
    assert find_runs(DATA / "swanlog") == [RUN10]
    assert find_runs(RUN10) == [RUN10]  # a run folder itself
    assert find_runs(tmp_path / "nope") == []
    assert find_runs(tmp_path) == []
    for name in ("run-20260102_030405-bbb", "run-20260102_030406-aaa", "run-20251231_235959-ccc"):
        (tmp_path / name).mkdir()
    (tmp_path / "run-notes.txt").write_text("x")  # a file, not a run
    (tmp_path / "runs.swanlab").write_bytes(b"")
    (tmp_path / "other").mkdir()
    assert [p.name for p in find_runs(tmp_path)] == [
        "run-20260102_030406-aaa", "run-20260102_030405-bbb", "run-20251231_235959-ccc"]


def test_read_committed_run():
    run = read_run(RUN10)
    assert isinstance(run, SwanRun)
    assert run.problems == ()
    assert (run.path, run.run_id, run.name, run.state) == (RUN10, "dnpoyv1z", "tranquil-pig-63", "finished")
    assert list(run.series) == KEYS10
    assert all(isinstance(s, SwanSeries) and s.key == k for k, s in run.series.items())
    for key in KEYS10[:5]:
        assert run.series[key].steps == STEPS18
    assert run.series["eval/loss"].steps == (10.0, 18.0)
    assert run.series["single_value/train_loss"].steps == (18.0,)
    # files/config.yaml is the transformers TrainingArguments dump, {key: {desc, sort, value}} unwrapped
    assert run.config["learning_rate"] == 0.001
    assert run.config["num_train_epochs"] == 1.0
    assert run.config["FRAMEWORK"] == "transformers"


def test_values_equal_the_swanlab_package_reader():
    run = read_run(RUN10)
    for key, values in PKG.items():
        got = list(run.series[key].values)
        if key in LAST_AT_18:
            assert got[:-1] == values[:-1]
            assert got[-1] == LAST_AT_18[key] != values[-1]
        else:
            assert got == values, key
    assert run.series["train/epoch"].values[-1] == 1.0
    assert run.series["train/global_step"].values == STEPS18


def test_offline_mode_values_come_from_the_records(tmp_path):
    """No logs/ (swanlab_mode: offline): the protobuf records are decoded by hand; they equal the
    package's reading exactly, first-wins duplicates included."""
    run_dir = copy_run(tmp_path)
    shutil.rmtree(run_dir / "logs")
    run = read_run(run_dir)
    assert run.problems == ()
    assert list(run.series) == KEYS10
    for key, values in PKG.items():
        assert list(run.series[key].values) == values, key
    assert run.series["train/loss"].steps == STEPS18


def test_swanlab_0_7_backup_file():
    run = read_run(RUN07)
    assert run.problems == ()
    assert (run.run_id, run.name, run.state) == ("0evwcybc0iquqyqrh35bs", "cat-14", "finished")
    assert list(run.series) == ["train/loss", "train/learning_rate", "eval/loss", "weird key/with%chars"]
    loss = run.series["train/loss"]
    assert loss.steps == tuple(float(s) for s in range(1, 9))
    assert loss.values[:7] == (4.9, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3)  # 0.7 kept the first value of step 7
    assert math.isnan(loss.values[7])  # stored as the string "NaN"
    assert run.series["eval/loss"].steps == (3.0, 6.0)
    assert run.config == {"lr": 0.001, "model": "tiny"}
    with_hw = read_run(RUN07, system=True)
    hw = [k for k in with_hw.series if k.startswith("__swanlab__.")]
    assert len(hw) == 11 and "__swanlab__.cpu.pct" in hw


# --------------------------------------------------------------------------- names from elsewhere


def make_db(path: Path, run_name: str, tags: dict[str, str], wal: bool = True) -> None:
    """The two swanboard tables the reader queries (same column names as swanboard 0.1.x)."""
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE experiment (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, name TEXT)")
    con.execute("CREATE TABLE tag (id INTEGER PRIMARY KEY, experiment_id INTEGER, name TEXT, folder TEXT)")
    con.execute("INSERT INTO experiment VALUES (1, 'run-20200101_000000-other', 'x')")
    con.execute("INSERT INTO tag VALUES (1, 1, 'other/metric', '1')")
    con.execute("INSERT INTO experiment VALUES (2, ?, 'y')", (run_name,))
    for i, (folder, name) in enumerate(tags.items(), start=2):
        con.execute("INSERT INTO tag VALUES (?, 2, ?, ?)", (i, name, folder))
    con.commit()
    con.close()


def test_missing_swanlab_file_gives_placeholders_and_problems(tmp_path):
    run_dir = copy_run(tmp_path)
    (run_dir / "run-dnpoyv1z.swanlab").unlink()
    run = read_run(run_dir)
    assert list(run.series) == [f"logs/{i}" for i in range(1, 15)]
    assert run.series["logs/1"].values == tuple(PKG["train/loss"])
    assert len(run.problems) == 14
    assert all("no metric name found" in p and "no .swanlab record file" in p for p in run.problems)
    assert run.run_id == "dnpoyv1z" and run.name is None and run.state is None


def test_missing_swanlab_file_names_from_runs_db(tmp_path):
    run_dir = copy_run(tmp_path)
    (run_dir / "run-dnpoyv1z.swanlab").unlink()
    db = run_dir.parent / "runs.swanlab"
    make_db(db, run_dir.name, {str(i): k for i, k in enumerate(KEYS10, start=1)})
    run = read_run(run_dir)
    assert run.problems == ()
    assert list(run.series) == KEYS10
    assert run.series["train/loss"].values == tuple(PKG["train/loss"])
    # read without leaving -wal/-shm files behind in the user's log dir
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["run-20261130_100305-dnpoyv1z", "runs.swanlab"]


def test_db_and_records_disagree(tmp_path):
    run_dir = copy_run(tmp_path)
    make_db(run_dir.parent / "runs.swanlab", run_dir.name, {"1": "renamed/loss"}, wal=False)
    run = read_run(run_dir)
    assert "renamed/loss" in run.series and "train/loss" not in run.series
    assert any("runs.swanlab" in p and "renamed/loss" in p for p in run.problems)


def test_key_named_folders_of_old_layouts(tmp_path):
    run_dir = tmp_path / "run-20240101_000000-old"
    (run_dir / "logs" / "train%2Floss").mkdir(parents=True)
    (run_dir / "logs" / "train%2Floss" / "1000.log").write_text(
        '{"index": 0, "data": 2.5, "create_time": "t"}\n{"index": 1, "data": "NaN", "create_time": "t"}\n')
    run = read_run(run_dir)
    assert run.problems == ()
    assert list(run.series) == ["train/loss"]
    assert run.series["train/loss"].steps == (0.0, 1.0)
    assert run.series["train/loss"].values[0] == 2.5 and math.isnan(run.series["train/loss"].values[1])


# --------------------------------------------------------------------------- live and broken runs


def test_half_written_last_line_then_completed(tmp_path):
    run_dir = copy_run(tmp_path)
    log = run_dir / "logs" / "1" / "1000.log"
    with open(log, "ab") as f:
        f.write(b'{"index": 19, "data": 5.6')
    reader = SwanRunReader(run_dir)
    run = reader.poll()
    assert run.series["train/loss"].steps == STEPS18
    assert [p for p in run.problems if "unfinished" in p] == [
        "logs/1/1000.log: last line unfinished (25 bytes), not read yet"]
    with open(log, "ab") as f:
        f.write(b'5, "create_time": "2026-11-30T10:03:07+00:00"}\n')
    run = reader.poll()
    assert run.problems == ()
    assert run.series["train/loss"].steps == STEPS18 + (19.0,)
    assert run.series["train/loss"].values[-1] == 5.65


def test_incremental_reader(tmp_path):
    run_dir = copy_run(tmp_path)
    reader = SwanRunReader(run_dir)
    first = reader.poll()
    again = reader.poll()
    assert again == first
    assert again.series["train/loss"] is first.series["train/loss"]  # unchanged columns are not rebuilt

    log = run_dir / "logs" / "6" / "1000.log"  # eval/loss
    with open(log, "a") as f:
        f.write('{"index": 20, "data": 5.5, "create_time": "t"}\n')
    run = reader.poll()
    assert run.series["eval/loss"].steps == (10.0, 18.0, 20.0)
    assert run.series["train/loss"] is first.series["train/loss"]

    # swanlab >= 0.8 rewrites a slice (new inode) when a step is logged again: read it anew
    lines = log.read_text().splitlines()
    lines[0] = '{"index": 10, "data": 1.25, "create_time": "t"}'
    tmp = log.with_name("tmpxyz")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, log)
    run = reader.poll()
    assert run.series["eval/loss"].values == (1.25, 5.669464588165283, 5.5)

    # a new column: its name is in the (lagging) .swanlab only later; until then a placeholder
    (run_dir / "logs" / "15").mkdir()
    (run_dir / "logs" / "15" / "1000.log").write_text('{"index": 18, "data": 7.0, "create_time": "t"}\n')
    run = reader.poll()
    assert run.series["logs/15"].values == (7.0,)
    assert any(p.startswith("logs/15: no metric name found") for p in run.problems)

    # a second slice of a column (the 1001st distinct step onwards goes to 2000.log)
    (run_dir / "logs" / "1" / "2000.log").write_text('{"index": 1001, "data": 1.0, "create_time": "t"}\n')
    assert reader.poll().series["train/loss"].steps[-1] == 1001.0


def test_truncated_record_file_while_running(tmp_path):
    """The .swanlab writer buffers: a live file ends mid-record and lags behind logs/."""
    run_dir = copy_run(tmp_path)
    rec = run_dir / "run-dnpoyv1z.swanlab"
    full = rec.read_bytes()
    rec.write_bytes(full[:9000])
    reader = SwanRunReader(run_dir)
    run = reader.poll()
    named = [k for k in run.series if not k.startswith("logs/")]
    assert named and named == KEYS10[:len(named)] and len(named) < 14
    assert run.state is None
    assert all("no metric name found" in p for p in run.problems)
    rec.write_bytes(full)  # the rest arrives
    run = reader.poll()
    assert (list(run.series), run.problems, run.state) == (KEYS10, (), "finished")


def test_empty_and_missing(tmp_path):
    assert read_run(tmp_path / "run-20260101_000000-gone").problems == (
        f"{tmp_path / 'run-20260101_000000-gone'}: no such run folder",)
    empty = tmp_path / "run-20260101_000000-empty"
    empty.mkdir()
    run = read_run(empty)
    assert (run.run_id, run.series, run.config) == ("empty", {}, None)
    assert run.problems == ("no logs/ folder and no .swanlab record file: nothing logged yet",)
    (empty / "logs").mkdir()
    (empty / "logs" / "1").mkdir()
    (empty / "logs" / "1" / "1000.log").write_bytes(b"")
    assert read_run(empty).series == {}


def test_garbage_never_raises(tmp_path):
    run_dir = tmp_path / "swanlog" / "run-20260101_000000-junk"
    logs = run_dir / "logs"
    for d in ("1", "2", "5", "abc%2Fdef"):
        (logs / d).mkdir(parents=True)
    rng = random.Random(0)
    (logs / "1" / "1000.log").write_bytes(rng.randbytes(3000).replace(b"\n", b"") + b"\n\x00\xff\n")
    (logs / "2" / "1000.log").write_text("\n".join([
        "[]", '"str"', "{}", '{"index": "x", "data": 1}', '{"data": 1}', '{"index": true, "data": 1}',
        '{"index": 3, "data": [1, 2]}', '{"index": 4, "data": null}', "{not json",
        '{"index": 5, "data": Infinity}', '{"index": 6, "data": 2.0}', ""]))
    (logs / "3").write_text("a file where a folder should be")
    (logs / "5" / "notes.txt").write_text("ignored")
    (logs / "5" / "x.log").write_text("ignored: not a slice name")
    (logs / "abc%2Fdef" / "1000.log").write_text('{"index": 1, "data": 3}\n')
    (run_dir / "run-junk.swanlab").write_bytes(b":SWL\x00\x00\x02" + rng.randbytes(500))
    (run_dir / "files").mkdir()
    (run_dir / "files" / "config.yaml").write_text("a: [unclosed\n  - : :")
    (run_dir.parent / "runs.swanlab").write_bytes(rng.randbytes(2048))
    run = read_run(run_dir)
    assert run.series["logs/2"].steps == (5.0, 6.0)
    assert run.series["logs/2"].values == (math.inf, 2.0)
    assert run.series["abc/def"].values == (3.0,)
    assert "logs/1" not in run.series
    text = "\n".join(run.problems)
    assert "logs/1/1000.log: 2 unreadable lines skipped (first: line 1)" in text
    assert "logs/2/1000.log: 7 unreadable lines skipped (first: line 1)" in text
    assert "run-junk.swanlab: not a SwanLab record file (bad header)" in text
    assert "files/config.yaml: unreadable" in text
    assert run.config is None


def test_unsupported_version_and_corruption(tmp_path):
    run_dir = copy_run(tmp_path)
    rec = run_dir / "run-dnpoyv1z.swanlab"
    full = bytearray(rec.read_bytes())
    full[6] = 3  # header version
    rec.write_bytes(bytes(full))
    run = read_run(run_dir)
    assert any("unsupported record-file version 3" in p for p in run.problems)
    assert list(run.series) == [f"logs/{i}" for i in range(1, 15)]  # values still there

    full[6] = 2
    full[-1] ^= 0xFF  # the last byte of the last record (finish): the crc32 catches it
    rec.write_bytes(bytes(full))
    run = read_run(run_dir)
    assert any("record checksum mismatch" in p and "later records not read" in p for p in run.problems)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 22609), flip=st.one_of(st.none(), st.integers(7, 22608)))
def test_any_truncation_or_flipped_byte(tmp_path_factory, cut, flip):
    """Whatever happens to the record file, poll() returns, and every name it gives is right."""
    run_dir = copy_run(tmp_path_factory.mktemp("r"))
    rec = run_dir / "run-dnpoyv1z.swanlab"
    data = bytearray(rec.read_bytes())
    if flip is not None:
        data[flip] ^= 0x5A
    rec.write_bytes(bytes(data[:cut]))
    run = read_run(run_dir)
    assert len(run.series) == 14
    for i, key in enumerate(run.series, start=1):
        assert key in (KEYS10[i - 1], f"logs/{i}")


# --------------------------------------------------------------------------- framing details


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _scalar(key: str, step: int, value: float) -> bytes:
    body = _ld(1, key.encode()) + _varint(2 << 3) + _varint(step) + _ld(5, b"\x09" + struct.pack("<d", value))
    return _varint(1 << 3) + _varint(7) + _ld(13, body)  # Record.num = 7, Record.scalar


def _column(key: str, cls: int) -> bytes:
    return _ld(12, _varint(1 << 3) + _varint(cls) + _ld(3, key.encode()))


class _Writer:
    """LevelDB log framing as swanlab's DataStoreWriter does it (header version 2)."""

    def __init__(self) -> None:
        self.buf = bytearray(struct.pack("<4sHB", b":SWL", 0xE1D6, 2))

    def _rec(self, data: bytes, typ: int) -> None:
        crc = zlib.crc32(data, zlib.crc32(bytes([typ]))) & 0xFFFFFFFF
        self.buf += struct.pack("<IHB", crc, len(data), typ) + data

    def write(self, data: bytes) -> None:
        left = 32768 - len(self.buf) % 32768
        if left < 7:
            self.buf += b"\x00" * left
            left = 32768
        if len(data) + 7 <= left:
            return self._rec(data, 1)
        room = left - 7
        self._rec(data[:room], 2)
        data = data[room:]
        while len(data) > 32761:
            self._rec(data[:32761], 3)
            data = data[32761:]
        self._rec(data, 4)

    def space_left(self) -> int:
        return 32768 - len(self.buf) % 32768


def test_chunked_records_block_padding_and_hardware_columns(tmp_path):
    w = _Writer()
    w.write(_column("train/loss", 1))
    w.write(_scalar("train/loss", 1, 2.0))
    w.write(_ld(16, b"x" * 70000))  # a 70 KB console record: FIRST, MIDDLE, LAST chunks
    total = w.space_left() - 7 - 3  # a record that leaves 3 bytes in the block: zero padding follows
    n = next(total - 2 - k for k in (1, 2, 3) if len(_varint(total - 2 - k)) == k)
    w.write(_ld(16, b"y" * n))
    assert w.space_left() == 3
    w.write(_column("__swanlab__.cpu.pct", 2))  # hardware: no logs/ folder, not counted
    w.write(_scalar("__swanlab__.cpu.pct", 0, 12.5))
    w.write(_scalar("eval/loss", 10, 1.5))
    w.write(_scalar("train/loss", 2, 1.75))
    run_dir = tmp_path / "run-20260101_000000-synth"
    run_dir.mkdir()
    (run_dir / "run-synth.swanlab").write_bytes(bytes(w.buf))

    offline = read_run(run_dir)  # no logs/: values from the records
    assert offline.problems == ()
    assert {k: (s.steps, s.values) for k, s in offline.series.items()} == {
        "train/loss": ((1.0, 2.0), (2.0, 1.75)), "eval/loss": ((10.0,), (1.5,))}
    assert read_run(run_dir, system=True).series["__swanlab__.cpu.pct"].values == (12.5,)

    for folder, line in (("1", '{"index": 1, "data": 2.0}'), ("2", '{"index": 10, "data": 1.5}')):
        (run_dir / "logs" / folder).mkdir(parents=True)
        (run_dir / "logs" / folder / "1000.log").write_text(line + "\n")
    local = read_run(run_dir)
    assert local.problems == ()
    assert list(local.series) == ["train/loss", "eval/loss"]


# --------------------------------------------------------------------------- against the package, live


def _lf_has_swanlab() -> bool:
    return LF_PYTHON.exists() and any((ROOT / ".venv-lf" / "lib").glob("python3*/site-packages/swanlab/__init__.py"))


PACKAGE_READER = r"""
import json, sys
from swanlab.proto.swanlab.record.v1.record_pb2 import Record
from swanlab.sdk.internal.core_python.store import DataStoreReader
r = DataStoreReader(); r.open(sys.argv[1])
out = {"series": {}, "system": [], "name": None, "state": None}
for raw in r:
    rec = Record(); rec.ParseFromString(raw)
    kind = rec.WhichOneof("record_type")
    if kind == "column" and rec.column.column_class == 2:
        out["system"].append(rec.column.column_key)
    elif kind == "scalar":
        out["series"].setdefault(rec.scalar.key, []).append([rec.scalar.step, rec.scalar.value.number])
    elif kind == "start":
        out["name"] = rec.start.name
    elif kind == "finish":
        out["state"] = int(rec.finish.state)
r.close()
print(json.dumps(out))
"""


@pytest.mark.timeout(240)
@pytest.mark.skipif(not _lf_has_swanlab(), reason=".venv-lf without swanlab (LF_SWANLAB=1 sh scripts/lf_env.sh)")
def test_fresh_llamafactory_run_against_the_package(tmp_path):
    spec = importlib.util.spec_from_file_location("build_tiny", ROOT / "tests" / "lf" / "build_tiny.py")
    build_tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_tiny)

    out = tmp_path / "lf"
    r = subprocess.run([str(build_tiny.LF_PYTHON), build_tiny.__file__, str(out), "--epochs", "1",
                        "--eval", "--swanlab-local"], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = r.stdout.strip().splitlines()[-1]
    r = subprocess.run([str(build_tiny.LF_CLI), "train", cfg], env=build_tiny.train_env(out),
                       capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL, check=False)
    assert r.returncode == 0, r.stderr[-3000:]

    [run_dir] = find_runs(out / "swanlog")
    run = read_run(run_dir)
    assert run.problems == () and run.state == "finished"
    [rec] = run_dir.glob("run-*.swanlab")
    p = subprocess.run([str(LF_PYTHON), "-c", PACKAGE_READER, str(rec)], capture_output=True, text=True,
                       timeout=60, check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    pkg = json.loads(p.stdout)
    assert pkg["name"] == run.name and pkg["state"] == 1
    custom = [k for k in pkg["series"] if k not in pkg["system"]]
    assert list(run.series) == custom
    for key, points in pkg["series"].items():
        if key in pkg["system"]:
            continue
        mine = dict(zip(run.series[key].steps, run.series[key].values))
        for step, value in points:
            # the one known difference: a step logged twice (first in .swanlab, last in logs/)
            assert same(mine[float(step)], value) or key in LAST_AT_18, (key, step)
        assert sorted(mine) == sorted(float(s) for s, _ in points)
    offline = copy_run(tmp_path / "offline", run_dir)
    shutil.rmtree(offline / "logs")
    decoded = read_run(offline)
    for key in custom:
        assert [[int(s), v] for s, v in zip(decoded.series[key].steps, decoded.series[key].values)] == \
            [[s, v] for s, v in pkg["series"][key]], key

    # LLaMA-Factory's own trainer_log.jsonl: the same losses, step for step
    lines = [json.loads(x) for x in (out / "saves" / "tiny-lora-sft" / "trainer_log.jsonl").read_text().splitlines()]
    loss = {float(x["current_steps"]): x["loss"] for x in lines if "loss" in x}
    eval_loss = {float(x["current_steps"]): x["eval_loss"] for x in lines if "eval_loss" in x}
    assert loss == dict(zip(run.series["train/loss"].steps, run.series["train/loss"].values))
    assert eval_loss == dict(zip(run.series["eval/loss"].steps, run.series["eval/loss"].values))


FALLBACK = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("swanlab_local", sys.argv[1])
mod = sys.modules["swanlab_local"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
def broken(self, data):
    raise ValueError("simulated: a record this reader does not know")
mod._RecordLog._record_v2 = broken
run = mod.read_run(mod.Path(sys.argv[2]))
print(json.dumps({"keys": list(run.series), "problems": run.problems, "state": run.state, "name": run.name,
                  "loss": run.series["train/loss"].values}))
"""


@pytest.mark.skipif(not _lf_has_swanlab(), reason=".venv-lf without swanlab (LF_SWANLAB=1 sh scripts/lf_env.sh)")
def test_package_fallback_when_a_record_is_not_understood(tmp_path):
    """In an environment that has swanlab, a record file this reader cannot decode is read with
    the package instead (run here in .venv-lf, with the hand decoder made to fail)."""
    module = ROOT / "ftmllm_tui" / "core" / "swanlab_local.py"
    p = subprocess.run([str(LF_PYTHON), "-c", FALLBACK, str(module), str(RUN10)], capture_output=True,
                       text=True, timeout=90, check=False, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    assert out["keys"] == KEYS10
    assert (out["state"], out["name"]) == ("finished", "tranquil-pig-63")
    assert out["loss"] == PKG["train/loss"]
    assert out["problems"] == [("run-dnpoyv1z.swanlab: simulated: a record this reader does not know; "
                                "read with the installed swanlab package")]
