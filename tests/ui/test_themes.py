"""Themes: data files, user themes, switching in the running app, persistence, ASCII mode, NO_COLOR."""

from __future__ import annotations

import re
import sys

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.color import Color

from ftmllm_tui.ui.ascii import AsciiFilter, ascii_text, to_ascii
from ftmllm_tui.ui.palette import PALETTE
from ftmllm_tui.ui.themes import (
    COLOR_KEYS,
    LIST_KEYS,
    MARK_KEYS,
    STATE_KEYS,
    TEXTUAL_KEYS,
    load_themes,
)
from tests.conftest import FakeClock

from .conftest import make_app

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUILTIN = ("dark", "light", "high-contrast", "mono")
XTERM_STEPS = (0x00, 0x5F, 0x87, 0xAF, 0xD7, 0xFF)
XTERM_GREYS = tuple(8 + 10 * i for i in range(24))


def _in_256(hex_colour: str) -> bool:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return all(c in XTERM_STEPS for c in (r, g, b)) or (r == g == b and r in XTERM_GREYS)


@pytest.fixture
def no_user_themes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg" / "ftmllm-tui"


def test_builtin_themes_are_complete_and_load_clean(no_user_themes):
    ts = load_themes()
    assert ts.warnings == ()
    for name in BUILTIN:
        spec = ts.get(name)
        assert spec is not None and spec.source == "built-in"
        assert set(spec.textual) >= set(TEXTUAL_KEYS) - {"boost"}
        assert set(spec.colors) >= set(COLOR_KEYS) | set(LIST_KEYS) | set(MARK_KEYS) | {"states"}
        assert set(spec.colors["states"]) == set(STATE_KEYS)
    assert ts.get("light").dark is False and ts.get("dark").dark is True
    # each built-in file sets every key itself (inheritance is for user themes)
    from ftmllm_tui.ui.themes import builtin_files

    for f in builtin_files():
        data = tomllib.loads(f.read_text())
        assert set(data["colors"]) >= set(COLOR_KEYS) | set(LIST_KEYS) | set(MARK_KEYS), f.name


def test_builtin_colours_are_xterm_256_so_they_survive_without_truecolor(no_user_themes):
    ts = load_themes()
    for name in BUILTIN:
        spec = ts.get(name)
        styles = [*spec.textual.values(), *(v for k, v in spec.colors.items() if k in COLOR_KEYS),
                  *spec.colors["users"], *spec.colors["series"], *spec.colors["states"].values()]
        for s in styles:
            for hexc in re.findall(r"#[0-9a-fA-F]{6}", s):
                assert _in_256(hexc.lower()), f"{name}: {hexc} in {s!r} is not an xterm-256 colour"


def test_user_theme_inherits_and_bad_keys_are_reported_not_fatal(no_user_themes):
    d = no_user_themes / "themes"
    d.mkdir(parents=True)
    (d / "solar.toml").write_text('description = "mine"\ninherits = "light"\n'
                                  '[colors]\nmine = "bold #ff0000"\nfree = "not a colour at all"\nsparkle = "#fff"\n'
                                  '[textual]\nbackground = "#fdf6e3"\nprimary = "blue-ish"\n')
    (d / "broken.toml").write_text("[colors\nmine = 1\n")
    (d / "dark.toml").write_text('[colors]\nothers = "#444444"\n')  # a user tweak of a built-in
    ts = load_themes()
    solar = ts.get("solar")
    assert solar.colors["mine"] == "bold #ff0000"
    assert solar.colors["free"] == ts.get("light").colors["free"]  # bad value → inherited one
    assert solar.textual["background"] == "#fdf6e3" and solar.dark is False
    assert solar.textual["primary"] == ts.get("light").textual["primary"]
    assert "broken" not in ts.names
    text = "\n".join(ts.warnings)
    assert "broken.toml: not valid TOML" in text
    assert "colors.free = 'not a colour at all' is not a style" in text
    assert "unknown key colors.sparkle" in text and "textual.primary = 'blue-ish'" in text
    assert ts.get("dark").colors["others"] == "#444444" and ts.get("dark").colors["mine"] == "bold #5fd7ff"


async def test_mono_tells_users_apart_by_glyph_where_colour_cannot(no_user_themes):
    """mono has one "colour" for every user: each user's part of a memory bar gets its own glyph,
    the same in the bar and before the name, and the same on every GPU; dark keeps one glyph."""
    from .conftest import feed, screen_text

    d = no_user_themes / "themes"
    d.mkdir(parents=True)
    (d / "odd.toml").write_text('inherits = "mono"\n[colors]\nuser_marks = ["██", "x"]\n')
    ts = load_themes()
    assert "colors.user_marks should be a non-empty list of one-cell characters" in "\n".join(ts.warnings)
    assert ts.get("odd").colors["user_marks"] == ts.get("mono").colors["user_marks"]
    for theme in ("mono", "dark"):
        clock = FakeClock()
        app = make_app(clock, samples=3, theme=theme)
        async with app.run_test(size=(100, 30)) as pilot:
            await feed(app, pilot, clock)
            lines = screen_text(app)
        bars = [re.search(r"MEM  (\S+)", line).group(1) for line in lines if "│ MEM  " in line]
        legends = [line for line in lines if re.search(r"│ \S root \d", line)]
        assert len(bars) == 2 and len(legends) == 2, lines
        # the recording: GPU 0 holds root 8.7G and alice 3.7G, GPU 1 root only (plus unattributed memory)
        root, alice = (re.search(rf"(\S) {u} \d", legends[0]).group(1) for u in ("root", "alice"))
        if theme == "dark":
            assert root == alice == "■" and set(bars[0].strip("·")) == {"█"}
            continue
        assert root != alice and {root, alice} <= set(PALETTE.user_marks)
        assert bars[0].startswith(root) and alice in bars[0] and "▪" in bars[0]  # biggest first, then the rest
        assert bars[1].startswith(root) and alice not in bars[1]
        assert re.search(rf"{root} root \d", legends[1])  # the same glyph on every GPU
    PALETTE.apply(load_themes().get("dark").colors, "dark")


