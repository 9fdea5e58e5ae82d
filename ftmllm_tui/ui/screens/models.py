"""Models view (M): the Hugging Face caches in use, local model folders, adapters and exports.

The cache is read with huggingface_hub's scan_cache_dir in a thread worker (a 200-repo cache on a network
disk takes seconds): the view paints at once with "scanning…" and fills in when the scan is done.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from ...core.models.cache import LocalModel, ModelsReport, Repo, human_bytes, when


def short(ts: float) -> str:
    import time

    return time.strftime("%m-%d %H:%M", time.localtime(ts)) if ts else "-"
from ..palette import PALETTE
from ..widgets.cell import Cell


@dataclass(frozen=True)
class Row:
    key: str
    repo: Repo | None = None
    local: LocalModel | None = None

    @property
    def path(self) -> str:
        if self.repo is not None:
            return self.repo.snapshot or self.repo.path
        return self.local.path if self.local else ""

    @property
    def value(self) -> str:
        """What goes into a config: the repo id for a cache repo (LLaMA-Factory finds it in the cache), else the
        folder."""
        return self.repo.repo_id if self.repo is not None else self.path

    @property
    def config_key(self) -> str:
        return "adapter_name_or_path" if self.local is not None and self.local.kind == "adapter" \
            else "model_name_or_path"


class ModelsScreen(Screen):
    HELP_TITLE = "Models"
    BINDINGS = [
        Binding("y", "copy", "Copy path", tooltip="Copy the snapshot path (or folder) to the clipboard"),
        Binding("u", "use", "Use in config",
                tooltip="Fill model_name_or_path (adapter_name_or_path for an adapter) of the open config"),
        Binding("x", "delete", "Delete rev", tooltip="Delete a revision from the cache (your files only; asks first)"),
        Binding("d", "download", "Download", tooltip="Download a repo into the cache as a job (tmux, resumable)"),
        Binding("o", "ollama", "Ollama", show=False,
                tooltip="Create in ollama: an export's Modelfile (editable, num_ctx from cutoff_len), ollama create"),
        Binding("f5", "rescan", "Rescan", tooltip="Read the caches again"),
        Binding("escape,g", "back", "Back", tooltip="Back to the previous view"),
    ]
    DEFAULT_CSS = """
    ModelsScreen #mtitle { height: 1; }
    ModelsScreen #mcaches { height: auto; max-height: 3; }
    ModelsScreen DataTable { height: 1fr; }
    ModelsScreen #mdetail { height: auto; max-height: 4; }
    ModelsScreen #mdetail2 { height: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.report: ModelsReport | None = None
        self.rows: list[Row] = []
        self.scanning = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """--readonly: deleting, downloading and creating in ollama do not exist."""
        if self.app.ctx.readonly and action in ("delete", "download", "ollama"):
            return False
        return True

    def compose(self) -> ComposeResult:
        yield Cell(id="mtitle")
        yield Cell(id="mcaches")
        t = DataTable(id="mtable", cursor_type="row", zebra_stripes=False)
        t.add_columns("REPO / FOLDER", "TYPE", "REVS", "SIZE", "MODIFIED", "ACCESSED", "OWNER", "PATH")
        yield t
        yield Cell(id="mdetail")
        yield Cell(id="mdetail2")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self._title()
        self.scanning = True
        self._title()
        self.call_after_refresh(self._first_scan)  # the frame goes out before the scan competes for the GIL

    def _first_scan(self) -> None:
        self.scanning = False
        self.action_rescan()

    def _title(self) -> None:
        n = "scanning…" if self.scanning else (f"{len(self.rows)} entries" if self.report else "")
        took = f" · read in {self.report.took_s:.2f} s" if self.report and not self.scanning else ""
        self.query_one("#mtitle", Cell).show(Text.assemble((" Models", "bold"), f"  {n}{took}"))

    def action_rescan(self) -> None:
        if self.scanning:
            return
        self.scanning = True
        self._title()
        self._scan()

    @work(thread=True, exclusive=True, group="models-scan", exit_on_error=False)
    def _scan(self) -> None:
        from ...core.models.cache import run_output_dirs, scan

        settings = self.app.settings
        try:
            outs = run_output_dirs(self.app.ctx.registry)
            rep = scan(os.environ, settings.caches, settings.dirs, outs, runs_env=settings.env)
        except Exception as e:  # noqa: BLE001 - a message, not a crash
            rep = ModelsReport(problems=[f"cannot read the caches: {type(e).__name__}: {e}"])
        self.app.call_from_thread(self.show_report, rep)

    def show_report(self, rep: ModelsReport) -> None:
        self.report = rep
        self.scanning = False
        lines = []
        for c in rep.caches:
            free = f"{human_bytes(c.free)} free of {human_bytes(c.total)}" if c.free is not None else "free ?"
            state = "" if c.exists else " · does not exist"
            lines.append(f" cache {c.path} ({c.source}){state} · {free}")
        if rep.problems:
            lines.append(f" {len(rep.problems)} note(s): {rep.problems[0]}")
        self.query_one("#mcaches", Cell).show(Text("\n".join(lines), style=PALETTE.muted))
        t = self.query_one(DataTable)
        cur = t.cursor_row
        t.clear()
        self.rows = []
        for r in rep.repos:
            row = Row(f"{r.cache}|{r.repo_type}|{r.repo_id}", repo=r)
            self.rows.append(row)
            t.add_row(r.repo_id, r.repo_type, str(len(r.revisions)), human_bytes(r.size), short(r.last_modified),
                      short(r.last_accessed), r.owner, r.snapshot or r.path, key=row.key)
        for m in rep.local:
            row = Row(f"local|{m.path}", local=m)
            self.rows.append(row)
            t.add_row(m.name, m.kind, "-", human_bytes(m.size), short(m.modified), "-", m.owner, m.path, key=row.key)
        if self.rows:
            t.move_cursor(row=min(max(cur, 0), len(self.rows) - 1))
        self._title()
        self._detail()

    def on_data_table_row_highlighted(self, event) -> None:
        self._detail()

    def current(self) -> Row | None:
        t = self.query_one(DataTable)
        if not self.rows or t.cursor_row < 0 or t.cursor_row >= len(self.rows):
            return None
        return self.rows[t.cursor_row]

    def _detail(self) -> None:
        row = self.current()
        text = ""
        if row is not None and row.repo is not None:
            revs = [f"{v.commit[:10]} {','.join(v.refs) or '(no ref)'} {human_bytes(v.size)} {v.files} files"
                    for v in row.repo.revisions]
            text = f" {row.repo.repo_id}: " + (" · ".join(revs) or "no revision downloaded")
        elif row is not None and row.local is not None:
            text = f" {row.local.kind}: {row.local.detail} · {row.local.path}"
            if row.local.modelfile:
                text += " · Modelfile (ollama)"
        self.query_one("#mdetail", Cell).show(Text(text))
        self.query_one("#mdetail2", Cell).show(Text(f" {row.path}" if row is not None else "", style=PALETTE.muted))

    # -- actions -------------------------------------------------------------------------------------
    def action_copy(self) -> None:
        row = self.current()
        if row is None or not row.path:
            return
        self.app.copy_to_clipboard(row.path)
        self.notify(f"Copied {row.path}", timeout=4)

    def editor(self):
        from .editor import EditorScreen

        return next((s for s in reversed(self.app.screen_stack) if isinstance(s, EditorScreen)), None)

    def action_use(self) -> None:
        row = self.current()
        if row is None:
            return
        ed = self.editor()
        if ed is None:
            self.notify("No config is open in the editor: open one (c, Enter), then M and u", severity="warning",
                        timeout=6)
            return
        key = row.config_key
        while self.app.screen is not ed:
            self.app.pop_screen()
        ed.set_value(key, row.value)
        self.notify(f"{key}: {row.value} (in {ed.path.name}, not saved yet)", timeout=6)

    def action_delete(self) -> None:
        if self.app.ctx.readonly:
            self.notify("Read-only mode: deleting is disabled", severity="warning", timeout=3)
            return
        row = self.current()
        if row is None or row.repo is None or not row.repo.revisions:
            self.notify("Pick a cache repo with a downloaded revision", severity="warning", timeout=4)
            return
        revs = row.repo.revisions
        if len(revs) == 1:
            self._plan(row.repo, revs[0].commit)
            return
        from ...core.configs.pickers import Choice, Found
        from .pick import PickScreen

        found = Found(tuple(Choice(v.commit, f"{v.commit[:12]} {','.join(v.refs) or '(no ref)'}",
                                   f"{human_bytes(v.size)} · {v.files} files · {when(v.last_modified)}", "revision")
                            for v in revs))
        self.app.push_screen(PickScreen(f"Delete which revision of {row.repo.repo_id}?", lambda: found),
                             lambda c: c and self._plan(row.repo, c.value))

    @work(thread=True, exclusive=True, group="models-delete", exit_on_error=False)
    def _plan(self, repo: Repo, commit: str) -> None:
        from ...core.models.cache import plan_delete

        try:
            plan = plan_delete(repo.cache, repo.repo_id, [commit], repo_type=repo.repo_type,
                               registry=self.app.ctx.registry)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Cannot plan the deletion: {e}", severity="error", timeout=8)
            return
        self.app.call_from_thread(self._confirm, plan)

    def _confirm(self, plan) -> None:
        from .confirm import ConfirmScreen

        if not plan.ok:
            self.notify(f"{plan.repo_id} {plan.commits[0][:10]} is not deleted: " + "; ".join(plan.blocked),
                        severity="error", timeout=12)
            return
        shown = plan.paths[:40]
        body = (f"{human_bytes(plan.freed)} come back. What goes ({len(plan.paths)}):\n"
                + "\n".join(shown) + ("\n…" if len(plan.paths) > len(shown) else "")
                + "\n\nThe cache is shared: this cannot be undone.")
        self.app.push_screen(ConfirmScreen(f"Delete revision {plan.commits[0][:12]} of {plan.repo_id}?", body,
                                           yes="Delete"), lambda yes: yes and self._execute(plan))

    @work(thread=True, exclusive=True, group="models-delete", exit_on_error=False)
    def _execute(self, plan) -> None:
        from ...core.models.cache import execute_delete

        try:
            execute_delete(plan)
            msg, sev = f"Deleted {plan.repo_id} {plan.commits[0][:10]}: {human_bytes(plan.freed)} freed", "information"
        except Exception as e:  # noqa: BLE001
            msg, sev = f"Delete failed: {e}", "error"
        self.app.call_from_thread(self.notify, msg, severity=sev, timeout=8)
        self.app.call_from_thread(self.action_rescan)

    def action_download(self) -> None:
        if self.app.ctx.readonly:
            self.notify("Read-only mode: downloading is disabled", severity="warning", timeout=3)
            return
        from .confirm import PromptScreen

        row = self.current()
        value = row.repo.repo_id if row is not None and row.repo is not None else ""
        self.app.push_screen(PromptScreen("Download from the Hub (HF_ENDPOINT when set) into the cache",
                                          "ORG/NAME [--repo-type dataset] [--revision R] [--include GLOB]…", value),
                             lambda v: v and self._plan_download(v))

    def _plan_download(self, line: str) -> None:
        import argparse
        import shlex

        p = argparse.ArgumentParser(add_help=False, exit_on_error=False)
        p.add_argument("repo")
        p.add_argument("--repo-type", choices=("model", "dataset"), default="model")
        p.add_argument("--revision", default=None)
        p.add_argument("--include", action="append", default=[])
        try:
            a = p.parse_args(shlex.split(line))
        except (argparse.ArgumentError, ValueError, SystemExit) as e:
            self.notify(f"Cannot read {line!r}: {e}", severity="error", timeout=8)
            return
        plan_and_download(self.app, a.repo, repo_type=a.repo_type, revision=a.revision, include=a.include)

    def action_ollama(self) -> None:
        row = self.current()
        if row is None or row.local is None or not row.local.modelfile:
            self.notify("Pick an export with a Modelfile (llamafactory-cli export writes one for supported templates)",
                        severity="warning", timeout=6)
            return
        from pathlib import Path

        from .ollama import open_ollama

        open_ollama(self.app, Path(row.local.path))

    def action_back(self) -> None:
        self.app.pop_screen()


