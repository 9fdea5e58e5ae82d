"""Read SwanLab local runs (``swanlog/run-*/``) without the swanlab package.

What SwanLab writes (measured with swanlab 0.6.13, 0.7.20, 0.8.5, 0.9.8 and 0.10.3;
``swanlab_mode: local``)::

    LOGDIR/runs.swanlab                    SQLite (swanboard): tag(name, folder) per experiment(run_id)
    LOGDIR/run-YYYYMMDD_HHMMSS-<id>/
        logs/<folder>/1000.log             JSON lines {"index": step, "data": value, "create_time": ...}
        logs/<folder>/2000.log, ...        (the 1001st distinct step onwards, and so on)
        logs/<folder>/_summary.json        {"max", "max_step", "min", "min_step", "num"}: no name
        files/config.yaml                  {key: {desc, sort, value}}
        files/swanlab-metadata.json, files/requirements.txt, console/<date>.log, media/
        run-<id>.swanlab   (>= 0.8)        LevelDB-log framing, header version 2, protobuf Records
        backup.swanlab     (0.6, 0.7)      LevelDB-log framing, header version 1, JSON records

The column folders are numbers, and nothing inside ``logs/`` names them. The names come from

* 0.6/0.7 ``backup.swanlab``: ``{"model_type": "Column", "data": {"key", "kid", "cls"}}`` records
  give the folder (``kid``, counted from 0; system columns ``__swanlab__.*`` get folders too);
* ``runs.swanlab`` (SQLite, one level up): ``tag.folder`` -> ``tag.name`` for the custom line,
  image, audio and text columns; written the moment a column is created (live runs);
* >= 0.8 ``run-<id>.swanlab``: the folders are handed out (from 1) by SwanLab's local callback in
  the order in which a key first shows up in a ScalarRecord/MediaRecord; system columns
  (ColumnRecord class SYSTEM, keys ``__swanlab__.*``) bypass that callback and get no folder;
* pre-0.5 layouts name the folder by the URL-quoted key itself.

Values come from ``logs/``; a run with no ``logs/`` (``swanlab_mode: offline``) is read from the
records of its ``.swanlab`` file instead. ``index`` is the step; NaN is ``NaN`` (>= 0.8) or
``"NaN"`` (<= 0.7). Duplicate steps: 0.6/0.7 keep the first value, >= 0.8 rewrite the log file
with the last one (while 0.10's ``.swanlab`` keeps the first): last one read wins here.

The ``.swanlab`` writer does not flush per record (it grew in ~4 KiB steps in a live LLaMA-Factory
run), so its tail may end mid-record and lag behind or run ahead of ``logs/``; a folder no source
names yet is shown as ``logs/<folder>`` with a problem, until one does. Reading never raises:
what cannot be read becomes a problem string. Reading 20 000 steps x 5 metrics (7 MB .swanlab,
100 slice files) takes about 0.5 s the first time and about 1 ms per poll after that.
"""

from __future__ import annotations

import json
import re
import sqlite3
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

try:  # the app depends on orjson; keep working without it
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

__all__ = ["SwanSeries", "SwanRun", "SwanRunReader", "find_runs", "read_run", "is_system_key"]

RUN_DIR_RE = re.compile(r"^run-(\d{8})_(\d{6})-(.+)$")
SYSTEM_PREFIX = "__swanlab__"
_SLICE_RE = re.compile(r"^(\d+)\.log$")

# LevelDB log framing (google/leveldb doc/log_format.md) as SwanLab writes it
_HEADER_LEN = 7
_BLOCK_LEN = 32768
_IDENT = b":SWL"
_MAGIC = 0xE1D6
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_CRC_SEED = [0] + [zlib.crc32(bytes([t])) & 0xFFFFFFFF for t in (1, 2, 3, 4)]

# swanlab.record.v1.Record and the messages it carries (field numbers identical in 0.8.5 .. 0.10.3)
_REC_START, _REC_FINISH, _REC_COLUMN, _REC_SCALAR, _REC_MEDIA = 10, 11, 12, 13, 14
_COLUMN_CLASS_SYSTEM = 2
_RUN_STATES = {0: "running", 1: "finished", 2: "crashed", 3: "aborted"}


