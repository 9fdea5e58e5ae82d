"""Submitting a run to Slurm: config, name, partition, nodes, GPUs per node, time limit; the sbatch
script is shown and can be edited before it goes out; Check runs ``sbatch --test-only`` (when and
where it would start, or why it cannot); Submit writes the run folder and calls sbatch. Every call
to Slurm or the disk runs in a thread worker."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Static, TextArea

from ...core.runs.launch import LaunchRequest, Prepared, prepare
from ...core.runs.registry import RunRecord
from ...core.slurm.query import SlurmError
from ...core.slurm.submit import SlurmSpec, build_script, submit, test_only
from ..palette import PALETTE
from .dialog import Dialog

FIELDS = (("config", "Config", "path to a LLaMA-Factory YAML"), ("name", "Name", "default: the file's name"),
          ("partition", "Part.", "default partition"), ("nodes", "Nodes", "1"),
          ("gpus", "GPUs/n", "GPUs per node"), ("time", "Time", "e.g. 2:00:00 (default: the partition's)"))


class SlurmSubmitScreen(Dialog[RunRecord | None]):
    HELP_TITLE = "Submit a run to Slurm"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SlurmSubmitScreen { align: center middle; }
    SlurmSubmitScreen > #dlg { width: 100%; max-width: 130; height: 100%; max-height: 46;
        border: round $accent; background: $surface; padding: 0 1; }
    SlurmSubmitScreen #fields { dock: top; height: auto; }
    SlurmSubmitScreen .row { height: 1; }
    SlurmSubmitScreen Label { width: 7; }
    SlurmSubmitScreen Input { width: 1fr; height: 1; border: none; padding: 0; }
    SlurmSubmitScreen #script { height: 1fr; min-height: 4; }
    SlurmSubmitScreen #foot { dock: bottom; height: auto; }
    SlurmSubmitScreen #problems { height: auto; max-height: 5; }
    SlurmSubmitScreen #buttons { height: 1; margin-top: 1; }
    SlurmSubmitScreen Button { margin-right: 2; }
    """

    def __init__(self, config: str | None = None, *, name: str = "", partition: str | None = None,
                 nodes: int | None = None, gpus_per_node: int | None = None):
        super().__init__()
        self.initial_config = config or ""
        self.initial = {"name": name, "partition": partition, "nodes": nodes, "gpus": gpus_per_node}
        self.prep: Prepared | None = None
        self.spec: SlurmSpec | None = None
        self._generated = ""  # the script as last generated (an edit makes the text differ)
        self._debounce: Timer | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        s = self.app.settings
        i = self.initial
        values = {"config": self.initial_config, "name": i["name"] or "",
                  "partition": s.partition if i["partition"] is None else i["partition"],
                  "nodes": str(i["nodes"] or 1), "gpus": str(s.gpus_per_node if i["gpus"] is None else i["gpus"]),
                  "time": s.time_limit}
        with Vertical(id="dlg") as v:
            v.border_title = "Submit a run to Slurm"
            v.border_subtitle = "Cancel is the default · Esc cancels"
            with Vertical(id="fields"):
                for key, label, hint in FIELDS:
                    with Horizontal(classes="row"):
                        yield Label(label)
                        yield Input(values[key], placeholder=hint, id=f"f-{key}")
            yield TextArea("", id="script", language=None, soft_wrap=False)
            with Vertical(id="foot"):
                yield Static(Text("Type a config path: the sbatch script appears here, editable.",
                                  style=PALETTE.muted), id="problems")
                with Horizontal(id="buttons"):
                    yield Button("Cancel", id="cancel", variant="primary", compact=True)
                    yield Button("Check (sbatch --test-only)", id="check", compact=True, disabled=True)
                    yield Button("Submit", id="submit", variant="success", compact=True, disabled=True)

    @classmethod
    def from_record(cls, rec: RunRecord, registry) -> SlurmSubmitScreen:
        """Relaunch a Slurm run: its frozen config, name, partition, nodes and GPUs per node."""
        frozen = registry.dir(rec.id) / "config.yaml"
        config = str(frozen) if frozen.exists() else (rec.config or "")
        return cls(config, name=rec.name, partition=rec.slurm_partition, nodes=rec.slurm_nodes or 1,
                   gpus_per_node=rec.slurm_gpus_per_node)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        if self.initial_config:
            self._regenerate()

    def _value(self, key: str) -> str:
        return self.query_one(f"#f-{key}", Input).value.strip()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.3, self._regenerate)

    def _regenerate(self) -> None:
        try:
            nodes = int(self._value("nodes") or "1")
            gpus = int(self._value("gpus") or "0")
        except ValueError:
            self._problems(Text("Nodes and GPUs/n are whole numbers", style=PALETTE.danger))
            return
        s = self.app.settings
        spec = SlurmSpec(partition=self._value("partition"), nodes=nodes, gpus_per_node=gpus,
                         cpus_per_task=s.cpus_per_task, mem=s.mem, time=self._value("time"), account=s.account,
                         qos=s.qos)
        cfg = self._value("config")
        if not cfg:
            return
        self._prepare(cfg, self._value("name") or None, spec)

    @work(thread=True, exclusive=True, group="slurm-prepare")
    def _prepare(self, cfg: str, name: str | None, spec: SlurmSpec) -> None:
        ctx = self.app.ctx
        schema = None
        if ctx.settings.check_on_launch:
            try:
                schema = ctx.lf_schema()[0]
            except Exception:  # the offline schema is a help, not a requirement
                schema = None
        prep = prepare(LaunchRequest(config=Path(cfg), gpus="none", name=name, cwd=Path.cwd()),
                       llamafactory_cli=ctx.llamafactory_cli, settings_env=ctx.settings.env,
                       pass_env=ctx.settings.pass_env, schema=schema, registry=ctx.registry)
        script = build_script(prep, spec, ctx.registry.dir(prep.run_id))
        self.app.call_from_thread(self._prepared, prep, spec, script)

    def _prepared(self, prep: Prepared, spec: SlurmSpec, script: str) -> None:
        area = self.query_one("#script", TextArea)
        if self._generated and area.text != self._generated:
            self.notify("The fields changed: the script was generated again (your edits to it are replaced)",
                        severity="warning", timeout=4)
        self.prep, self.spec, self._generated = prep, spec, script
        area.load_text(script)
        lines = Text()
        for p in prep.problems:
            lines.append(f"{p.level}: {p}\n", style=PALETTE.danger if p.level == "error" else PALETTE.warning)
        for msg in spec.check():
            lines.append(f"error: {msg}\n", style=PALETTE.danger)
        ok = prep.ok and not spec.check()
        if ok and not lines.plain:
            lines.append("Pre-flight checks passed. Check asks Slurm when and where it would start.",
                         style=PALETTE.ok)
        self._problems(lines)
        self.query_one("#check", Button).disabled = not ok
        self.query_one("#submit", Button).disabled = not ok

    def _problems(self, text: Text) -> None:
        self.query_one("#problems", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id
        if bid == "cancel":
            self.dismiss(None)
        elif bid in ("check", "submit") and not self.busy and self.prep is not None:
            self.busy = True
            text = self.query_one("#script", TextArea).text
            self._problems(Text("asking Slurm…", style=PALETTE.muted))
            (self._check if bid == "check" else self._submit)(text)

    @work(thread=True, exclusive=True, group="slurm-submit")
    def _check(self, script: str) -> None:
        try:
            msg = Text(f"sbatch --test-only: {test_only(script)}", style=PALETTE.ok)
        except SlurmError as e:
            msg = Text(f"Slurm would not accept it: {e}", style=PALETTE.danger)
        self.app.call_from_thread(self._answer, msg)

    def _answer(self, msg: Text) -> None:
        self.busy = False
        self._problems(msg)

    @work(thread=True, exclusive=True, group="slurm-submit")
    def _submit(self, script: str) -> None:
        ctx = self.app.ctx
        assert self.prep is not None and self.spec is not None
        try:
            rec = submit(self.prep, self.spec, ctx.registry, script=script)
        except (SlurmError, OSError) as e:
            self.app.call_from_thread(self._answer, Text(f"sbatch refused the job: {e}", style=PALETTE.danger))
            return
        self.app.call_from_thread(self._submitted, rec)

    def _submitted(self, rec: RunRecord) -> None:
        self.busy = False
        self.app.notify(f"{rec.name}: submitted as Slurm job {rec.slurm_job} (run {rec.id})", timeout=5)
        self.dismiss(rec)

    def action_cancel(self) -> None:
        self.dismiss(None)