def plan_and_download(app, repo: str, *, repo_type: str = "model", revision: str | None = None,
                      include=(), cache_dir=None) -> None:
    """Ask the Hub (a thread), show the plan with Cancel focused, start the job. Also R on a download run in Runs
    (which resumes it)."""
    def plan() -> None:
        from ...core.models.download import DownloadError, plan_download

        app.call_from_thread(app.notify, f"Asking the Hub about {repo}…", timeout=3)
        from ...core.models.cache import models_env

        try:
            p = plan_download(repo, repo_type=repo_type, revision=revision, include=include, cache_dir=cache_dir,
                              environ=models_env(os.environ, app.settings.env))
        except DownloadError as e:
            app.call_from_thread(app.notify, str(e), severity="error", timeout=10)
            return
        app.call_from_thread(_confirm_download, app, p)

    app.run_worker(plan, thread=True, exit_on_error=False, group="models-download")


def _confirm_download(app, plan) -> None:
    from .confirm import ConfirmScreen

    if plan.already:
        app.notify(f"Already in the cache: {plan.snapshot()}", timeout=8)
        return
    if plan.problems:
        app.notify("; ".join(plan.problems), severity="error", timeout=12)
        return
    body = plan.summary() + f"\n\nFrom {plan.endpoint} into {plan.cache_dir}, as a job in tmux: it survives the " \
        "SSH link, its progress shows in Runs (r on the GPU view), x there stops it, starting it again resumes."
    app.push_screen(ConfirmScreen(f"Download {plan.repo_id}?", body, yes="Download", danger=False),
                    lambda yes: yes and _start(app, plan))


