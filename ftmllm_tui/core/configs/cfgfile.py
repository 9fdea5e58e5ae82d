"""Read and safely save the YAML configs edited in the config editor.

Saving is careful: it refuses to overwrite a file that changed on disk since it was read (`Conflict`),
keeps a timestamped backup of what it replaces, and writes atomically (temp file in the same folder,
fsync, rename), so a failure leaves the file on disk as it was. Bytes that are not valid UTF-8 are
kept as surrogate escapes and written back unchanged.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml import events as ev
from ruamel.yaml.error import YAMLError

MAX_BYTES = 5 * 1024 * 1024
_UNCHANGED = "(the file on disk is unchanged)"
_REASONS = {errno.ENOENT: "it does not exist", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
            errno.EROFS: "the file system is read-only", errno.EISDIR: "it is a folder, not a file",
            errno.ENOTDIR: "a part of its path is not a folder", errno.ENAMETOOLONG: "the name is too long",
            errno.ELOOP: "too many symbolic links (a link loop?)", errno.EIO: "input/output error (disk problem?)"}


class ConfigFileError(Exception):
    """A user-facing message, e.g. 'cannot read configs/x.yaml: permission denied'."""


class Conflict(ConfigFileError):
    """The file changed on disk since it was opened; `disk_text` is what is there now."""

    def __init__(self, message: str, disk_text: str, disk_stamp: Stamp | None):
        super().__init__(message)
        self.disk_text = disk_text
        self.disk_stamp = disk_stamp


@dataclass(frozen=True, slots=True)
class Stamp:
    mtime_ns: int
    size: int
    inode: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Stamp | None:
        snap = _snap(Path(path), "read")
        return None if snap is None else snap[0]


@dataclass(frozen=True, slots=True)
class Loaded:
    path: Path
    text: str
    stamp: Stamp | None
    undecodable: bool = False


@dataclass(frozen=True, slots=True)
class Saved:
    path: Path
    stamp: Stamp
    backup: Path | None


def _show(path: Path) -> str:
    path = Path(path)
    with contextlib.suppress(ValueError, OSError):
        if path.is_absolute():
            return str(path.relative_to(Path.cwd()))
    return str(path)


def _reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()


def _snap(path: Path, verb: str, limit: int | None = None) -> tuple[Stamp, bytes] | None:
    """The file's stamp and bytes, None when it does not exist; other problems raise ConfigFileError."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise ConfigFileError(f"cannot {verb} {_show(path)}: it is not a regular file")
        if limit is not None and st.st_size > limit:
            raise ConfigFileError(f"cannot {verb} {_show(path)}: {st.st_size / 1e6:.1f} MB is too large for a config "
                                  f"(the limit is {limit / 1e6:.0f} MB)")
        with open(path, "rb") as f:
            st, data = os.fstat(f.fileno()), f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigFileError(f"cannot {verb} {_show(path)}: {_reason(e)}") from e
    return _stamp(st, data), data


def _stamp(st: os.stat_result, data: bytes) -> Stamp:
    return Stamp(st.st_mtime_ns, len(data), st.st_ino, hashlib.sha256(data).hexdigest())


def _decode(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="surrogateescape"), True


def read(path: Path, *, allow_missing: bool = False) -> Loaded:
    path = Path(path)
    snap = _snap(path, "read", MAX_BYTES)
    if snap is None:
        if not allow_missing:
            raise ConfigFileError(f"cannot read {_show(path)}: the file does not exist")
        return Loaded(path, "", None)
    text, bad = _decode(snap[1])
    return Loaded(path, text, snap[0], bad)


def _differs(expected: Stamp | None, current: Stamp | None) -> bool:
    # Content decides: a `touch` (new mtime) or an identical rewrite (new inode) is not a change.
    if expected is None or current is None:
        return expected is not current
    return expected.size != current.size or expected.sha256 != current.sha256


def changed_on_disk(loaded_or_stamp: Loaded | Stamp | None, path: Path) -> bool:
    expected = loaded_or_stamp.stamp if isinstance(loaded_or_stamp, Loaded) else loaded_or_stamp
    with contextlib.suppress(OSError):  # cheap first: a new size is a change (errors: let Stamp.of tell)
        if expected is not None and os.stat(path).st_size != expected.size:
            return True
    return _differs(expected, Stamp.of(path))


def _backup_folder(path: Path, backup_dir: Path) -> Path:
    real = os.path.realpath(path)  # e.g. train.yaml-3fa2c1d0e9ab: two train.yaml in different folders don't mix
    return Path(backup_dir) / f"{Path(real).name}-{hashlib.sha256(os.fsencode(real)).hexdigest()[:12]}"


