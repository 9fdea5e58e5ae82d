"""Validation as you type, the Problems list and the deep check (LLaMA-Factory's own parser in the training environment).

A part of ``EditorScreen`` (mixed in; ``@on`` handlers stay on the screen class)."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ....core.configs.lfschema import COMMAND_GROUPS, Schema
from ....core.configs.lfvalidate import Report, validate
from ...palette import PALETTE
from ...widgets.cell import Cell
from ...widgets.yaml_editor import KEY_LINE, YamlEditor, value_span

SEV_ICON = {"error": "✗", "warning": "!", "info": "·"}


def _sev_style(severity: str) -> str:
    return {"error": PALETTE.danger, "warning": PALETTE.warning}.get(severity, PALETTE.muted)


COMMANDS = tuple(COMMAND_GROUPS)


class ValidationPart:
    def _schedule(self, delay: float) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(max(delay, 0.01), self._validate)

    @property
    def _checked_text(self) -> str:
        """What validation reads: the text, or while the file is shown read-only (not UTF-8) the file's own
        text, so its bad bytes are problems at their lines."""
        return self.disk_text if getattr(self, "locked", None) else self.text

    def _validate(self) -> None:
        self._run_validation(self._checked_text, self.schema, self.command)

    @work(thread=True, exclusive=True, group="validate")
    def _run_validation(self, text: str, schema: Schema, command: str | None) -> None:
        report = validate(text, schema=schema, path=self.path, command=command, workdir=self.workdir)
        from .estimate_status import estimate_for_text

        self.estimate_line = estimate_for_text(text, self.path, self.workdir, command or report.command)
        self.app.call_from_thread(self._validated, text, report)

    def _validated(self, text: str, report: Report) -> None:
        if not self._alive:
            return
        if text != self._checked_text:
            return  # stale: another run is coming
        self.report = report
        self._header()
        marks: dict[int, list] = {}
        ed = self.query_one(YamlEditor)
        for f in report.findings:
            if f.severity == "info" or not f.line:
                continue
            row = f.line - 1
            if row >= ed.document.line_count:
                continue
            line = ed.document.get_line(row)
            start = max(0, f.col - 1)
            end = None
            if f.code != "syntax":
                m = KEY_LINE.match(line)
                span = value_span(line)
                if m and start <= m.end("key"):
                    end = m.end("key")
                elif span and span[0] <= start:
                    end = span[1]
            else:
                end = min(len(line), start + 1) if start < len(line) else None
                if start >= len(line):
                    start = max(0, len(line) - 1)
            marks.setdefault(row, []).append((start, end, f.severity))
        ed.set_marks(marks)
        self._fill_problems(report)
        self._status()
        self._key_help()

    def restyle(self) -> None:
        """The theme changed: header, problems, status and key help carry palette colours."""
        if not self._alive():
            return
        self._header()
        if self.report is not None:
            self._fill_problems(self.report)
        self._status()
        self._key_help()

    def _fill_problems(self, report: Report) -> None:
        ol = self.query_one("#problems", OptionList)
        keep = ol.highlighted
        ol.clear_options()
        self.findings_shown = list(report.findings)
        opts = []
        for f in self.findings_shown:
            t = Text()
            t.append(f" {SEV_ICON[f.severity]} ", style=f"bold {_sev_style(f.severity)}")
            t.append(f"{f.where():>7}  ", style=PALETTE.muted)
            t.append(f.message, style=_sev_style(f.severity) if f.severity != "info" else PALETTE.muted)
            if f.hint:
                t.append(f"  → {f.hint}", style=PALETTE.muted)
            opts.append(Option(t))
        deep = self._deep_option()
        if not opts and deep is None:
            opts.append(Option(Text(" ✓ no problems found", style=PALETTE.ok), disabled=True))
        elif not opts:
            opts.append(Option(Text(" ✓ no problems found in the file", style=PALETTE.ok), disabled=True))
        if deep is not None:  # after the findings: their indices stay those of findings_shown
            opts.append(deep)
        ol.add_options(opts)
        if keep is not None and keep < len(self.findings_shown):
            ol.highlighted = keep
        n_err = len(report.errors)
        n_warn = len(report.warnings)
        ol.border_title = f"Problems: {n_err} error(s), {n_warn} warning(s)"

    def _deep_option(self) -> Option | None:
        """The last deep check's verdict as a row of Problems (kept until the next check); says so
        when the text changed since."""
        res, checked = getattr(self, "deep_result", None), getattr(self, "deep_text", None)
        if res is None or res.error_type == "Cancelled":
            return None
        t = Text()
        if res.ok:
            t.append(" ✓ ", style=f"bold {PALETTE.ok}")
            t.append("   deep  ", style=PALETTE.muted)
            t.append(f"LLaMA-Factory {res.version} accepts it", style=PALETTE.ok)
        elif res.machine:
            t.append(" ! ", style=f"bold {PALETTE.warning}")
            t.append("   deep  ", style=PALETTE.muted)
            t.append(f"depends on this machine, not the file: {res.message}", style=PALETTE.warning)
        else:
            t.append(" ✗ ", style=f"bold {PALETTE.danger}")
            t.append("   deep  ", style=PALETTE.muted)
            t.append(f"{res.error_type}: {res.message}", style=PALETTE.danger)
        if checked is not None and checked != self._checked_text:
            t.append("  (checked before your last edits: F8 again)", style=PALETTE.muted)
        else:
            t.append("  (F8)", style=PALETTE.muted)
        return Option(t)

    def action_cycle_command(self) -> None:
        cur = self.current_command()
        order = list(COMMANDS)
        nxt = order[(order.index(cur) + 1) % len(order)] if cur in order else "train"
        self.command = nxt
        self.notify(f"Validating as `llamafactory-cli {nxt}`", timeout=3)
        self._header()
        self._schedule(0.0)

    def action_problems(self) -> None:
        self.query_one("#problems", OptionList).focus()

    def action_deep(self) -> None:
        """F8: the deep check; F8 again while it runs cancels it (it can take a minute: imports torch)."""
        if self._deep_cancel is not None:
            self._deep_cancel.set()
            self._deep_status("cancelling…")
            return
        if self.report is not None and not self.report.syntax_ok:
            self.notify("Fix the YAML syntax first", severity="warning", timeout=4)
            return
        import threading

        self._deep_cancel = threading.Event()
        self._deep_t0 = time.monotonic()
        self._deep_timer = self.set_interval(1.0, lambda: self._deep_status())
        self._deep_status()
        self._deep(self._checked_text, self.current_command(), self._deep_cancel)  # read-only: the file's bytes
        self._deep_text_pending = self._checked_text

    def _deep_status(self, note: str = "") -> None:
        if not self._alive or self._deep_cancel is None:
            return
        secs = time.monotonic() - self._deep_t0
        t = Text(f" deep check: LLaMA-Factory's parser in the training env… {secs:.0f} s", style=PALETTE.accent)
        t.append(f"  {note}" if note else "  F8 cancels", style=PALETTE.muted)
        self.query_one("#edstatus", Cell).show(t)

    @work(thread=True, exclusive=True, group="deep")
    def _deep(self, text: str, command: str, cancel) -> None:
        from ....core.configs.lfenv import deep_check

        res = deep_check(text, command, self.app.ctx.lf_python(), workdir=self.workdir, name=self.path.name,
                         cancel=cancel)
        self.app.call_from_thread(self._deep_done, res)

    def _deep_done(self, res) -> None:
        self._deep_cancel = None
        if self._deep_timer is not None:
            self._deep_timer.stop()
            self._deep_timer = None
        if not self._alive:
            return
        self._status()
        if res.error_type == "Cancelled":
            self.notify(f"Deep check cancelled after {res.seconds:.0f} s", timeout=4)
            return
        self.deep_result, self.deep_text = res, getattr(self, "_deep_text_pending", None)
        if self.report is not None:
            self._fill_problems(self.report)  # the verdict stays in Problems, not only in a toast
        if res.ok:
            self.notify(f"Deep check: LLaMA-Factory {res.version} accepts it ({res.seconds:.1f} s)", timeout=8)
        elif res.machine:
            self.notify(f"Deep check — depends on this machine, not the file: {res.error_type}: {res.message}",
                        severity="warning", timeout=15)
        else:
            self.notify(f"Deep check failed: {res.error_type}: {res.message}", severity="error", timeout=20)
