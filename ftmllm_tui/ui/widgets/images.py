"""Images in the terminal through textual-image: kitty's graphics protocol or sixel where the terminal has one,
coloured half-block cells everywhere else (any SSH link, tmux).

textual-image asks the terminal what it supports when it is first imported, by writing an escape sequence and
reading the answer from stdin. Once Textual runs, Textual owns stdin and the answer would be lost (or a key
would be), so the protocol is chosen from the environment instead, and textual-image is imported as if stdout
were not a terminal. ``FTMLLM_IMAGES=halfblock|sixel|kitty|off`` overrides the choice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

PROTOCOLS = ("halfblock", "sixel", "kitty", "off")


def protocol(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    forced = env.get("FTMLLM_IMAGES", "").strip().lower()
    if forced in PROTOCOLS:
        return forced
    if env.get("TMUX") or env.get("STY"):  # tmux / screen: pass-through is unreliable, half-blocks always work
        return "halfblock"
    term, prog = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID"):
        return "kitty"
    if prog in ("WezTerm", "mlterm") or term in ("foot", "mlterm", "yaft-256color") or "sixel" in term:
        return "sixel"
    return "halfblock"


class _NotATty:
    def __init__(self, real) -> None:
        self._real = real

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._real, name)


_MODULE = None


def _textual_image():
    global _MODULE
    if _MODULE is None:
        saved = sys.__stdout__
        sys.__stdout__ = _NotATty(saved)  # no terminal query: Textual owns stdin (see the module's docstring)
        try:
            import textual_image.widget as tiw
        finally:
            sys.__stdout__ = saved
        _MODULE = tiw
    return _MODULE


def image_widget(path: str, *, proto: str | None = None, **kw):
    """A textual-image widget for the file at `path` (None when images are off or textual-image is missing)."""
    proto = proto or protocol()
    if proto == "off":
        return None
    try:
        tiw = _textual_image()
    except ImportError:
        return None
    cls = {"kitty": tiw.TGPImage, "sixel": tiw.SixelImage}.get(proto, tiw.HalfcellImage)
    return cls(path, **kw)
