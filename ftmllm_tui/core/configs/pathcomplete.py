"""Path completion for config fields: what a typed path can grow into (folders and config files)."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_EXTS = (".yaml", ".yml", ".json")


def complete_path(value: str, cwd: str | os.PathLike[str] | None = None, *, exts: tuple[str, ...] = CONFIG_EXTS,
                  limit: int = 2000) -> str | None:
    """The completion of ``value`` (relative to ``cwd``), or None: the longest common start of
    the matching entries when it adds something, else the first match in order (folders end in
    ``/``). Hidden entries only when the typed part starts with a dot. At most ``limit`` entries
    of a folder are looked at."""
    if not value or value.endswith(("\n", "\r")):
        return None
    base = Path(cwd or os.getcwd())
    head, sep, part = value.rpartition("/")
    folder = Path(os.path.expanduser(head + sep)) if sep else Path(".")
    if not folder.is_absolute():
        folder = base / folder
    matches: list[str] = []
    try:
        with os.scandir(folder) as it:
            for i, e in enumerate(it):
                if i >= limit:
                    break
                if not e.name.startswith(part) or (e.name.startswith(".") and not part.startswith(".")):
                    continue
                try:
                    is_dir = e.is_dir()
                except OSError:
                    continue
                if is_dir:
                    matches.append(e.name + "/")
                elif e.name.endswith(exts):
                    matches.append(e.name)
    except OSError:
        return None
    if not matches:
        return None
    matches.sort(key=lambda n: (n.endswith("/"), n))  # files first
    common = os.path.commonprefix(matches)
    pick = common if len(common) > len(part) else matches[0]
    out = head + sep + pick
    return out if out != value else None
