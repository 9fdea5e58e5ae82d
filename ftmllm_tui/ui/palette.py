"""Semantic colours the widgets read (mine, others, free, warning, danger …), filled from the theme.

:data:`PALETTE` is one object updated in place when the theme changes, so every module that imported
it sees the new colours; widgets read it at render time and compare ``generation`` to know that
text they built earlier is stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.gpus.summary import user_colour_index


class Palette:
    users: tuple[str, ...]
    user_marks: tuple[str, ...]  # the glyph of each user's part of a memory bar (and its legend)
    series: tuple[str, ...]
    accent: str
    mine: str
    others: str
    free: str
    ok: str
    warning: str
    danger: str
    muted: str
    bar_empty: str
    unattributed: str  # memory in use by no listed process (driver, other namespaces)
    memory_history: str
    badge_replay: str
    badge_readonly: str
    search_match: str
    search_current: str
    editor_error: str
    editor_warning: str
    states: dict[str, str]

    def __init__(self, colors: dict[str, Any] | None = None) -> None:
        self.generation = 0
        self.theme_name = ""
        if colors is None:
            from .themes import DEFAULT_THEME, builtin_theme

            spec = builtin_theme(DEFAULT_THEME)
            colors = spec.colors if spec else {}
            self.theme_name = DEFAULT_THEME
        self.apply(colors, self.theme_name)

    def apply(self, colors: dict[str, Any], name: str = "") -> None:
        for k, v in colors.items():
            setattr(self, k, dict(v) if k == "states" else v)
        self.theme_name = name or self.theme_name
        self.generation += 1

    @property
    def shapes(self) -> bool:
        """The theme tells things apart by shape as well as colour (mono, high contrast): chart series
        get dot patterns."""
        return len(self.user_marks) > 1

    def user(self, name: str) -> str:
        return self.users[user_colour_index(name, len(self.users))]

    def user_mark(self, name: str, present: Sequence[str] = ()) -> str:
        """The user's bar glyph: one for all where colour tells users apart, or one per user (mono).
        ``present``: the users on screen; glyphs go by their sorted order, so up to as many users
        as there are glyphs never share one (a hash would pair two of three users half the time)."""
        marks = self.user_marks
        if len(marks) == 1:
            return marks[0]
        names = sorted(set(present))
        if name in names:
            return marks[names.index(name) % len(marks)]
        return marks[user_colour_index(name, len(marks))]

    @property
    def unattributed_mark(self) -> str:
        """Memory no listed process holds: a full block, or a small one where blocks tell users apart."""
        return "█" if len(self.user_marks) == 1 else "▪"

    def legend_mark(self, name: str, present: Sequence[str] = ()) -> str:
        """The mark before a user's name: a small square, or their bar glyph when glyphs tell users apart."""
        return "■" if len(self.user_marks) == 1 else self.user_mark(name, present)

    def state(self, name: str) -> str:
        return self.states.get(name, "")

    def level(self, pct: float | None, warn: float = 50, danger: float = 80) -> str:
        if pct is None:
            return self.muted
        if pct >= danger:
            return self.danger
        if pct >= warn:
            return self.warning
        return self.ok


PALETTE = Palette()
