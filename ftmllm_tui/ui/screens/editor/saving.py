"""The save flow: validate, diff, atomic write with a backup; someone else's change on disk (watch, reload, conflict); backups (diff or restore).

A part of ``EditorScreen`` (mixed in; ``@on`` handlers stay on the screen class)."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import work

from ....core.configs import cfgfile, pickers
from ....core.configs.lfvalidate import Report, validate
from ...palette import PALETTE
from ...widgets.yaml_editor import YamlEditor


def backup_dir() -> Path:
    from ....settings import state_dir

    return state_dir() / "backups"


class SavingPart:
    def _watch_disk(self) -> None:
        self._check_disk()

    @work(thread=True, exclusive=True, group="watch")
    def _check_disk(self) -> None:
        if self.loaded is None:
            return
        try:
            changed = cfgfile.changed_on_disk(self.loaded.stamp, self.path)
        except OSError:
            return
        if changed:
            self.app.call_from_thread(self._disk_changed)

    def _disk_changed(self) -> None:
        if not self._alive:
            return
        if self.loaded is None or self.loaded.stamp is None and not self.path.exists():
            return
        if not self.modified:
            self._reload(quiet=True)
            self.notify(f"{self.path.name} changed on disk: reloaded (you had no edits)", timeout=5)
        elif not getattr(self, "_warned_disk", False):
            self._warned_disk = True
            self._header()  # the header says it first, and stays so until reload or save
            self.notify(f"{self.path.name} changed on disk since you opened it; saving will ask what to do",
                        severity="warning", timeout=10)

    def _reload(self, quiet: bool = False) -> None:
        self._reread()

    @work(thread=True, exclusive=True, group="disk")
    def _reread(self) -> None:
        try:
            loaded = cfgfile.read(self.path, allow_missing=True)
        except cfgfile.ConfigFileError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
            return
        self.app.call_from_thread(self._reread_done, loaded)

    def _reread_done(self, loaded: cfgfile.Loaded) -> None:
        if not self._alive:
            return
        self.loaded = loaded
        self.disk_text = loaded.text
        if self._not_text(loaded):
            return
        ed = self.query_one(YamlEditor)
        ed.read_only = False
        loc = ed.cursor_location
        ed.load_text(loaded.text)
        row = min(loc[0], ed.document.line_count - 1)
        ed.move_cursor((row, 0))
        self._warned_disk = False
        self._header()
        self._schedule(0.0)

    def action_save(self, then=None) -> None:
        if self.loaded is None:
            self.notify("This file could not be read, so it cannot be saved from here", severity="error")
            return
        if self.locked:
            if not self.offer_reencode():
                self.notify(f"{self.path.name}: {self.locked}, so it cannot be saved from here", severity="error")
            return
        text = self.text
        report = validate(text, schema=self.schema, path=self.path, command=self.command, workdir=self.workdir,
                          check_files=False)

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._ask_diff(text, report, then)

        if not report.syntax_ok:
            from ..confirm import ConfirmScreen

            f = report.findings[0]
            self.query_one(YamlEditor).move_cursor((max(0, f.line - 1), max(0, f.col - 1)), center=True)
            self.app.push_screen(ConfirmScreen(
                f"YAML syntax error at line {f.line}, column {f.col}",
                f"{f.message}\nLLaMA-Factory cannot read the file like this. Save it anyway?", yes="Save anyway"),
                confirmed)
            return
        self._ask_diff(text, report, then)

    def _ask_diff(self, text: str, report: Report, then) -> None:
        from ..diffview import SaveScreen

        if text == self.disk_text and self.loaded is not None and self.loaded.stamp is not None:
            self.notify("No changes to save", timeout=3)
            if then:
                then()
            return
        diff = cfgfile.diff(self.disk_text, text, self.path.name) if self.loaded and self.loaded.stamp else ""
        full = self.report if self.report is not None and self.report.syntax_ok else report
        e, w = len(full.errors), len(full.warnings)
        summary = Text()
        if e or w:
            summary.append(f"{e} error(s), {w} warning(s) — saving anyway keeps your work; launching checks again",
                           style=PALETTE.warning if not e else PALETTE.danger)
        else:
            summary.append("✓ valid", style=PALETTE.ok)
        if getattr(self, "_warned_disk", False):
            summary.append(f"\n⚠ {self.path.name} changed on disk since you opened it: this diff is against the "
                           "version you opened; saving asks again (reload, overwrite, or see their change)",
                           style=f"bold {PALETTE.warning}")
        summary.append(f"\nwritten atomically; the previous version is kept in {backup_dir()}", style=PALETTE.muted)

        def go(choice: str | None) -> None:
            if choice == "save":
                self._write(text, force=False, then=then)

        self.app.push_screen(SaveScreen(self.path.name, diff, summary), go)

    @work(thread=True, exclusive=True, group="save")
    def _write(self, text: str, force: bool, then=None) -> None:
        keep = self.app.ctx.settings.keep_backups
        expected = self.loaded.stamp if self.loaded is not None else None
        if expected is None:  # a new file (from a skeleton, an example): its folder may not exist yet
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # save says why it cannot write there
        try:
            saved = cfgfile.save(self.path, text, expected=expected, backup_dir=backup_dir(), keep=keep,
                                 force=force)
        except cfgfile.Conflict as exc:
            self.app.call_from_thread(self._conflict, text, exc, then)
            return
        except cfgfile.ConfigFileError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=12)
            return
        self.app.call_from_thread(self._saved, text, saved, then)

    def _saved(self, text: str, saved: cfgfile.Saved, then) -> None:
        if not self._alive:
            return
        self.loaded = cfgfile.Loaded(self.path, text, saved.stamp)
        self.disk_text = text
        self._warned_disk = False
        self._header()
        where = f" · previous version: {saved.backup}" if saved.backup else ""
        self.notify(f"Saved {self.path.name}{where}", timeout=6)
        if then:
            then()

    def _conflict(self, text: str, exc: cfgfile.Conflict, then) -> None:
        if not self._alive:
            return
        from ..diffview import ConflictScreen

        diff = cfgfile.diff(exc.disk_text or "", text, self.path.name)

        def decide(choice: str | None) -> None:
            if choice == "overwrite":
                self._write(text, force=True, then=then)
            elif choice == "reload":
                self._reload()
                self.notify("Reloaded from disk; your edits were dropped (ctrl+z brings them back)", timeout=8)

        self.app.push_screen(ConflictScreen(self.path.name, diff, deleted=exc.disk_stamp is None), decide)

    def action_save_as(self) -> None:
        """F12: the text under another name; the editor then edits that file (the old one is left as it
        is on disk). An existing file is replaced only after a confirmation (its version is backed up)."""
        from ..confirm import PromptScreen

        if self.locked:
            self.notify(f"{self.path.name}: {self.locked}, so it cannot be saved from here", severity="error")
            return
        text = self.text

        def go(value: str | None) -> None:
            if not value:
                return
            p = Path(value).expanduser()
            if not p.is_absolute():
                p = self.path.parent / p
            if p.suffix not in (".yaml", ".yml"):
                p = p.with_suffix(".yaml")
            if p.absolute() == self.path:
                self.action_save()
                return
            self._write_as(p.absolute(), text, False)

        self.app.push_screen(PromptScreen("Save as", "path/to/other.yaml", value=str(self.path)), go)

    @work(thread=True, exclusive=True, group="save")
    def _write_as(self, path: Path, text: str, force: bool) -> None:
        keep = self.app.ctx.settings.keep_backups
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            saved = cfgfile.save(path, text, expected=None, backup_dir=backup_dir(), keep=keep, force=force)
        except cfgfile.Conflict:
            self.app.call_from_thread(self._ask_replace, path, text)
            return
        except (cfgfile.ConfigFileError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=12)
            return
        self.app.call_from_thread(self._saved_as, path, text, saved)

    def _ask_replace(self, path: Path, text: str) -> None:
        from ..confirm import ConfirmScreen

        def answer(yes: bool | None) -> None:
            if yes:
                self._write_as(path, text, True)

        self.app.push_screen(ConfirmScreen(f"{path.name} exists", f"Replace {path} with this text? Its current "
                                           "version goes to the backups.", yes="Replace"), answer)

    def _saved_as(self, path: Path, text: str, saved: cfgfile.Saved) -> None:
        if not self._alive:
            return
        old = self.path
        self.path = path
        self.loaded = cfgfile.Loaded(path, text, saved.stamp)
        self.disk_text = text
        self._warned_disk = False
        self._header()
        self._schedule(0.0)
        self.notify(f"Saved as {path} (now editing it; {old.name} is as it was on disk)", timeout=8)

    def action_backups(self) -> None:
        from ..pick import PickScreen

        def load() -> pickers.Found:
            items = []
            for p in cfgfile.backups(self.path, backup_dir()):
                try:
                    st = p.stat()
                except OSError:
                    continue

                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime))
                items.append(pickers.Choice(str(p), when, f"{st.st_size} bytes · {p.name}", "backup"))
            return pickers.Found(tuple(items), () if items else ("no backups yet: one is kept at each save",))

        def chosen(c) -> None:
            if c is not None:
                self._read_backup(Path(c.value), c.label)

        self.app.push_screen(PickScreen(f"Backups of {self.path.name}", load, hint=str(backup_dir())), chosen)

    @work(thread=True, group="backup")
    def _read_backup(self, path: Path, label: str) -> None:
        from ....core.configs import textenc

        try:
            old = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"cannot read the backup: {exc}", severity="error")
            return
        scan = textenc.scan(old)  # e.g. the GBK original kept when the file was re-encoded: the text area
        if any(p.code == "not-utf8" for p in scan.problems) or scan.binary:  # takes UTF-8 only
            if not scan.encoding or scan.binary:
                self.app.call_from_thread(self.notify, f"that backup is not UTF-8 text ({scan.problems[0].message}):"
                                          " it cannot be restored in the editor", severity="error", timeout=8)
                return
            old = textenc.reencoded(old, scan.encoding)
            self.app.call_from_thread(self.notify, f"that backup is {scan.encoding}: shown as UTF-8", timeout=6)
        self.app.call_from_thread(self._offer_backup, old, label)

    def _offer_backup(self, old: str, label: str) -> None:
        from ..diffview import SaveScreen

        if not self._alive:
            return
        diff = cfgfile.diff(self.text, old, self.path.name, old_label="editor now", new_label=f"backup of {label}")

        def restore(choice: str | None) -> None:
            if choice == "save":
                ed = self.query_one(YamlEditor)
                ed.replace(old, ed.document.start, ed.document.end)
                self.notify("Backup restored into the editor (not saved yet; ctrl+z undoes)", timeout=6)

        self.app.push_screen(SaveScreen(f"the backup of {label}", diff, Text(
            "Restore this version into the editor? (- the editor now, + the backup; nothing is saved yet)",
            style=PALETTE.muted), verb="Restore"), restore)