@dataclass(frozen=True)
class SwanSeries:
    key: str
    steps: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class SwanRun:
    path: Path
    run_id: str | None
    series: dict[str, SwanSeries]
    config: dict | None
    problems: tuple[str, ...]
    name: str | None = None  # the experiment's display name ("tranquil-pig-63")
    state: str | None = None  # "finished" | "crashed" | "aborted"; None: running, killed, or unknown


def is_system_key(key: str) -> bool:
    """SwanLab's own hardware columns (``__swanlab__.cpu.pct``, ...)."""
    return key.startswith(SYSTEM_PREFIX)


def find_runs(logdir: Path) -> list[Path]:
    """The ``run-*`` folders of a SwanLab log dir, newest first (by the time in their name).

    A missing or unreadable ``logdir`` gives ``[]``; ``logdir`` itself being a run folder gives
    ``[logdir]``.
    """
    logdir = Path(logdir)
    if RUN_DIR_RE.match(logdir.name) and logdir.is_dir():
        return [logdir]
    try:
        entries = list(logdir.iterdir())
    except OSError:
        return []
    runs: list[tuple[str, str, Path]] = []
    for p in entries:
        try:
            if not (p.name.startswith("run-") and p.is_dir()):
                continue
        except OSError:
            continue
        m = RUN_DIR_RE.match(p.name)
        if m:
            stamp = m.group(1) + m.group(2)
        else:
            try:
                stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(p.stat().st_mtime))
            except OSError:
                stamp = ""
        runs.append((stamp, p.name, p))
    runs.sort(reverse=True)
    return [p for _, _, p in runs]


def read_run(run_dir: Path, *, system: bool = False) -> SwanRun:
    """Everything readable now in one run folder; never raises (see :class:`SwanRunReader`)."""
    return SwanRunReader(run_dir, system=system).poll()


# --------------------------------------------------------------------------- helpers


def _run_id_from_dir(name: str) -> str | None:
    m = RUN_DIR_RE.match(name)
    return m.group(3) if m else None


def _as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity", "+inf"):
        return float(v.strip())
    return None


