"""Write one setting into the user's config.toml, keeping everything else as the user wrote it.

The file is edited with tomlkit (comments, blank lines, key order and quoting survive), checked
like ``load_settings`` checks it, and replaced atomically: a temporary file in the same folder,
fsync, ``os.replace``; the file's mode (and owner, when we may) is kept, and a symlinked
config.toml (a dotfiles repository) is written through to its target. A missing file or folder is
created. A file that is not valid TOML is never overwritten: ``SettingsWriteError`` says so.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .settings import SECTIONS, check_value, config_file


class SettingsWriteError(Exception):
    """The setting could not be saved; the message names the file and what to do."""


def _toml_value(key: str, value: Any) -> Any:
    if key == "env":
        table = tomlkit.table()
        for k, v in value:
            table[k] = v
        return table
    if isinstance(value, tuple):
        return list(value)
    return value


def save_setting(section: str, key: str, value: Any, path: Path | None = None) -> None:
    """Set ``[section] key = value`` in ``path`` (default: the user's config.toml).

    ValueError: not a setting, or a value ``load_settings`` would refuse.
    SettingsWriteError: the file cannot be read, is not valid TOML, or cannot be written.
    """
    if section not in SECTIONS:
        raise ValueError(f"unknown settings section [{section}] (known: {', '.join(SECTIONS)})")
    if key not in SECTIONS[section]:
        raise ValueError(f"unknown setting {section}.{key} (known in [{section}]: {', '.join(SECTIONS[section])})")
    try:
        checked = check_value(key, value)
    except ValueError as e:
        raise ValueError(f"{section}.{key} {e}") from None

    path = Path(path) if path is not None else config_file()
    target = Path(os.path.realpath(path))  # write through a symlink, do not replace it
    try:
        text = target.read_text(encoding="utf-8")
        st = target.stat()
    except FileNotFoundError:
        text, st = "", None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsWriteError(f"{path}: cannot read it ({e}); {section}.{key} not saved") from e
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise SettingsWriteError(f"{path}: not valid TOML ({e}); not overwritten, so {section}.{key} was not "
                                 "saved: fix the file (or move it away) and try again") from e

    table = doc.get(section)
    if table is None:
        table = tomlkit.table()
        doc.add(section, table)
    elif not isinstance(table, dict):
        raise SettingsWriteError(f"{path}: {section} is not a table; {section}.{key} not saved")
    table[key] = _toml_value(key, checked)
    _write_atomic(target, doc.as_string(), st)


def _write_atomic(target: Path, text: str, st: os.stat_result | None) -> None:
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SettingsWriteError(f"cannot create {folder}: {e.strerror or e}") from e
    tmp = folder / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        # a new file gets 0666 less the umask, like any file the user creates; an old one keeps its mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise SettingsWriteError(f"cannot write in {folder}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if st is not None:
                os.fchmod(f.fileno(), st.st_mode & 0o7777)
                if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(f.fileno(), st.st_uid, st.st_gid)
                    except OSError:
                        pass  # only root may give a file away; the content matters more
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise SettingsWriteError(f"cannot write {target}: {e.strerror or e}") from e
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
