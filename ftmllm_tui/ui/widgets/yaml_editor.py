"""The YAML code editor: Textual's TextArea with YAML highlighting (plain text when the grammar is missing),
problems underlined in place, and inline completion of LLaMA-Factory keys and choices (→ accepts)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rich.style import Style
from textual.widgets import TextArea

from ..palette import PALETTE

KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w.-]*)\s*:(?P<rest>.*)$")
PARTIAL_KEY = re.compile(r"^(?P<word>[A-Za-z_][\w]*)$")


def value_span(line: str) -> tuple[int, int] | None:
    """Columns [start, end) of a top-level key's value on its line, comments and trailing space excluded."""
    m = KEY_LINE.match(line)
    if not m or m.group("indent"):
        return None
    start = m.start("rest")
    rest = m.group("rest")
    lead = len(rest) - len(rest.lstrip())
    body = rest.lstrip()
    end_in_body = len(body)
    quote = body[:1] if body[:1] in "'\"" else ""
    if quote:
        close = body.find(quote, 1)
        end_in_body = close + 1 if close > 0 else len(body)
    else:
        hash_at = re.search(r"\s#", body)
        if hash_at:
            end_in_body = hash_at.start()
        elif body.startswith("#"):
            end_in_body = 0
    body = body[:end_in_body].rstrip()
    return start + lead, start + lead + len(body)


def yaml_scalar(value: str) -> str:
    """The value as it should be written after `key: ` (quoted only when YAML needs it)."""
    import yaml

    if value == "":
        return '""'
    try:
        round_trip = yaml.safe_load(f"k: {value}")
    except yaml.YAMLError:
        round_trip = None
    if isinstance(round_trip, dict) and round_trip.get("k") == value:
        return value
    return yaml.safe_dump(value, default_style=None, width=10**6).strip().removesuffix("\n...").strip()


class YamlEditor(TextArea):
    """A TextArea for LLaMA-Factory configs."""

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(text, soft_wrap=False, tab_behavior="indent", show_line_numbers=True,
                         theme="vscode_dark", **kwargs)
        self.indent_width = 2
        self.match_cursor_bracket = True
        self.cursor_blink = False
        self._marks: dict[int, list[tuple[int, int | None, str]]] = {}
        self.keys_for_completion: Callable[[], Sequence[str]] = lambda: ()
        self.choices_for: Callable[[str], Sequence[str]] = lambda key: ()
        self.language_error: str | None = None
        self._ftm_theme = None
        try:
            self.language = "yaml"
        except Exception as exc:  # noqa: BLE001 - tree-sitter present without the grammar raises; plain text then
            self.language_error = f"YAML highlighting unavailable ({exc}); plain text"

    def on_mount(self) -> None:
        theme = getattr(self.app, "editor_theme", lambda: None)()
        if theme is not None:
            self.use_theme(theme)

    def use_theme(self, theme) -> None:
        """Syntax colours of the app's theme (a TextAreaTheme named ftm-<theme>)."""
        self.register_theme(theme)
        self.theme = theme.name
        self._build_highlight_map()
        self.refresh()

    # -- problems in place ----------------------------------------------------------------------
    def set_marks(self, marks: dict[int, list[tuple[int, int | None, str]]]) -> None:
        """marks: row → [(start col, end col or None, "error"|"warning")], 0-based."""
        if marks == self._marks:
            return
        self._marks = marks
        self._build_highlight_map()
        self.refresh()

    def _build_highlight_map(self) -> None:
        super()._build_highlight_map()
        theme = getattr(self, "_theme", None)
        if theme is not None:
            theme.syntax_styles.setdefault("ftm.error", Style.parse(PALETTE.editor_error))
            theme.syntax_styles.setdefault("ftm.warning", Style.parse(PALETTE.editor_warning))
        for row, items in getattr(self, "_marks", {}).items():
            line = self.document.get_line(row) if row < self.document.line_count else ""
            enc = line.encode("utf-8")
            for start, end, sev in items:
                b0 = len(line[:start].encode("utf-8"))
                b1 = len(line[:end].encode("utf-8")) if end is not None else len(enc)
                if b1 <= b0:
                    b1 = len(enc)
                self._highlights[row].append((b0, b1, f"ftm.{sev}"))

    # -- inline completion ----------------------------------------------------------------------
    def update_suggestion(self) -> None:
        self.suggestion = self._suggest()

    def _suggest(self) -> str:
        row, col = self.cursor_location
        if self.selection.start != self.selection.end:
            return ""
        line = self.document.get_line(row)
        if col != len(line):
            return ""
        m = PARTIAL_KEY.match(line)
        if m and len(m.group("word")) >= 2:
            word = m.group("word")
            found = [k for k in self.keys_for_completion() if k.startswith(word) and k != word]
            if found:
                common = _common_prefix(found)
                tail = common[len(word):]
                return tail + (": " if len(found) == 1 else "") if tail or len(found) == 1 else ""
            return ""
        km = KEY_LINE.match(line)
        if km and not km.group("indent"):
            typed = km.group("rest").lstrip()
            if typed and not km.group("rest").startswith(" "):
                return ""
            choices = [str(c) for c in self.choices_for(km.group("key"))]
            found = [c for c in choices if c.startswith(typed) and c != typed]
            if typed and found:
                common = _common_prefix(found)
                return common[len(typed):]
        return ""

    def key_at(self, row: int) -> str | None:
        m = KEY_LINE.match(self.document.get_line(row)) if row < self.document.line_count else None
        return m.group("key") if m and not m.group("indent") else None

    def word_before_cursor(self) -> str:
        row, col = self.cursor_location
        line = self.document.get_line(row)[:col]
        m = re.search(r"[\w.-]*$", line)
        return m.group(0) if m else ""


def _common_prefix(items: Sequence[str]) -> str:
    if not items:
        return ""
    first, last = min(items), max(items)
    n = 0
    while n < len(first) and n < len(last) and first[n] == last[n]:
        n += 1
    return first[:n]