async def test_theme_switch_recolours_and_persists(no_user_themes, monkeypatch):
    clock = FakeClock()
    app = make_app(clock, samples=3)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(3):
            app.ingest(app.sampler.sample())
            clock.tick(1.0)
        await pilot.pause()
        assert app.theme == "dark" and PALETTE.theme_name == "dark"
        dark_free = PALETTE.free
        title = app.screen.query_one("#title")
        before = title.text.copy()
        # the command palette: "Theme" opens the picker, which lists our themes only
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "Theme":
            await pilot.press(ch)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        for ch in "light":
            await pilot.press(ch)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.theme == "light"
        assert PALETTE.theme_name == "light" and PALETTE.free != dark_free
        assert str(app.current_theme.background).lower() != "#121212"
        assert set(app.available_themes) == set(BUILTIN)
        # the home view was rebuilt with the new colours
        after = title.text
        assert after.plain == before.plain and after.spans != before.spans
        for _ in range(50):
            await pilot.pause(0.05)
            if (no_user_themes / "config.toml").exists():
                break
    saved = tomllib.loads((no_user_themes / "config.toml").read_text())
    assert saved["ui"]["theme"] == "light"
    from ftmllm_tui.settings import load_settings

    assert load_settings().theme == "light"
    PALETTE.apply(load_themes().get("dark").colors, "dark")


async def test_theme_from_argument_and_unknown_theme_warns(no_user_themes):
    clock = FakeClock()
    app = make_app(clock, theme="high-contrast")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "high-contrast" and PALETTE.theme_name == "high-contrast"
        assert str(app.current_theme.background).lower() in ("#000000", "rgb(0,0,0)", "black") or \
            app.current_theme.background == "#000000"
    assert not (no_user_themes / "config.toml").exists()  # the start-up theme is not written back
    app = make_app(clock, theme="nope")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        assert any("No theme 'nope'" in str(n.message) for n in app._notifications)
    PALETTE.apply(load_themes().get("dark").colors, "dark")


def test_ascii_glyphs_one_cell_each():
    from rich.cells import cell_len

    samples = "█▉▊▋▌▍▎▏▁▂▃▄▅▆▇·…→✓✗●★▲▼⟳◷─│┌┐└┘├┤╭╮╰╯━┃°⚠×—“”" + "".join(chr(0x2800 + i) for i in range(256))
    for ch in samples:
        out = to_ascii(ch)
        assert out.isascii() and len(out) == cell_len(ch), (ch, out)
    assert ascii_text("GPU 0 ████▌··· 55%") == "GPU 0 ####=... 55%"
    assert to_ascii("⣿") == ":" and to_ascii("⠉") == "'" and to_ascii("⣀") == "." and to_ascii("⠀") == " "
    assert ascii_text("模型") == "????"  # double width → two cells
    assert len({to_ascii(ch) for ch in "█▓▒░▪·"}) == 6  # per-user bar glyphs stay apart in ASCII
    segs = AsciiFilter().apply([Segment("▁▃▅▇█ ok ✓", Style(color="red"))], Color(0, 0, 0))
    assert segs[0].text == "_.=*# ok v" and segs[0].style == Style(color="red")


async def test_ascii_mode_renders_only_ascii(no_user_themes):
    clock = FakeClock()
    app = make_app(clock, samples=20, ascii_mode=True)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(20):
            app.ingest(app.sampler.sample())
            clock.tick(1.0)
        await pilot.pause()
        svg = app.export_screenshot()
    text = re.sub(r"<[^>]+>", "", svg.split("<g class=\"terminal")[-1] if "terminal" in svg else svg)
    body = "".join(ch for ch in text if ord(ch) > 127 and ch not in "\u00a0")
    assert body == "", f"non-ASCII glyphs on screen: {sorted(set(body))}"


def test_builtin_themes_are_the_top_level_themes_folder_shipped_as_package_data():
    """The built-in themes live in the repository's top-level themes/ (next to configs/), and the
    package data takes them into the wheel as ftmllm_tui/themes/ (checked by hand with pip wheel)."""
    from pathlib import Path

    from ftmllm_tui.ui.themes import builtin_files

    root = Path(__file__).resolve().parents[2]
    shipped = sorted(f.name for f in builtin_files())
    assert shipped == sorted(p.name for p in (root / "themes").glob("*.toml"))
    assert {f"{n}.toml" for n in BUILTIN} <= set(shipped)
    data = tomllib.loads((root / "pyproject.toml").read_text())
    assert "themes/*.toml" in data["tool"]["setuptools"]["package-data"]["ftmllm_tui"]
