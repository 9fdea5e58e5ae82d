"""The key help panel (what the key under the cursor means) and the status line.

A part of ``EditorScreen`` (mixed in; ``@on`` handlers stay on the screen class)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ....core.configs.lfschema import GROUP_WORDS
from ...palette import PALETTE
from ...widgets.cell import Cell
from ...widgets.yaml_editor import YamlEditor
from .problems import SEV_ICON, _sev_style
from .values import PICKABLE


class KeyHelpPart:
    def _apply_width(self) -> None:
        show = self.size.width >= 100 if self.keyhelp_wanted is None else self.keyhelp_wanted
        self.set_class(not show, "no-keyhelp")

    def action_toggle_keyhelp(self) -> None:
        self.keyhelp_wanted = self.has_class("no-keyhelp")
        self._apply_width()

    def _status(self) -> None:
        ed = self.query_one(YamlEditor)
        row, col = ed.cursor_location
        t = Text(f" {row + 1}:{col + 1} ", style=PALETTE.muted)
        if getattr(self, "estimate_line", None):  # the memory estimate of the text as it is now
            t.append(f"{self.estimate_line}  ", style=PALETTE.muted)
        if self.report is not None:
            here = [f for f in self.report.findings if f.line == row + 1 and f.severity != "info"]
            if here:
                f = here[0]
                t.append(f"{SEV_ICON[f.severity]} {f.message}", style=_sev_style(f.severity))
                if f.hint:
                    t.append(f"  → {f.hint}", style=PALETTE.muted)
            elif not self.report.findings:
                t.append("✓ valid", style=PALETTE.ok)
            else:
                e, w = len(self.report.errors), len(self.report.warnings)
                t.append(f"{e} error(s), {w} warning(s) · F10 lists them", style=PALETTE.muted)
        self.query_one("#edstatus", Cell).show(t)

    def _key_help(self) -> None:
        ed = self.query_one(YamlEditor)
        key = ed.key_at(ed.cursor_location[0])
        out = Text()
        if key is None:
            out.append("Key help\n", style="bold")
            out.append("Put the cursor on a key to see what it does, its type, default and choices.\n\n",
                       style=PALETTE.muted)
            out.append(f"{len(self.schema.names_for(self.current_command()))} keys fit `{self.current_command()}` "
                       f"in LLaMA-Factory {self.schema.version}. Type the start of one and press → , or "
                       "ctrl+n for the list.", style=PALETTE.muted)
        else:
            arg = self.schema.args.get(key)
            out.append(f"{key}\n", style=f"bold {PALETTE.accent}")
            if arg is None:
                out.append(f"not an argument of LLaMA-Factory {self.schema.version}\n", style=PALETTE.danger)
            else:
                groups = ", ".join(GROUP_WORDS[g] for g in arg.groups)
                out.append(f"{groups} argument · {arg.type_words()}\n", style=PALETTE.muted)
                out.append("default ", style=PALETTE.muted)
                out.append(f"{arg.default!r}\n" if arg.default is not None else "none\n")
                if not self.schema.applies(key, self.current_command()):
                    out.append(f"not taken by `{self.current_command()}`\n", style=PALETTE.danger)
                choices = self._choices_for(key) if (arg.choices or key == "template") else []
                if choices:
                    shown = ", ".join(choices[:40]) + (f", … ({len(choices)})" if len(choices) > 40 else "")
                    out.append("choices ", style=PALETTE.muted)
                    out.append(shown + "\n")
                if key in PICKABLE:
                    out.append("F2 picks a value\n", style=PALETTE.accent)
                out.append("\n" + (arg.help or "(no help text)"))
        self.query_one("#keyhelp", Static).update(out)
