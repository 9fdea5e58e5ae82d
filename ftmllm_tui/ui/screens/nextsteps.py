"""Next steps from a saved adapter (stop and save, or a finished train run): a chat or export config
written from the run's frozen config, then the launch dialog opened on it."""

from __future__ import annotations

from pathlib import Path

from ...core.runs.registry import RunRecord


def start_next_step(app, record: RunRecord, adapter_dir: str, step: str, before=None) -> None:
    """Write the ``step`` (chat / export) config next to the run's config (in a thread), then open
    the launch dialog on it; ``before`` runs first on the UI thread (e.g. closing a dialog)."""
    from ...core.configs.nextsteps import NEXT_KINDS, write_next_step

    def work() -> None:
        r, ctx = record, app.ctx
        try:
            frozen = ctx.registry.dir(r.id) / "config.yaml"
            text = frozen.read_text(encoding="utf-8") if frozen.is_file() else ""
            folder = Path(r.config).expanduser().parent if r.config else Path(r.cwd or ".")
            if not folder.is_absolute():
                folder = Path(r.cwd or ".") / folder
            path = write_next_step(text, adapter_dir, step, folder, r.name)
        except (OSError, ValueError) as e:
            app.call_from_thread(app.notify, f"Cannot write the {step} config: {e}", severity="error")
            return
        app.call_from_thread(opened, str(path), NEXT_KINDS[step])

    def opened(path: str, kind: str) -> None:
        if before is not None:
            before()
        gpus = "none" if record.gpus is None else ",".join(map(str, record.gpus))
        app.open_launch(config=path, kind=kind, gpus=gpus)
        app.notify(f"Wrote {path}", timeout=6)

    app.run_worker(work, thread=True, exit_on_error=False, group="next-step")


def offer_next_steps(app, record: RunRecord) -> None:
    """A small menu for a run with a saved adapter: chat with it, or merge and export it."""
    from ...core.configs import pickers
    from .pick import PickScreen

    adapter = record.saved_adapter
    menu = pickers.Found((
        pickers.Choice("chat", "Chat with it", f"webchat with adapter_name_or_path: {adapter}", "step"),
        pickers.Choice("export", "Export it", f"merge into the model and export, from {adapter}", "step")))

    def chosen(c) -> None:
        if c is not None:
            start_next_step(app, record, adapter, c.value)

    app.push_screen(PickScreen(f"Next step with the adapter of {record.name}"
                               + (f" (step {record.saved_step})" if record.saved_step is not None else ""),
                               lambda: menu), chosen)