def _loads(raw: bytes) -> Any:
    if _orjson is not None:
        try:
            return _orjson.loads(raw)
        except Exception:  # NaN / Infinity literals, or not JSON at all
            pass
    return json.loads(raw.decode("utf-8", errors="replace"))


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _pb_fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message; value: int, or bytes (wire type 2)."""
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = _varint(buf, pos)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 1:
            if pos + 8 > end:
                raise ValueError("truncated fixed64")
            val = buf[pos:pos + 8]
            pos += 8
        elif wt == 2:
            n, pos = _varint(buf, pos)
            if pos + n > end:
                raise ValueError("truncated length-delimited field")
            val = buf[pos:pos + n]
            pos += n
        elif wt == 5:
            if pos + 4 > end:
                raise ValueError("truncated fixed32")
            val = buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield field, wt, val


def _pb_str(v: Any) -> str:
    return bytes(v).decode("utf-8", errors="replace") if isinstance(v, (bytes, bytearray, memoryview)) else ""


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= (1 << 63) else v


class _Corrupt(Exception):
    pass


# --------------------------------------------------------------------------- .swanlab records


class _RecordLog:
    """Incremental reader of ``run-<id>.swanlab`` (v2, protobuf) or ``backup.swanlab`` (v1, JSON)."""

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, path: Path | None) -> None:
        self.path = path
        self.ident: tuple[int, int] | None = None  # (st_dev, st_ino)
        self.offset = 0  # absolute offset of the next unread logical record
        self.version: int | None = None
        self.problem: str | None = None
        self.stuck = False  # corrupt or unsupported: stop reading until the file is replaced
        self.want_values = False
        self.want_system = False
        self.name: str | None = None
        self.run_id: str | None = None
        self.state: str | None = None
        self.system_keys: set[str] = set()
        self.order: list[str] = []  # v2: non-system keys in order of first scalar/media record
        self._seen: set[str] = set()
        self._skip: set[str] = set()  # keys seen whose values are not kept
        self.kids: dict[str, str] = {}  # v1: folder (kid) -> key
        self.points: dict[str, dict[int, float]] = {}
        self.via_package = False
        self.package_why = ""

    # ---- reading

    def poll(self, path: Path | None, want_values: bool, want_system: bool) -> None:
        if path != self.path or (want_values and not self.want_values):
            self.reset(path)
        self.want_values, self.want_system = want_values, want_system
        if self.points and not want_values:  # logs/ appeared: it holds the values now
            self.points = {k: v for k, v in self.points.items() if self._wanted(k)}
            self._skip = {k for k in self._seen if not self._wanted(k)}
        if path is None:
            return
        try:
            st = path.stat()
        except OSError as e:
            self.reset(path)
            self.problem = f"{path.name}: cannot read ({e.strerror or e})"
            return
        ident = (st.st_dev, st.st_ino)
        if self.ident is not None and (ident != self.ident or st.st_size < self.offset):
            self.reset(path)
            self.want_values, self.want_system = want_values, want_system
        self.ident = ident
        if self.via_package:
            self._poll_package(path)
            return
        if self.stuck:
            return
        self.problem = None  # a read error last time may have been passing
        if st.st_size <= self.offset:
            return
        try:
            with open(path, "rb") as f:
                if self.version is None:
                    head = f.read(_HEADER_LEN)
                    if len(head) < _HEADER_LEN:
                        return  # not written yet
                    ident_, magic, version = struct.unpack("<4sHB", head)
                    if ident_ != _IDENT or magic != _MAGIC:
                        self._stop(f"{path.name}: not a SwanLab record file (bad header)")
                        return
                    if version not in (1, 2):
                        if self._try_package(path, f"unsupported record-file version {version}"):
                            return
                        self._stop(f"{path.name}: unsupported record-file version {version} "
                                   "(this reader knows 1: swanlab 0.6/0.7, 2: swanlab >= 0.8)")
                        return
                    self.version = version
                    self.offset = _HEADER_LEN
                f.seek(self.offset)
                buf = f.read()
        except OSError as e:
            self.problem = f"{path.name}: cannot read ({e.strerror or e})"
            return
        base = self.offset
        try:
            for data, end in self._frames(buf, base):
                self._record(data)
                self.offset = end
        except _Corrupt as e:
            self._stop(f"{path.name}: {e} at byte {self.offset}; later records not read")
        except Exception as e:  # a record this reader does not understand
            if self.version == 2 and self._try_package(path, str(e)):
                return
            self._stop(f"{path.name}: unreadable record at byte {self.offset} ({e}); later records not read")

    def _stop(self, message: str) -> None:
        self.problem = message
        self.stuck = True

    @staticmethod
    def _frames(buf: bytes, base: int) -> Iterator[tuple[bytes, int]]:
        """Complete logical records in buf (which starts at absolute offset base), with their end."""
        pos, n = 0, len(buf)
        parts: list[bytes] | None = None
        while True:
            left = _BLOCK_LEN - (base + pos) % _BLOCK_LEN
            if left < _HEADER_LEN:  # block trailer: zero padding
                if pos + left > n:
                    return
                if buf[pos:pos + left].strip(b"\x00"):
                    raise _Corrupt("bad block padding")
                pos += left
            if pos + _HEADER_LEN > n:
                return
            crc, length, typ = struct.unpack_from("<IHB", buf, pos)
            if typ not in (_FULL, _FIRST, _MIDDLE, _LAST):
                raise _Corrupt(f"bad record type {typ}")
            if pos + _HEADER_LEN + length > n:
                return  # still being written
            data = buf[pos + _HEADER_LEN:pos + _HEADER_LEN + length]
            if zlib.crc32(data, _CRC_SEED[typ]) & 0xFFFFFFFF != crc:
                raise _Corrupt("record checksum mismatch")
            pos += _HEADER_LEN + length
            if typ == _FULL:
                if parts is not None:
                    raise _Corrupt("unfinished chunked record")
                yield data, base + pos
            elif typ == _FIRST:
                if parts is not None:
                    raise _Corrupt("unfinished chunked record")
                parts = [data]
            else:
                if parts is None:
                    raise _Corrupt("chunk without a first part")
                parts.append(data)
                if typ == _LAST:
                    yield b"".join(parts), base + pos
                    parts = None

    # ---- records

    def _record(self, data: bytes) -> None:
        if self.version == 1:
            self._record_v1(data)
        else:
            self._record_v2(data)

    def _first_seen(self, key: str) -> None:
        if key not in self._seen:
            self._seen.add(key)
            if key not in self.system_keys and not is_system_key(key):
                self.order.append(key)
            if not self._wanted(key):
                self._skip.add(key)

    def _wanted(self, key: str) -> bool:
        system = key in self.system_keys or is_system_key(key)
        return self.want_system if system else self.want_values

    def _keep(self, key: str, step: int, value: float) -> None:
        if self._wanted(key):
            self.points.setdefault(key, {})[step] = value

    def _record_v2(self, data: bytes) -> None:
        for field, wt, val in _pb_fields(data):
            if wt != 2 or field not in (_REC_START, _REC_FINISH, _REC_COLUMN, _REC_SCALAR, _REC_MEDIA):
                continue
            if field == _REC_SCALAR or field == _REC_MEDIA:
                # fast path: the key (field 1) is serialized first; a key seen before whose values
                # are not wanted needs nothing more (in local mode the values come from logs/)
                if val[:1] == b"\x0a":
                    n, p = _varint(val, 1)
                    if val[p:p + n].decode("utf-8", errors="replace") in self._skip:
                        continue
                key, step, number = "", 0, 0.0
                for f2, wt2, v2 in _pb_fields(val):
                    if f2 == 1 and wt2 == 2:
                        key = _pb_str(v2)
                    elif f2 == 2 and wt2 == 0:
                        step = _int64(v2)
                    elif f2 == 5 and wt2 == 2 and field == _REC_SCALAR:
                        for f3, wt3, v3 in _pb_fields(v2):
                            if f3 == 1 and wt3 == 1:
                                number = struct.unpack("<d", v3)[0]
                if not key:
                    continue
                self._first_seen(key)
                if field == _REC_SCALAR:
                    self._keep(key, step, number)
            elif field == _REC_COLUMN:
                cls, key = 0, ""
                for f2, wt2, v2 in _pb_fields(val):
                    if f2 == 1 and wt2 == 0:
                        cls = v2
                    elif f2 == 3 and wt2 == 2:
                        key = _pb_str(v2)
                if key and cls == _COLUMN_CLASS_SYSTEM:
                    self.system_keys.add(key)
            elif field == _REC_START:
                for f2, wt2, v2 in _pb_fields(val):
                    if f2 == 4 and wt2 == 2:
                        self.name = _pb_str(v2) or self.name
                    elif f2 == 10 and wt2 == 2:
                        self.run_id = _pb_str(v2) or self.run_id
            elif field == _REC_FINISH:
                state = 0
                for f2, wt2, v2 in _pb_fields(val):
                    if f2 == 1 and wt2 == 0:
                        state = v2
                self.state = _RUN_STATES.get(state, f"state {state}")

    def _record_v1(self, data: bytes) -> None:
        rec = json.loads(data.decode("utf-8", errors="replace"))
        if not isinstance(rec, dict) or not isinstance(rec.get("data"), dict):
            raise ValueError("not a SwanLab JSON record")
        kind, d = rec.get("model_type"), rec["data"]
        if kind == "Column":
            key, kid = d.get("key"), d.get("kid")
            if isinstance(key, str):
                if d.get("cls") == "SYSTEM":
                    self.system_keys.add(key)
                if kid is not None:
                    self.kids[str(kid)] = key
        elif kind in ("Scalar", "Media"):
            key = d.get("key")
            if isinstance(key, str):
                self._first_seen(key)
                metric = d.get("metric") if isinstance(d.get("metric"), dict) else {}
                step = d.get("step", metric.get("index"))
                value = _as_float(metric.get("data")) if kind == "Scalar" else None
                if isinstance(step, int) and value is not None:
                    self._keep(key, step, value)
        elif kind == "Experiment":
            self.name = d.get("name") if isinstance(d.get("name"), str) else self.name
            self.run_id = d.get("id") if isinstance(d.get("id"), str) else self.run_id
        elif kind == "Footer":
            self.state = "finished" if d.get("success") else "crashed"

    # ---- fallback: the swanlab package itself, when importable (it is not in the app's venv)

    def _try_package(self, path: Path, why: str) -> bool:
        try:
            from swanlab.proto.swanlab.record.v1.record_pb2 import Record  # noqa: F401
            from swanlab.sdk.internal.core_python.store import DataStoreReader  # noqa: F401
        except Exception:
            return False
        self.via_package, self.package_why = True, why
        self._poll_package(path)
        return True

    def _poll_package(self, path: Path) -> None:
        try:
            from swanlab.proto.swanlab.record.v1.record_pb2 import Record
            from swanlab.sdk.internal.core_python.store import DataStoreReader
        except Exception:
            return
        why, keep = self.package_why, (self.want_values, self.want_system)
        self.reset(path)
        self.want_values, self.want_system = keep
        self.via_package, self.package_why = True, why
        self.problem = f"{path.name}: {why}; read with the installed swanlab package"
        try:
            reader = DataStoreReader()
            reader.open(str(path))
            try:
                for raw in reader:
                    rec = Record()
                    rec.ParseFromString(raw)
                    kind = rec.WhichOneof("record_type")
                    if kind == "column":
                        if rec.column.column_class == _COLUMN_CLASS_SYSTEM:
                            self.system_keys.add(rec.column.column_key)
                    elif kind in ("scalar", "media"):
                        m = getattr(rec, kind)
                        self._first_seen(m.key)
                        if kind == "scalar":
                            self._keep(m.key, int(m.step), float(m.value.number))
                    elif kind == "start":
                        self.name, self.run_id = rec.start.name or None, rec.start.id or None
                    elif kind == "finish":
                        self.state = _RUN_STATES.get(int(rec.finish.state))
            finally:
                reader.close()
        except Exception as e:
            self.problem = f"{path.name}: {why}; the swanlab package could not read it either ({e})"


# --------------------------------------------------------------------------- logs/<folder>/*.log


class _SliceFile:
    __slots__ = ("ident", "offset", "lines", "bad", "first_bad", "tail")

    def __init__(self) -> None:
        self.ident: tuple[int, int] | None = None
        self.offset = 0
        self.lines = 0
        self.bad = 0
        self.first_bad = 0
        self.tail = 0  # bytes of an unfinished last line


class _Column:
    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.reset()

    def reset(self) -> None:
        self.files: dict[str, _SliceFile] = {}
        self.points: dict[int, float] = {}
        self.max_step: int | None = None
        self.ordered = True
        self.numeric = False
        self.version = getattr(self, "version", 0) + 1  # bumps on every change (resets too)
        self.errors: list[str] = []

    def poll(self, folder_path: Path) -> None:
        self.errors = []
        try:
            names = [n.name for n in folder_path.iterdir() if _SLICE_RE.match(n.name)]
        except OSError as e:
            self.errors.append(f"logs/{self.folder}: cannot list ({e.strerror or e})")
            return
        names.sort(key=lambda n: int(n[:-4]))
        for name in list(self.files):
            if name not in names:  # a slice vanished: start over
                self.reset()
                break
        stats = {}
        for name in names:
            try:
                st = (folder_path / name).stat()
            except OSError:
                continue
            stats[name] = st
            state = self.files.get(name)
            if state is not None and ((st.st_dev, st.st_ino) != state.ident or st.st_size < state.offset):
                # rewritten in place (swanlab >= 0.8 does so for a repeated step): read it all again
                self.reset()
                break
        for name in names:
            st = stats.get(name)
            if st is None:
                continue
            state = self.files.setdefault(name, _SliceFile())
            state.ident = (st.st_dev, st.st_ino)
            if st.st_size > state.offset:
                self._read(folder_path / name, state)
            if state.bad:
                self.errors.append(f"logs/{self.folder}/{name}: {state.bad} unreadable line"
                                   f"{'s' if state.bad > 1 else ''} skipped (first: line {state.first_bad})")
            if state.tail:
                self.errors.append(f"logs/{self.folder}/{name}: last line unfinished "
                                   f"({state.tail} bytes), not read yet")

    def _read(self, path: Path, state: _SliceFile) -> None:
        try:
            with open(path, "rb") as f:
                f.seek(state.offset)
                buf = f.read()
        except OSError as e:
            self.errors.append(f"logs/{self.folder}/{path.name}: cannot read ({e.strerror or e})")
            return
        end = buf.rfind(b"\n") + 1
        state.tail = len(buf) - end
        if end == 0:
            return
        changed = False
        for line in buf[:end].split(b"\n")[:-1]:
            state.lines += 1
            if not line.strip():
                continue
            try:
                obj = _loads(line)
                step = obj.get("index")
                if isinstance(step, bool) or not isinstance(step, (int, float)):
                    raise ValueError("no index")
            except Exception:
                state.bad += 1
                state.first_bad = state.first_bad or state.lines
                continue
            value = _as_float(obj.get("data"))
            if value is None:
                continue  # media/text columns: file names, not numbers
            step = int(step)
            if self.max_step is not None and step <= self.max_step and step not in self.points:
                self.ordered = False
            self.points[step] = value
            self.max_step = step if self.max_step is None else max(self.max_step, step)
            self.numeric = changed = True
        state.offset += end
        if changed:
            self.version += 1

    def series(self, key: str) -> SwanSeries:
        items = self.points.items()
        if not self.ordered:
            items = sorted(items)
        steps = tuple(float(s) for s, _ in items)
        return SwanSeries(key, steps, tuple(v for _, v in items))


def _folder_sort_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


# --------------------------------------------------------------------------- the reader


class SwanRunReader:
    """Re-reads one run folder cheaply: ``poll()`` reads only what was appended since the last call.

    Per column it remembers, for each ``logs/<folder>/<n>.log``, the inode and the byte offset
    after the last complete line (an unfinished last line waits for the next poll); a file that
    was replaced or shrank is read again from the start. The ``.swanlab`` record file is read on
    from the end of its last complete record. ``system=True`` adds SwanLab's hardware columns
    (``__swanlab__.*``), left out by default.
    """

    def __init__(self, run_dir: Path, *, system: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.system = system
        self._columns: dict[str, _Column] = {}
        self._records = _RecordLog()
        self._built: dict[str, tuple[int, str, SwanSeries]] = {}
        self._config_sig: tuple[int, int] | None = None
        self._config: dict | None = None
        self._config_problem: str | None = None
        self._db_names: dict[str, str] = {}

    # ---- sources

    def _record_file(self) -> Path | None:
        try:
            files = sorted(p.name for p in self.run_dir.iterdir() if p.name.endswith(".swanlab") and p.is_file())
        except OSError:
            return None
        for pick in ([n for n in files if n.startswith("run-")], [n for n in files if n == "backup.swanlab"], files):
            if pick:
                return self.run_dir / pick[0]
        return None

    def _read_db(self) -> dict[str, str]:
        """folder -> name from swanboard's SQLite ``runs.swanlab`` next to the run folders."""
        db = self.run_dir.parent / "runs.swanlab"
        if not db.is_file():
            return {}
        # swanboard keeps the database in WAL mode. While a writer is connected, -wal and -shm
        # exist and a read-only connection shares them; otherwise open it immutable, because a
        # plain read-only connection would leave fresh -wal/-shm files in the user's log dir.
        live = db.with_name(db.name + "-wal").exists()
        try:
            con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro{'' if live else '&immutable=1'}",
                                  uri=True, timeout=0.5)
        except (sqlite3.Error, ValueError, OSError):
            return {}
        try:
            rows = con.execute(
                "SELECT tag.folder, tag.name FROM tag JOIN experiment ON tag.experiment_id = experiment.id "
                "WHERE experiment.run_id = ?", (self.run_dir.name,)).fetchall()
        except sqlite3.Error:
            return {}
        finally:
            con.close()
        return {str(f): n for f, n in rows if f is not None and isinstance(n, str)}

    def _read_config(self, problems: list[str]) -> dict | None:
        path = self.run_dir / "files" / "config.yaml"
        try:
            st = path.stat()
        except OSError:
            return self._config
        sig = (st.st_mtime_ns, st.st_size)
        if sig != self._config_sig:
            self._config_sig = sig
            self._config_problem = None
            try:
                import yaml

                loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
                data = yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=loader)
                if data is None:
                    self._config = {}
                elif isinstance(data, dict):
                    wrapped = all(isinstance(v, dict) and "value" in v for v in data.values())
                    self._config = {k: v["value"] for k, v in data.items()} if wrapped and data else data
                else:
                    self._config_problem = "files/config.yaml: not a mapping"
            except Exception as e:
                self._config_problem = f"files/config.yaml: unreadable ({type(e).__name__})"
        if self._config_problem:
            problems.append(self._config_problem)
        return self._config

    # ---- poll

    def poll(self) -> SwanRun:
        try:
            return self._poll()
        except Exception as e:  # never raise into the UI
            return SwanRun(self.run_dir, _run_id_from_dir(self.run_dir.name), {}, None,
                           (f"internal error reading the run: {type(e).__name__}: {e}",))

    def _poll(self) -> SwanRun:
        problems: list[str] = []
        run_id = _run_id_from_dir(self.run_dir.name)
        if not self.run_dir.is_dir():
            return SwanRun(self.run_dir, run_id, {}, None, (f"{self.run_dir}: no such run folder",))

        logs = self.run_dir / "logs"
        folders: list[str] = []
        if logs.is_dir():
            try:
                folders = sorted((p.name for p in logs.iterdir() if p.is_dir() and not p.name.startswith(".")),
                                 key=_folder_sort_key)
            except OSError as e:
                problems.append(f"logs: cannot list ({e.strerror or e})")
        for gone in set(self._columns) - set(folders):
            del self._columns[gone]
        for folder in folders:
            col = self._columns.setdefault(folder, _Column(folder))
            col.poll(logs / folder)

        rec_path = self._record_file()
        recs = self._records
        # no logs/ at all: an offline-mode run, whose values are only in the .swanlab records (in
        # local mode logs/ exists from the start, and the records may run ahead of it or lag)
        recs.poll(rec_path, want_values=not logs.is_dir(), want_system=self.system)
        if recs.problem:
            problems.append(recs.problem)

        # folder -> key
        names: dict[str, str] = {}
        numeric = [f for f in folders if f.isdigit()]
        if recs.version == 1:
            names.update({f: recs.kids[f] for f in folders if f in recs.kids})
        elif recs.version == 2 or recs.via_package:
            for i, key in enumerate(recs.order, start=1):
                if str(i) in self._columns:
                    names[str(i)] = key
        unresolved = [f for f in numeric if f not in names]
        if numeric and (unresolved or not self._db_names):
            self._db_names = self._read_db() or self._db_names
        for folder, key in self._db_names.items():
            if folder not in self._columns:
                continue
            if folder in names and names[folder] != key:
                problems.append(f"logs/{folder}: named {names[folder]!r} by {rec_path.name if rec_path else '?'} "
                                f"but {key!r} by runs.swanlab; using {key!r}")
            names[folder] = key
        for folder in folders:
            if folder not in names and not folder.isdigit():
                names[folder] = unquote(folder)  # pre-0.5 layout: the folder is the quoted key
        unresolved = [f for f in numeric if f not in names and self._columns[f].numeric]
        if unresolved:
            sources = [f"{rec_path.name} does not name it yet" if rec_path else "no .swanlab record file",
                       "runs.swanlab does not either" if self._db_names else "no runs.swanlab tags"]
            problems.extend(f"logs/{f}: no metric name found ({'; '.join(sources)}); shown as 'logs/{f}'"
                            for f in unresolved)

        series: dict[str, SwanSeries] = {}
        built: dict[str, tuple[int, str, SwanSeries]] = {}
        system_keys = recs.system_keys
        for folder in folders:
            col = self._columns[folder]
            problems.extend(col.errors)
            if not col.numeric:
                continue
            key = names.get(folder, f"logs/{folder}")
            if not self.system and (key in system_keys or is_system_key(key)):
                continue
            if key in series:
                problems.append(f"logs/{folder}: key {key!r} also names another folder; skipped")
                continue
            prev = self._built.get(folder)
            s = prev[2] if prev and prev[0] == col.version and prev[1] == key else col.series(key)
            built[folder] = (col.version, key, s)
            series[key] = s
        self._built = built
        for key, pts in recs.points.items():  # offline-mode runs, and hardware columns on request
            if key in series or not pts or (not self.system and (key in system_keys or is_system_key(key))):
                continue
            items = sorted(pts.items())
            series[key] = SwanSeries(key, tuple(float(s) for s, _ in items), tuple(v for _, v in items))

        if not folders and rec_path is None:
            problems.append("no logs/ folder and no .swanlab record file: nothing logged yet")

        config = self._read_config(problems)
        return SwanRun(
            path=self.run_dir,
            run_id=run_id or recs.run_id or _id_from_record_name(rec_path),
            series=series,
            config=config,
            problems=tuple(problems),
            name=recs.name,
            state=recs.state,
        )


def _id_from_record_name(path: Path | None) -> str | None:
    if path is not None and path.name.startswith("run-") and path.name.endswith(".swanlab"):
        return path.name[4:-8] or None
    return None