def backups(path: Path, backup_dir: Path) -> list[Path]:
    """This file's backups, newest first."""
    folder = _backup_folder(path, backup_dir)
    pat = re.compile(re.escape(Path(os.path.realpath(path)).name) + r"\.(\d{8}-\d{6}-\d{6})(?:-(\d+))?")
    found = []
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            if m := pat.fullmatch(p.name):
                found.append(((m[1], int(m[2] or 0)), p))
    return [p for _, p in sorted(found, reverse=True)]


def _make_backup(path: Path, data: bytes, backup_dir: Path) -> Path:
    folder = _backup_folder(path, backup_dir)
    base = folder / f"{Path(os.path.realpath(path)).name}.{datetime.datetime.now():%Y%m%d-%H%M%S-%f}"
    dest, n = base, 0
    while dest.exists():  # two saves within a microsecond
        n, dest = n + 1, base.with_name(f"{base.name}-{n + 1}")
    with open(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return dest


def _umask() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def save(path: Path, text: str, *, expected: Stamp | None, backup_dir: Path, keep: int = 10,
         force: bool = False) -> Saved:
    path = Path(path)
    name = _show(path)
    real = Path(os.path.realpath(path))  # a symlink is written through; the link itself stays
    try:
        data = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError as e:
        raise ConfigFileError(f"cannot save {name}: the text holds characters that cannot be written "
                              f"(position {e.start}) {_UNCHANGED}") from e
    folder = _backup_folder(path, backup_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / ".lock", "a")  # noqa: SIM115 - held for the whole save
    except OSError as e:
        raise ConfigFileError(f"cannot save {name}: cannot use the backup folder {_show(folder)}: {_reason(e)} "
                              f"{_UNCHANGED}") from e
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two saves of one file (threads or app instances) take turns
        return _save_locked(path, real, name, data, expected, backup_dir, keep, force)


def _save_locked(path: Path, real: Path, name: str, data: bytes, expected: Stamp | None, backup_dir: Path,
                 keep: int, force: bool) -> Saved:
    snap = _snap(real, "save")
    current = None if snap is None else snap[0]
    if not force and _differs(expected, current):
        what = "was deleted" if current is None else "was created" if expected is None else "was changed"
        disk = "" if snap is None else _decode(snap[1])[0]
        raise Conflict(f"{name} {what} on disk since it was opened", disk, current)
    if snap is not None and snap[1] == data:
        return Saved(path, snap[0], None)  # nothing to write
    backup = None
    if snap is not None and keep > 0:
        try:
            backup = _make_backup(path, snap[1], backup_dir)
        except OSError as e:
            raise ConfigFileError(f"cannot save {name}: could not make a backup in {_show(backup_dir)}: "
                                  f"{_reason(e)} {_UNCHANGED}") from e
    for old in backups(path, backup_dir)[max(keep, 0):]:
        with contextlib.suppress(OSError):
            old.unlink()
    try:
        fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
    except OSError as e:
        why = "is not writable" if e.errno in (errno.EACCES, errno.EPERM) else "is not usable"
        raise ConfigFileError(f"cannot save {name}: the folder {_show(real.parent)} {why} ({_reason(e)}) "
                              f"{_UNCHANGED}") from e
    replaced = False
    try:
        with open(fd, "wb") as f:
            if snap is not None:
                old = os.stat(real)
                mine = os.fstat(f.fileno())
                for uid in ((old.st_uid, -1) if (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid) else ()):
                    with contextlib.suppress(PermissionError):  # only root may give a file away; then the group
                        os.chown(tmp, uid, old.st_gid)
                        break
                os.chmod(tmp, stat.S_IMODE(old.st_mode))
            else:
                os.chmod(tmp, 0o666 & ~_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, real)
            replaced = True
            st = os.fstat(f.fileno())
    except BaseException as e:
        if not replaced:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(e, OSError):
                raise ConfigFileError(f"cannot save {name}: {_reason(e)} {_UNCHANGED}") from e
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(real.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return Saved(path, _stamp(st, data), backup)


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def diff(old: str, new: str, name: str, context: int = 3, *, old_label: str = "on disk",
         new_label: str = "editor") -> str:
    """Unified diff from the file on disk to the editor's text ("" when they are equal); the labels
    name the two sides in the headers (a backup when restoring one)."""
    if old == new:
        return ""
    out = []
    for line in difflib.unified_diff(_lines(old), _lines(new), f"{name} ({old_label})", f"{name} ({new_label})",
                                     n=context):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


# ---- one-off key overrides ----------------------------------------------------------------------------------

def _rt() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 1 << 30
    return y


def _node(events: list, i: int) -> tuple[int, int, int]:
    """(start, end of its last character, index after) of the node starting at events[i]."""
    e = events[i]
    if not isinstance(e, ev.CollectionStartEvent):
        return e.start_mark.index, e.end_mark.index, i + 1
    start, end, flows = e.start_mark.index, e.end_mark.index, [bool(e.flow_style)]
    while flows:
        i += 1
        e = events[i]
        if isinstance(e, ev.CollectionStartEvent):
            flows.append(bool(e.flow_style) or flows[-1])
        elif isinstance(e, ev.CollectionEndEvent):
            if flows.pop():
                end = max(end, e.end_mark.index)
        else:
            end = max(end, e.end_mark.index)
    return start, end, i + 1


def _value(raw: str) -> tuple[str, object]:
    """The text to put after `key: ` and what it loads as; anything that is not one plain YAML value is quoted."""
    s = raw.strip()
    if "\n" not in s and "\r" not in s:
        with contextlib.suppress(YAMLError):
            events = list(_rt().parse(s))
            first = next((e for e in events if isinstance(e, ev.NodeEvent)), None)
            style = getattr(first, "style", None)
            plain = isinstance(first, (ev.ScalarEvent, ev.AliasEvent)) and style not in ("|", ">")
            flow = isinstance(first, ev.CollectionStartEvent) and first.flow_style
            if (plain or flow) and _node(events, events.index(first))[1] == len(s):  # no trailing comment
                return s, _rt().load(s)
    return json.dumps(s, ensure_ascii=False), s


def _same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _splice(text: str, sets: dict[str, str], deletes: set[str]) -> str:
    events = list(_rt().parse(text))
    root = next((i for i, e in enumerate(events) if isinstance(e, ev.NodeEvent)), None)
    edits: list[tuple[int, int, str]] = []
    indent, pos = "", len(text)
    end_doc = next((e for e in events if isinstance(e, ev.DocumentEndEvent) and e.explicit), None)
    if end_doc is not None:
        pos = text.rfind("\n", 0, end_doc.start_mark.index) + 1
    if root is not None and isinstance(events[root], ev.MappingStartEvent):
        if events[root].flow_style:
            raise ValueError("flow-style mapping")
        i, first = root + 1, True
        while not isinstance(events[i], ev.CollectionEndEvent):
            ki = i
            kstart, kend, i = _node(events, i)
            vstart, vend, i = _node(events, i)
            key = events[ki].value if isinstance(events[ki], ev.ScalarEvent) else None
            line0 = text.rfind("\n", 0, kstart) + 1
            if first and text[line0:kstart].strip(" ") == "":
                indent = text[line0:kstart]
            first = False
            colon = text.index(":", kend)
            if text[kend:colon].strip():
                raise ValueError("unusual key")
            if vstart == vend:  # an empty value: its mark may sit on the next line
                vstart = vend = colon + 1
            while vend > vstart and text[vend - 1] in " \t\r\n":
                vend -= 1
            if key in sets:
                region = text[colon + 1:vstart] if vstart > colon else ""
                notes = [ln[ln.index("#"):].rstrip() for ln in region.splitlines() if "#" in ln]
                new = " " + sets.pop(key) + "".join("  " + n for n in notes)
                edits.append((colon + 1, vend, new))
            elif key in deletes:
                start = line0 if text[line0:kstart].strip() == "" else kstart
                eol = text.find("\n", vend)
                eol = len(text) if eol < 0 else eol + 1
                rest = text[vend:eol].strip()
                edits.append((start, eol if not rest or rest.startswith("#") else vend, ""))
    elif root is not None and not (isinstance(events[root], ev.ScalarEvent) and events[root].value == ""):
        raise ValueError("not a mapping")
    if sets:
        nl = "\r\n" if "\r\n" in text else "\n"
        lead = nl if pos and not text[:pos].endswith("\n") else ""
        keys = {k: k if re.fullmatch(r"[A-Za-z_][\w.\-/]*", k) else json.dumps(k, ensure_ascii=False) for k in sets}
        edits.append((pos, pos, lead + "".join(f"{indent}{keys[k]}: {v}{nl}" for k, v in sets.items())))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def set_keys(text: str, overrides: Mapping[str, str]) -> str:
    """Set (or, with an empty value, delete) top-level keys, changing only their own lines."""
    if not overrides:
        return text
    try:
        want = _rt().load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigFileError(f"the config is not valid YAML: {getattr(e, 'problem', None) or e}{where}") from e
    if want is None:
        want = _rt().load("{}")
    if not isinstance(want, dict):
        raise ConfigFileError("the config is not a YAML mapping of `key: value` lines")
    values = {k: _value(v) for k, v in overrides.items() if v.strip()}
    deletes = {k for k, v in overrides.items() if not v.strip()}
    for k in deletes:
        want.pop(k, None)
    for k, (_, parsed) in values.items():
        want[k] = parsed

    def ok(out: str) -> bool:
        with contextlib.suppress(YAMLError):
            got = _rt().load(out) or {}
            return list(got) == list(want) and all(_same(got[k], want[k]) for k in want)
        return False

    with contextlib.suppress(ValueError):
        out = _splice(text, {k: v for k, (v, _) in values.items()}, deletes)
        if ok(out):  # the result must load as the original with exactly these keys changed
            return out
    raise ConfigFileError("cannot change this config safely: its layout is too unusual; edit it by hand")
