"""Recently opened config files (a small JSON list in the state dir, newest first)."""

from __future__ import annotations

import json
import os
from pathlib import Path

LIMIT = 20


def load(store: Path) -> list[Path]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Path(p) for p in data if isinstance(p, str)] if isinstance(data, list) else []


def remember(path: Path, store: Path) -> list[Path]:
    """Put `path` first; written atomically (two app instances may race: the last one wins, nothing breaks)."""
    path = path.expanduser().absolute()
    items = [path] + [p for p in load(store) if p != path]
    items = items[:LIMIT]
    store.parent.mkdir(parents=True, exist_ok=True)
    tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps([str(p) for p in items], indent=0), encoding="utf-8")
    os.replace(tmp, store)
    return items
