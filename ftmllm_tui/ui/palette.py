"""Semantic colours used by the widgets (one place, so themes can replace them)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.summary import user_colour_index


@dataclass(frozen=True)
class Palette:
    users: tuple[str, ...] = (
        "#5fafff", "#ffaf5f", "#af87ff", "#5fd7af", "#ff87af",
        "#d7d75f", "#87d7ff", "#ff875f", "#87ff87", "#d787d7",
    )
    accent: str = "#ffaf00"
    mine: str = "bold #5fd7ff"
    others: str = "#8a8a8a"
    free: str = "#5fd75f"
    ok: str = "#5fd75f"
    warning: str = "#ffd75f"
    danger: str = "#ff5f5f"
    muted: str = "#6c6c6c"
    bar_empty: str = "#3a3a3a"
    unattributed: str = "#767676"  # memory in use by no listed process (driver, other namespaces)

    def user(self, name: str) -> str:
        return self.users[user_colour_index(name, len(self.users))]

    def level(self, pct: float | None, warn: float = 50, danger: float = 80) -> str:
        if pct is None:
            return self.muted
        if pct >= danger:
            return self.danger
        if pct >= warn:
            return self.warning
        return self.ok


PALETTE = Palette()
