"""Configs that are not UTF-8 text: where, and what they probably are.

`cfgfile.read` keeps bytes that are not UTF-8 as surrogate escapes (U+DC80..U+DCFF), so nothing is lost on a
save. Those characters cannot be given to YAML, tree-sitter or a terminal, and LLaMA-Factory itself reads configs
as UTF-8 (it stops with a UnicodeDecodeError). This module finds them line by line, guesses the encoding (GBK is
common among our users: Chinese comments written on Windows), and says whether the file is text at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SURROGATE = re.compile("[\udc80-\udcff]")
# C0 controls YAML does not accept (tab, newline, carriage return are fine; so are NEL and the rest of Unicode)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_LINES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Problem:
    line: int   # 1-based; 0 = the whole file
    col: int    # 1-based
    message: str
    hint: str
    code: str   # "not-utf8", "control-char", "not-text"


@dataclass(frozen=True, slots=True)
class Scan:
    problems: tuple[Problem, ...]
    clean: str              # the text with every bad character replaced by U+FFFD (safe for YAML and widgets)
    binary: bool = False    # not a text file at all
    encoding: str | None = None  # the encoding every line that is not UTF-8 decodes in cleanly (e.g. "GBK")

    @property
    def ok(self) -> bool:
        return not self.problems


def raw(text: str) -> bytes:
    """The bytes a text from `cfgfile.read` came from."""
    return text.encode("utf-8", errors="surrogateescape")


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def guess(data: bytes) -> str | None:
    """The encoding that explains bytes that are not UTF-8 (None when nothing fits)."""
    if _decodes(data, "gbk"):
        return "GBK"
    return None


def looks_binary(text: str) -> bool:
    """A NUL byte, or many bytes that are neither UTF-8 nor printable text: not a config someone typed."""
    head = text[:8192]
    if "\x00" in head:
        return True
    if not head:
        return False
    bad = len(_CONTROL.findall(head))
    odd = len(_SURROGATE.findall(head))
    return bad > 0 and (bad + odd) / len(head) > 0.05


def scan(text: str) -> Scan:
    """Problems with the text itself (not UTF-8, control characters, binary), before any YAML is read."""
    if not _SURROGATE.search(text) and not _CONTROL.search(text):
        return Scan((), text)
    if looks_binary(text):
        return Scan((Problem(0, 0, "not a text file (it holds binary data, e.g. NUL bytes): a config is YAML text",
                             "open the YAML file instead; is this the right path?", "not-text"),),
                    "", binary=True)
    found: list[Problem] = []
    lines = text.split("\n")
    guesses = {guess(raw(line)) for line in lines if _SURROGATE.search(line)}
    encoding = guesses.pop() if len(guesses) == 1 else None
    for n, line in enumerate(lines, 1):
        m = _SURROGATE.search(line)
        if m:
            enc = guess(raw(line))
            looks = f" (looks like {enc}?)" if enc else ""
            hint = (f"LLaMA-Factory reads configs as UTF-8 and would stop here; re-encode the file: "
                    f"iconv -f {enc} -t UTF-8 (the editor offers it)" if enc else
                    "LLaMA-Factory reads configs as UTF-8 and would stop here; re-save the file as UTF-8")
            found.append(Problem(n, m.start() + 1, f"line {n} is not UTF-8{looks}", hint, "not-utf8"))
            continue
        m = _CONTROL.search(line)
        if m:
            found.append(Problem(n, m.start() + 1,
                                 f"line {n} holds a control character (#x{ord(m.group()):02x}) that YAML does not "
                                 "allow", "delete it (it is invisible in most editors)", "control-char"))
    if len(found) > MAX_LINES_SHOWN:
        rest = found[MAX_LINES_SHOWN:]
        last = found[MAX_LINES_SHOWN - 1]
        found = found[:MAX_LINES_SHOWN - 1] + [Problem(
            last.line, last.col, f"{last.message}; and {len(rest)} more line(s): "
            + ", ".join(str(p.line) for p in rest[:10]) + (" …" if len(rest) > 10 else ""), last.hint, last.code)]
    clean = _CONTROL.sub("\ufffd", _SURROGATE.sub("\ufffd", text))
    return Scan(tuple(found), clean, encoding=encoding)


def reencoded(text: str, encoding: str) -> str:
    """The text with each line that is not UTF-8 read in `encoding` instead; lines that are UTF-8 stay as they
    are (a file can mix both). Raises UnicodeDecodeError when a line is not in `encoding` either."""
    return "\n".join(raw(line).decode(encoding.lower()) if _SURROGATE.search(line) else line
                     for line in text.split("\n"))
