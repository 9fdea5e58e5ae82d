"""Themes as data: TOML files shipped in the top-level ``themes/`` (package data, reached as
``ftmllm_tui/themes``) plus the user's ``<config dir>/themes/*.toml``.

A theme sets Textual's base colours (``[textual]``), ftmllm-tui's semantic colours (``[colors]``: mine,
others, free, warning, danger …, read by the widgets through :data:`PALETTE`) and the YAML editor's
syntax colours (``[editor]``). The format is documented in ``themes/dark.toml`` and the README.
A broken theme file is reported (file, key, problem) and skipped or repaired key by key; never a crash.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rich.style import Style

DEFAULT_THEME = "dark"
TEXTUAL_KEYS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground",
                "background", "surface", "panel", "boost")
COLOR_KEYS = ("mine", "others", "free", "ok", "warning", "danger", "muted", "accent", "bar_empty",
              "unattributed", "memory_history", "badge_replay", "badge_readonly", "search_match",
              "search_current", "editor_error", "editor_warning")
LIST_KEYS = ("users", "series")
MARK_KEYS = ("user_marks",)  # lists of one-cell glyphs, not styles
STATE_KEYS = ("running", "starting", "finished", "failed", "stopped", "lost", "stalled", "orphans")
TOP_KEYS = ("name", "description", "dark", "inherits", "textual", "colors", "editor")
EDITOR_SYNTAX = ("vscode_dark", "github_light", "monokai", "dracula", "css")


@dataclass(frozen=True)
class ThemeSpec:
    name: str
    description: str = ""
    dark: bool = True
    textual: dict[str, str] = field(default_factory=dict)
    colors: dict[str, Any] = field(default_factory=dict)  # COLOR_KEYS, LIST_KEYS and MARK_KEYS (tuples), "states"
    editor_syntax: str = "vscode_dark"
    editor_styles: dict[str, str] = field(default_factory=dict)
    editor_background: str = ""  # "" = the syntax theme's own
    source: str = "built-in"

    def textual_theme(self):
        from textual.theme import Theme

        return Theme(name=self.name, dark=self.dark, **{k: v for k, v in self.textual.items()
                                                         if k in TEXTUAL_KEYS})


def _valid_style(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        Style.parse(value)
        Style.parse(f"bold {value}")  # widgets compose "bold <colour>": "none" alone parses, this does not
    except Exception:  # noqa: BLE001 - rich raises StyleSyntaxError / ColorParseError
        return False
    return True


def _valid_mark(value: Any) -> bool:
    from rich.cells import cell_len

    return isinstance(value, str) and len(value) == 1 and value.isprintable() and cell_len(value) == 1


def _valid_colour(value: Any) -> bool:
    from textual.color import Color

    if not isinstance(value, str):
        return False
    try:
        Color.parse(value)
    except Exception:  # noqa: BLE001
        return False
    return True


def parse_theme(data: dict[str, Any], *, name: str, source: str, base: ThemeSpec | None,
                warnings: list[str]) -> ThemeSpec:
    """A spec from one file's TOML table; bad keys are reported in ``warnings`` and take the base's value."""
    where = source

    def warn(msg: str) -> None:
        warnings.append(f"{where}: {msg}")

    for k in data:
        if k not in TOP_KEYS:
            warn(f"unknown key {k!r} ignored")
    dark = data.get("dark", base.dark if base else True)
    if not isinstance(dark, bool):
        warn(f"dark should be true or false, got {dark!r}")
        dark = base.dark if base else True
    textual = dict(base.textual) if base else {}
    raw = data.get("textual", {})
    if not isinstance(raw, dict):
        warn("[textual] should be a table")
        raw = {}
    for k, v in raw.items():
        if k not in TEXTUAL_KEYS:
            warn(f"unknown key textual.{k} ignored (known: {', '.join(TEXTUAL_KEYS)})")
        elif not _valid_colour(v):
            warn(f"textual.{k} = {v!r} is not a colour (use \"#rrggbb\"); kept {textual.get(k)!r}")
        else:
            textual[k] = v
    colors: dict[str, Any] = dict(base.colors) if base else {}
    colors["states"] = dict(colors.get("states", {}))
    raw = data.get("colors", {})
    if not isinstance(raw, dict):
        warn("[colors] should be a table")
        raw = {}
    for k, v in raw.items():
        if k == "states":
            if not isinstance(v, dict):
                warn("[colors.states] should be a table")
                continue
            for s, sv in v.items():
                if s not in STATE_KEYS:
                    warn(f"unknown key colors.states.{s} ignored (known: {', '.join(STATE_KEYS)})")
                elif not _valid_style(sv):
                    warn(f"colors.states.{s} = {sv!r} is not a style; kept the inherited one")
                else:
                    colors["states"][s] = sv
        elif k in MARK_KEYS:
            if not (isinstance(v, list) and v and all(_valid_mark(x) for x in v)):
                warn(f"colors.{k} should be a non-empty list of one-cell characters (\"█\", \"▓\"); "
                     "kept the inherited one")
            else:
                colors[k] = tuple(v)
        elif k in LIST_KEYS:
            if not (isinstance(v, list) and v and all(_valid_style(x) for x in v)):
                warn(f"colors.{k} should be a non-empty list of colours; kept the inherited one")
            else:
                colors[k] = tuple(v)
        elif k in COLOR_KEYS:
            if not _valid_style(v):
                warn(f"colors.{k} = {v!r} is not a style (\"#rrggbb\", \"bold #rrggbb\", \"black on #rrggbb\"); "
                     "kept the inherited one")
            else:
                colors[k] = v
        else:
            warn(f"unknown key colors.{k} ignored")
    editor = data.get("editor", {})
    if not isinstance(editor, dict):
        warn("[editor] should be a table")
        editor = {}
    syntax = editor.get("syntax", base.editor_syntax if base else "vscode_dark")
    if syntax not in EDITOR_SYNTAX:
        warn(f"editor.syntax = {syntax!r} is not one of {', '.join(EDITOR_SYNTAX)}")
        syntax = base.editor_syntax if base else "vscode_dark"
    styles = dict(base.editor_styles) if base and "syntax" not in editor else {}
    for k, v in (editor.get("styles") or {}).items():
        if _valid_style(v):
            styles[k] = v
        else:
            warn(f"editor.styles.{k} = {v!r} is not a style")
    background = editor.get("background", base.editor_background if base and "syntax" not in editor else "")
    if background and not _valid_colour(background):
        warn(f"editor.background = {background!r} is not a colour")
        background = ""
    for k in editor:
        if k not in ("syntax", "styles", "background"):
            warn(f"unknown key editor.{k} ignored")
    desc = data.get("description", "")
    return ThemeSpec(name=name, description=desc if isinstance(desc, str) else "", dark=dark,
                     textual=textual, colors=colors, editor_syntax=syntax, editor_styles=styles,
                     editor_background=background, source=source)


def _read(path_or_res, label: str, warnings: list[str]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path_or_res.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        warnings.append(f"{label}: cannot read ({e}); theme skipped")
    except tomllib.TOMLDecodeError as e:
        warnings.append(f"{label}: not valid TOML ({e}); theme skipped")
    return None


def builtin_files() -> list:
    # the top-level themes/ (a link in a checkout, package data when installed); a plain path, not
    # importlib.resources, whose readers load zipfile & co. into the home view for nothing
    folder = Path(__file__).resolve().parents[1] / "themes"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)


def user_theme_dir() -> Path:
    from ..settings import config_dir

    return config_dir() / "themes"


@dataclass(frozen=True)
class ThemeSet:
    themes: dict[str, ThemeSpec]
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> ThemeSpec | None:
        return self.themes.get(name)

    @property
    def names(self) -> list[str]:
        return list(self.themes)


def _load_one(data: dict[str, Any], stem: str, label: str, themes: dict[str, ThemeSpec],
              warnings: list[str]) -> ThemeSpec:
    name = data.get("name", stem)
    if not isinstance(name, str) or not name.strip():
        warnings.append(f"{label}: name should be a non-empty string; using {stem!r}")
        name = stem
    parent = data.get("inherits")
    if parent is not None:
        base = themes.get(parent) if isinstance(parent, str) else None
        if base is None:
            warnings.append(f"{label}: inherits = {parent!r}, no such theme (have: {', '.join(themes)}); "
                            f"starting from {DEFAULT_THEME!r}")
            base = themes.get(DEFAULT_THEME)
    elif name in themes:  # a user file named like a built-in changes only what it sets
        base = themes[name]
    else:
        base = themes.get("light" if data.get("dark", True) is False else DEFAULT_THEME)
    return parse_theme(data, name=name, source=label, base=base, warnings=warnings)


@lru_cache(maxsize=1)
def _builtin() -> tuple[dict[str, ThemeSpec], tuple[str, ...]]:
    """The shipped themes, read once per process (dark first: the others inherit missing keys from it)."""
    warnings: list[str] = []
    themes: dict[str, ThemeSpec] = {}
    files = builtin_files()
    files.sort(key=lambda f: f.name != f"{DEFAULT_THEME}.toml")
    for f in files:
        data = _read(f, f"built-in theme {f.name}", warnings)
        if data is not None:
            spec = _load_one(data, f.name[:-5], "built-in", themes, warnings)
            themes[spec.name] = spec
    return themes, tuple(warnings)


def builtin_theme(name: str) -> ThemeSpec | None:
    return _builtin()[0].get(name)


def load_themes(user_dir: Path | None = None) -> ThemeSet:
    """Built-in themes, then the user's (re-read on each call: a new file shows up on the next start)."""
    themes = dict(_builtin()[0])
    warnings = list(_builtin()[1])
    folder = user_theme_dir() if user_dir is None else user_dir
    try:
        user_files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    except OSError as e:
        warnings.append(f"{folder}: cannot list themes ({e})")
        user_files = []
    for f in user_files:
        data = _read(f, str(f), warnings)
        if data is not None:
            spec = _load_one(data, f.stem, str(f), themes, warnings)
            themes[spec.name] = spec
    return ThemeSet(themes, tuple(warnings))


def editor_theme(spec: ThemeSpec):
    """The TextArea theme for this theme (a copy of the named built-in with the overrides applied)."""
    from dataclasses import replace

    from textual._text_area_theme import TextAreaTheme

    base = TextAreaTheme.get_builtin_theme(spec.editor_syntax) or TextAreaTheme.get_builtin_theme("vscode_dark")
    styles = dict(base.syntax_styles)
    styles.update({k: Style.parse(v) for k, v in spec.editor_styles.items()})
    styles["ftm.error"] = Style.parse(spec.colors.get("editor_error", "bold underline red"))
    styles["ftm.warning"] = Style.parse(spec.colors.get("editor_warning", "underline yellow"))
    extra = {}
    if spec.editor_background:
        extra["base_style"] = (base.base_style or Style()) + Style(bgcolor=spec.editor_background)
        if base.gutter_style is not None:
            extra["gutter_style"] = base.gutter_style + Style(bgcolor=spec.editor_background)
    return replace(base, name=f"ftm-{spec.name}", syntax_styles=styles, **extra)
