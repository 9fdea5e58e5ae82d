"""README's key tables are the man page: every key bound in a view must be written in that view's
README section (and `?` in the app reads the same bindings, so the two cannot drift apart)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.binding import Binding

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
NAMES = {"slash": "/", "question_mark": "?", "plus": "+", "equals_sign": "=", "minus": "-",
         "left_square_bracket": "[", "right_square_bracket": "]", "escape": "esc", "space": "space",
         "enter": "enter", "end": "end", "home": "home"}


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 4)
    return README[start:end if end > 0 else None]


def tokens(text: str) -> set[str]:
    out: set[str] = set()
    for quoted in re.findall(r"`([^`]+)`", text):
        for t in re.split(r"[\s,/]+|(?<=\S) / ", quoted):
            if t:
                out.add(t if len(t) == 1 else t.lower())
        if quoted.strip() == "/":
            out.add("/")
    return out


def key_names(b: Binding) -> list[str]:
    out = []
    for k in b.key.split(","):
        k = k.strip()
        k = NAMES.get(k, k)
        out.append(k if len(k) == 1 else k.lower())
    return out


VIEWS = [
    ("home", "HomeScreen", "The home view"),
    ("runs", "RunsScreen", "Runs"),
    ("detail", "RunDetailScreen", "Following a run"),
    ("compare", "CompareScreen", "Following a run"),
    ("configs", "ConfigsScreen", "Configs and the editor"),
    ("editor", "EditorScreen", "Configs and the editor"),
    ("models", "ModelsScreen", "Models and datasets"),
    ("datasets", "DatasetsScreen", "Models and datasets"),
    ("datasets", "RowsScreen", "Models and datasets"),
    ("cluster", "ClusterScreen", "Several hosts"),
    ("slurm", "SlurmScreen", "Slurm clusters"),
]


@pytest.mark.parametrize("module,cls,title", VIEWS, ids=[v[1] for v in VIEWS])
def test_every_key_of_the_view_is_in_its_readme_section(module, cls, title):
    import importlib

    screen = getattr(importlib.import_module(f"ftmllm_tui.ui.screens.{module}"), cls)
    have = tokens(section(title))
    missing = []
    for b in screen.BINDINGS:
        names = key_names(b)
        if not any(n in have for n in names):
            missing.append(f"{'/'.join(names)} ({b.description})")
    assert not missing, f"README section '{title}' does not mention: {', '.join(missing)}"
