"""Create in ollama (o in the Models view on an export, and in the detail view of an export run): the Modelfile
LLaMA-Factory wrote, editable, num_ctx offered from the training run's cutoff_len, then `ollama create` as a job."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea

from ...core.models import ollama as ol
from ..palette import PALETTE
from .dialog import Dialog


def cutoff_for_export(registry, export_dir: Path) -> int | None:
    """cutoff_len of the run behind an export: the export run's own config, else the training run whose output_dir
    is the export's adapter_name_or_path."""
    import os

    import yaml

    def cfg_of(rec) -> dict:
        try:
            d = yaml.safe_load((registry.dir(rec.id) / "config.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            return {}
        return d if isinstance(d, dict) else {}

    def same(a, b) -> bool:
        return isinstance(a, str) and os.path.realpath(os.path.expanduser(a)) == os.path.realpath(b)

    try:
        records, _ = registry.all()
    except OSError:
        return None
    cfgs = [(r, cfg_of(r)) for r in records]
    for _, c in cfgs:
        if same(c.get("export_dir"), export_dir):
            if isinstance(c.get("cutoff_len"), int):
                return c["cutoff_len"]
            adapter = c.get("adapter_name_or_path")
            for r2, c2 in cfgs:
                if isinstance(c2.get("cutoff_len"), int) and (same(c2.get("output_dir"), str(adapter or ""))
                                                             or same(r2.output_dir, str(adapter or ""))):
                    return c2["cutoff_len"]
    return None


def default_name(export_dir: Path) -> str:
    import re

    base = re.sub(r"[^a-z0-9._-]+", "-", Path(export_dir).name.lower()).strip("-._") or "model"
    return f"{base}:latest"


class OllamaScreen(Dialog[object]):
    HELP_TITLE = "Create in ollama"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    OllamaScreen { align: center middle; }
    OllamaScreen > #dlg { width: 100; max-width: 100%; height: 90%; max-height: 100%; border: round $accent;
        background: $surface; padding: 0 1; }
    OllamaScreen #fields { height: 1; margin-top: 1; }
    OllamaScreen #oname { width: 1fr; }
    OllamaScreen #onumctx { width: 10; }
    OllamaScreen #mf { height: 1fr; }
    OllamaScreen #ostatus { height: auto; max-height: 3; }
    OllamaScreen #orun { height: 1; }
    OllamaScreen #buttons { dock: bottom; height: 1; }
    OllamaScreen Button { margin-right: 2; }
    """

    def __init__(self, export_dir: Path, text: str, *, cutoff_len: int | None = None, error: str = "") -> None:
        super().__init__()
        self.export_dir = Path(export_dir)
        self.cutoff_len = cutoff_len
        self.ollama: ol.OllamaStatus | None = None
        self.text, self.error = text, error

    def compose(self) -> ComposeResult:
        ctx = ol.num_ctx(self.text)
        offer = self.cutoff_len or ctx or 4096
        with Vertical(id="dlg"):
            yield Static(Text(f"Create in ollama: {self.export_dir}", style="bold"))
            with Horizontal(id="fields"):
                yield Label("name ")
                yield Input(default_name(self.export_dir), placeholder="name[:tag]", id="oname", compact=True)
                yield Label("  num_ctx ")
                yield Input(str(offer), placeholder="num_ctx", id="onumctx", type="integer", compact=True)
            note = f"num_ctx: LLaMA-Factory wrote {ctx}" if ctx else "num_ctx: none in the file"
            if self.cutoff_len:
                note += f"; the run's cutoff_len is {self.cutoff_len} (offered)"
            yield Static(Text(note, style=PALETTE.muted))
            yield TextArea(self.text, id="mf", show_line_numbers=True)
            yield Checkbox("then `ollama run` it in a second tmux window of the job", id="orun", compact=True)
            yield Static(Text(self.error or "checking ollama…"), id="ostatus")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Create", id="create", variant="success", compact=True, disabled=bool(self.error))

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._check()

    @work(thread=True, exclusive=True, group="ollama-status", exit_on_error=False)
    def _check(self) -> None:
        st = ol.status()
        self.app.call_from_thread(self._show_status, st)

    def _show_status(self, st) -> None:
        self.ollama = st
        if not self.error:
            style = PALETTE.ok if st.ok else f"bold {PALETTE.danger}"
            self.query_one("#ostatus", Static).update(Text(st.message, style=style))

    def modelfile(self) -> str:
        text = self.query_one("#mf", TextArea).text
        raw = self.query_one("#onumctx", Input).value.strip()
        if raw.isdigit() and int(raw) > 0 and ol.num_ctx(text) != int(raw):
            text = ol.with_num_ctx(text, int(raw))
        return text

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "create":
            self.dismiss(None)
            return
        name = self.query_one("#oname", Input).value.strip()
        why = ol.check_name(name)
        if why:
            self.query_one("#ostatus", Static).update(Text(why, style=f"bold {PALETTE.danger}"))
            return
        if self.ollama is not None and not self.ollama.ok:
            self.query_one("#ostatus", Static).update(Text(self.ollama.message, style=f"bold {PALETTE.danger}"))
            return
        self._create(name, self.modelfile(), self.query_one("#orun", Checkbox).value)

    @work(thread=True, exclusive=True, group="ollama-create", exit_on_error=False)
    def _create(self, name: str, text: str, then_run: bool = False) -> None:
        ctx = self.app.ctx
        try:
            rec = ol.start_create(self.export_dir, text, name, ctx.registry, ctx.tmux, then_run=then_run)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.query_one("#ostatus", Static).update,
                                      Text(f"cannot start `ollama create`: {e}", style=f"bold {PALETTE.danger}"))
            return
        self.app.call_from_thread(self.dismiss, rec)

    def action_cancel(self) -> None:
        self.dismiss(None)


def open_ollama(app, export_dir: Path) -> None:
    """The dialog, then a note where the job's output is."""
    if app.ctx.readonly:
        app.notify("Read-only mode: creating in ollama is disabled", severity="warning", timeout=3)
        return

    def done(rec) -> None:
        if rec is not None:
            app.notify(f"`ollama create` runs in tmux session {rec.tmux_session}: its output is in Runs (r on the "
                       "GPU view, then l)", timeout=10)

    def find() -> None:  # the disk, off the UI thread
        cutoff = cutoff_for_export(app.ctx.registry, export_dir)
        try:
            text, error = ol.read_modelfile(export_dir), ""
        except (OSError, UnicodeDecodeError) as e:
            text, error = "", f"no readable Modelfile in {export_dir} ({getattr(e, 'strerror', None) or e})"
        app.call_from_thread(app.push_screen, OllamaScreen(export_dir, text, cutoff_len=cutoff, error=error), done)

    app.run_worker(find, thread=True, exit_on_error=False, group="ollama-open")


def open_ollama_for_run(app, record) -> None:
    """From the detail view of an export run: its export_dir (read off the UI thread)."""
    def find() -> None:
        d = export_dir_of(app.ctx.registry, record) if record is not None and record.kind == "export" else None
        if d is None or not (d / "Modelfile").is_file():
            app.call_from_thread(app.notify, "Only for an export run whose export_dir holds a Modelfile",
                                 severity="warning", timeout=5)
            return
        app.call_from_thread(open_ollama, app, d)

    app.run_worker(find, thread=True, exit_on_error=False, group="ollama-open")


def export_dir_of(registry, record) -> Path | None:
    """An export run's export_dir (from its frozen config)."""
    import os

    import yaml

    try:
        cfg = yaml.safe_load((registry.dir(record.id) / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    d = cfg.get("export_dir") if isinstance(cfg, dict) else None
    if not isinstance(d, str):
        return None
    p = Path(os.path.expanduser(d))
    return p if p.is_absolute() else Path(record.cwd or ".") / p