def _start(app, plan) -> None:
    def run() -> None:
        from ...core.models.download import start_download

        ctx = app.ctx
        try:
            from ...core.models.cache import models_env

            rec = start_download(plan, ctx.registry, ctx.tmux, pass_env=ctx.settings.pass_env,
                                 environ=models_env(os.environ, app.settings.env))
        except Exception as e:  # noqa: BLE001
            app.call_from_thread(app.notify, f"Cannot start the download: {e}", severity="error", timeout=10)
            return
        app.call_from_thread(app.notify, f"Downloading {plan.repo_id} in tmux session {rec.tmux_session}; "
                             "progress in Runs (r on the GPU view)", timeout=10)
        from .runs import RunsScreen

        def refresh() -> None:
            if isinstance(app.screen, RunsScreen):
                app.screen.refresh_runs()

        app.call_from_thread(refresh)

    app.run_worker(run, thread=True, exit_on_error=False, group="models-download")


def relaunch_job(app, record) -> bool:
    """R in Runs on a job of this part: a download starts again (and so resumes); True when handled."""
    if record.kind == "download":
        from ...core.models.download import parse_job_argv

        try:
            a = parse_job_argv(record.argv)
        except ValueError as e:
            app.notify(f"Cannot relaunch {record.name}: {e}", severity="error", timeout=8)
            return True
        from pathlib import Path

        plan_and_download(app, a.repo, repo_type=a.repo_type, revision=a.revision, include=a.include,
                          cache_dir=Path(a.cache_dir) if a.cache_dir else None)
        return True
    if record.kind == "ollama":
        app.notify("Create it again from the export: o in the Models view (M) or in the export run's detail view",
                   timeout=8)
        return True
    return False
