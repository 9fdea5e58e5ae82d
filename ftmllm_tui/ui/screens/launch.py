"""The launch dialog: config, kind, GPUs, name, environment; the exact command and every pre-flight
problem are shown (and copyable) before anything starts."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ...core import fmt
from ...core.runs.launch import LF_COMMANDS, LaunchError, LaunchRequest, Prepared, prepare, start
from ...core.runs.registry import ALL_KINDS, RunRecord
from ...core.runs.tmux import TmuxError
from ..palette import PALETTE
from ..widgets.path_suggester import PathSuggester
from .dialog import Dialog


def is_replay(app) -> bool:
    snap = getattr(app, "snapshot", None)
    return snap is not None and snap.is_replay


def gpu_table(app, host: str | None = None) -> Table | Text:
    """This machine's GPUs (or, ``host``: that host's, as its link last saw them)."""
    snap = getattr(app, "snapshot", None)
    if host is not None:
        snap = app.cluster.links[host].state.snapshot
        if snap is None:
            return Text(f"{host}: no GPU data yet ({app.cluster.links[host].state.state})", style=PALETTE.muted)
    elif is_replay(app):
        return Text("REPLAY: the GPUs shown elsewhere are a recording's, not this machine's. Picking GPUs "
                    "(auto) needs live data, so GPUs is none here; indices like 0,1 are not checked.",
                    style=PALETTE.warning)
    if snap is None or not snap.gpus:
        return Text("No GPUs visible (no NVIDIA driver): use none for a CPU run.", style=PALETTE.muted)
    t = Table(box=None, padding=(0, 1), header_style="bold")
    for c in ("GPU", "NAME", "MEMORY", "UTIL", "HELD BY", ""):
        t.add_column(c)
    for g in snap.gpus:
        users = sorted({r.user for r in snap.processes if r.gpu_index == g.index})
        free = g.index in snap.free
        mem = (f"{fmt.bytes_h(g.memory_used_bytes)}/{fmt.bytes_h(g.memory_total_bytes)}"
               if g.memory_total_bytes else "-")
        t.add_row(str(g.index), g.short_name, mem, "-" if g.utilization_pct is None else
                  f"{g.utilization_pct}%", ", ".join(users) or "-",
                  Text("FREE", style=f"bold {PALETTE.free}") if free else
                  Text(g.error or "busy", style=PALETTE.muted))
    return t


# what the launcher adds to a run's environment itself (not the user's --env): left out of a relaunch's Env
_COMPUTED_ENV = {"FTMLLM_RUN_ID", "PYTHONUNBUFFERED", "CUDA_VISIBLE_DEVICES", "FORCE_TORCHRUN", "LLAMABOARD_ENABLED",
                 "LLAMABOARD_WORKDIR", "GRADIO_SERVER_PORT", "API_PORT"}


def _user_env(rec: RunRecord) -> tuple[tuple[str, str], ...]:
    """The environment the user gave a run (older records did not keep it apart: what the launcher did not add)."""
    return rec.user_env or tuple((k, v) for k, v in rec.env if k not in _COMPUTED_ENV)


def _only_output_dir(prep: Prepared) -> bool:
    """The only errors are 'output_dir belongs to another run' (the user may confirm those)."""
    errors = [p for p in prep.problems if p.level == "error"]
    return bool(errors) and all(p.where == "output_dir" for p in errors)


class BodyScroll(VerticalScroll):
    """The GPU table, command and problems: a Tab stop only when there is something to scroll, and
    then it shows that it has the focus (no invisible focus stop)."""

    DEFAULT_CSS = """
    BodyScroll:focus { background: $boost; border-left: outer $accent; }
    """

    def allow_focus(self) -> bool:
        return self.max_scroll_y > 0


class LaunchScreen(Dialog[RunRecord | None]):
    HELP_TITLE = "Launch a run"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+y", "copy", "Copy command"),
                Binding("f6", "slurm", "Slurm", tooltip="Submit this config to Slurm instead (the sbatch script)")]
    # The fields are docked at the top and the buttons at the bottom: both always on screen (80x24 included);
    # the GPU table and the command/problems between them scroll.
    DEFAULT_CSS = """
    LaunchScreen { align: center middle; }
    LaunchScreen > #dialog { width: 75%; min-width: 110; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    LaunchScreen #fields { dock: top; height: auto; }
    LaunchScreen .row { height: 1; }
    LaunchScreen Label { width: 7; }
    LaunchScreen Label.inner { width: auto; margin-right: 1; }
    LaunchScreen Input { width: 1fr; background: $panel; }  /* compact fields: tell them from the labels */
    LaunchScreen Select { width: 14; }
    LaunchScreen #gpus-in { width: 14; }
    LaunchScreen #name { width: 1fr; }
    LaunchScreen #host { width: 24; }
    LaunchScreen #copy-config { display: none; }
    LaunchScreen #copy-config.-remote { display: block; }
    LaunchScreen #copy-config.-textual-compact:focus { border: none !important; }  /* one line: the label shows it */
    LaunchScreen .gap { width: 2; }
    LaunchScreen #body { height: auto; max-height: 100%; }
    LaunchScreen #gputable { margin-top: 1; }
    LaunchScreen #preview { height: auto; margin-top: 1; }
    LaunchScreen #buttons { dock: bottom; height: 2; padding-top: 1; }
    LaunchScreen Button { margin-right: 2; }
    """

    def __init__(self, *, config: str = "", kind: str = "train", gpus: str = "auto", name: str = "",
                 env: str = "", overrides: str = "", record: RunRecord | None = None, cwd: str | None = None):
        super().__init__()
        self.initial = dict(config=config, kind=kind, gpus=gpus, name=name, env=env, overrides=overrides)
        self.record = record  # a relaunch: the run it reproduces
        self.cwd = Path(cwd) if cwd and Path(cwd).is_dir() else Path.cwd()
        self.replay_none = False  # True when REPLAY turned the default "auto" into "none"
        self.prepared: Prepared | None = None
        self._debounce: Timer | None = None
        self.remote: tuple[str, list[str], str | None] | None = None  # (host, launch args, local file to copy)
        self._gpus_of: str | None = None  # whose GPUs the table shows (None: this machine's)

    @classmethod
    def from_record(cls, rec: RunRecord) -> LaunchScreen:
        """Relaunch: the run's frozen config (in compose, where the registry is known), its overrides, GPUs,
        environment, kind, name and working directory."""
        gpus = "none" if rec.gpus is None else ",".join(map(str, rec.gpus))
        env = _user_env(rec)
        return cls(config=rec.config or "", kind=rec.kind, gpus=gpus, name=rec.name,
                   env=" ".join(f"{k}={v}" for k, v in env),
                   overrides=" ".join(f"{k}={v}" for k, v in rec.overrides), record=rec, cwd=rec.cwd)

    def compose(self) -> ComposeResult:
        i = dict(self.initial)
        if is_replay(self.app) and i["gpus"].strip().startswith("auto"):
            i["gpus"], self.replay_none = "none", True  # auto would pick among a recording's GPUs
        if self.record is not None:
            frozen = self.app.ctx.registry.dir(self.record.id) / "config.yaml"
            if frozen.is_file():
                i["config"] = str(frozen)
        with Vertical(id="dialog") as v:
            v.border_title = "Launch a run" if self.record is None else f"Relaunch {self.record.id}"
            v.border_subtitle = "Esc cancels · ctrl+y copies the command"
            with Vertical(id="fields"):
                yield from self._host_row()
                with Horizontal(classes="row"):
                    yield Label("Config")
                    yield Input(i["config"], placeholder="path/to/config.yaml  (→ completes the path)", id="config",
                                compact=True, suggester=PathSuggester())
                with Horizontal(classes="row"):
                    yield Label("Kind")
                    yield Select([(k, k) for k in ALL_KINDS], value=i["kind"], allow_blank=False, id="kind",
                                 compact=True)
                    yield Static(classes="gap")
                    yield Label("GPUs", classes="inner")
                    yield Input(i["gpus"], placeholder="auto|none|0,1", id="gpus-in", compact=True)
                    yield Static(classes="gap")
                    yield Label("Name", classes="inner")
                    yield Input(i["name"], placeholder="(config file name)", id="name", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Env")
                    yield Input(i["env"], placeholder="KEY=VALUE KEY2=VALUE2 (added to the run's environment)",
                                id="env", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Set")
                    yield Input(i["overrides"], placeholder="learning_rate=2.0e-5 … (this run only, not the file)",
                                id="overrides", compact=True)
            with BodyScroll(id="body"):
                yield Static(gpu_table(self.app), id="gputable")
                yield Static("", id="preview")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Start", id="start", variant="success", disabled=True, compact=True)
                yield Button("Copy command", id="copy", compact=True)

    def _host_row(self) -> ComposeResult:
        """With other hosts configured: where the run goes (this machine when it is one of the hosts, a
        host, or auto) and whether the config is a local file to copy there first."""
        from ...core.hosts.local import LOCAL_NAMES
        from .cluster import remote_hosts

        hosts = remote_hosts(self.app)
        if not hosts or self.record is not None and ":" in self.record.id:  # another host's run: not here
            return
        local = [n for n in self.app.cluster.links if n in LOCAL_NAMES]
        options = [(n, n) for n in local] + [(h, h) for h in hosts] + [("auto (most free GPUs)", "auto")]
        with Horizontal(classes="row"):
            yield Label("Host")
            yield Select(options, value=local[0] if local else "auto", allow_blank=False, id="host", compact=True)
            yield Static(classes="gap")
            yield Checkbox("copy the config there first (a local file)", id="copy-config", compact=True)

    def host_choice(self) -> str | None:
        """The Host field's value: None for this machine (or no Host field)."""
        from ...core.hosts.local import LOCAL_NAMES

        found = self.query("#host")
        value = str(found.first(Select).value) if found else None
        return None if value is None or value in LOCAL_NAMES else value

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._schedule()
        if getattr(self.app, "start_slurm", False):  # a Slurm login node: runs go to Slurm
            self.call_after_refresh(self.action_slurm)

    def action_slurm(self) -> None:
        """The Slurm mode of this dialog: the same config, submitted with an editable sbatch script."""
        from .slurm_submit import SlurmSubmitScreen

        config = self.query_one("#config", Input).value.strip()
        self.dismiss(None)
        self.app.push_screen(SlurmSubmitScreen(config=config or None))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self, _event) -> None:
        for box in self.query("#copy-config"):
            box.set_class(self.host_choice() is not None, "-remote")
        self._schedule()

    def _schedule(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.25, self._check)

    def _request(self) -> LaunchRequest | str:
        cfg = self.query_one("#config", Input).value.strip()
        env = []
        for item in self.query_one("#env", Input).value.split():
            if "=" not in item or item.startswith("="):
                return f"Env: {item!r} is not KEY=VALUE"
            k, v = item.split("=", 1)
            env.append((k, v))
        overrides = []
        for item in self.query_one("#overrides", Input).value.split():
            if "=" not in item or item.startswith("="):
                return f"Set: {item!r} is not KEY=VALUE"
            k, v = item.split("=", 1)
            overrides.append((k, v))
        kind = self.query_one("#kind", Select).value
        return LaunchRequest(config=Path(cfg) if cfg else None, kind=str(kind),
                             gpus=self.query_one("#gpus-in", Input).value.strip()
                             or ("none" if is_replay(self.app) else "auto"),
                             name=self.query_one("#name", Input).value.strip() or None, env=tuple(env),
                             cwd=self.cwd, overrides=tuple(overrides))

    def _check(self) -> None:
        req = self._request()
        if isinstance(req, str):
            self._show_problem(req)
            return
        if self.host_choice() is not None:
            self._remote_preview(req)
            return
        self.remote = None
        self._shown_gpus(None)
        self._prepare(req)

    def _shown_gpus(self, host: str | None) -> None:
        """The GPU table of where the run goes (this machine, or the host picked)."""
        if self._gpus_of != host:
            self._gpus_of = host
            self.query_one("#gputable", Static).update(gpu_table(self.app, host))

    def _remote_preview(self, req: LaunchRequest) -> None:
        """Another host: its app checks and launches; here the exact remote command (``auto`` resolved from
        the links' latest states, no waiting), and the local file when it is to be copied first."""
        from .cluster import auto_host, remote_launch_line, wanted_gpus

        self.prepared, self.remote = None, None
        self._shown_gpus(self.host_choice() if self.host_choice() != "auto" else None)
        cfg = str(req.config) if req.config else ""
        copy = self.query_one("#copy-config", Checkbox).value
        if copy and not cfg:
            self._show_problem("Copy the config: Config is empty")
            return
        if copy and not Path(cfg).expanduser().is_file():
            self._show_problem(f"Copy the config: {cfg} is not a file here")
            return
        if copy:
            cfg = str(Path(cfg).expanduser().resolve())
        args = [cfg] if cfg else []
        if req.kind != "train":
            args += ["--kind", req.kind]
        args += ["--gpus", req.gpus]
        if req.name:
            args += ["--name", req.name]
        args += [a for k, v in req.env for a in ("--env", f"{k}={v}")]
        args += [a for k, v in req.overrides for a in ("--set", f"{k}={v}")]
        host = self.host_choice()
        t = Text()
        if host == "auto":
            host = auto_host(self.app, args)
            if host is None:
                want = wanted_gpus(args)
                self._show_problem(f"auto: no host has {want} free GPU{'s' if want != 1 else ''} now "
                                   "(pick a host, or try again in a moment)")
                return
            self._shown_gpus(host)
            t.append("host     ", style="bold")
            t.append(f"{host} (auto: the most free GPUs now)\n")
        if copy:
            t.append("copy     ", style="bold")
            t.append(f"{cfg} → {host}'s state dir (uploads/), by its app: ")
            t.append(f"ssh {host} {self.app.cluster.opts.remote(self.app.cluster.links[host].spec, ['receive', Path(cfg).name])} < {cfg}\n",
                     style=PALETTE.muted)
        t.append("command  ", style="bold")
        shown = [("<the copy there>" if copy and a == cfg else a) for a in args]
        t.append(remote_launch_line(self.app, host, shown))
        t.append(f"\nThe app on {host} checks and starts it" +
                 ("" if copy else "; Config is a path there") + ".", style=PALETTE.muted)
        self.remote = (host, args, cfg if copy else None)
        self.query_one("#preview", Static).update(t)
        self.query_one("#start", Button).disabled = False

    @work(thread=True, exclusive=True, group="launch-check")
    def _prepare(self, req: LaunchRequest) -> None:
        ctx = self.app.ctx
        snap = self.app.snapshot
        if snap is not None and snap.is_replay:
            snap = None  # a recording's GPUs are not this machine's
        check = ctx.settings.check_on_launch and req.kind in LF_COMMANDS
        prep = prepare(req, llamafactory_cli=ctx.llamafactory_cli, settings_env=ctx.settings.env,
                       pass_env=ctx.settings.pass_env, snapshot=snap,
                       free_rule=ctx.settings.free_rule(), schema=ctx.lf_schema()[0] if check else None,
                       registry=ctx.registry)
        self.app.call_from_thread(self._prepared, prep)

    def _show_problem(self, msg: str) -> None:
        self.query_one("#preview", Static).update(Text(msg, style=PALETTE.danger))
        self.query_one("#start", Button).disabled = True

    def _prepared(self, prep: Prepared) -> None:
        if self.host_choice() is not None:
            return  # the Host changed to another host meanwhile
        self.prepared = prep
        t = Text()
        rec = self.record
        if rec is not None:
            t.append("relaunch ", style="bold")
            t.append(f"{rec.id} as it was: its config as launched (the frozen copy), "
                     f"Set {' '.join(f'{k}={v}' for k, v in rec.overrides) or '(none)'}, "
                     f"GPUs {'none' if rec.gpus is None else ','.join(map(str, rec.gpus))}, "
                     f"Env {' '.join(f'{k}={v}' for k, v in _user_env(rec)) or '(none)'}, in {rec.cwd}; "
                     "change anything before Start\n", style=PALETTE.muted)
        t.append("command  ", style="bold")
        t.append(prep.command_line().replace("{config}", "<frozen copy of the config>"))
        if prep.secret_env:
            t.append("\npassed   ", style="bold")
            t.append(", ".join(prep.secret_env) + " from your environment (never written to disk)",
                     style=PALETTE.muted)
        if prep.url:
            t.append("\nurl      ", style="bold")
            t.append(f"{prep.url}   {prep.ssh_hint}")
        for p in prep.problems:
            style = PALETTE.danger if p.level == "error" else PALETTE.warning
            t.append(f"\n{'✗' if p.level == 'error' else '!'} {p.message}", style=style)
            if p.fix:
                t.append(f"\n    → {p.fix}", style=PALETTE.muted)
        from .estimate_lines import estimate_text

        t.append(estimate_text(prep.estimate, getattr(self.app, "snapshot", None), prep.gpus))
        if prep.ok:
            t.append("\n✓ ready", style=f"bold {PALETTE.ok}")
        elif _only_output_dir(prep):
            t.append("\nStart asks before writing into that output_dir", style=PALETTE.muted)
        self.query_one("#preview", Static).update(t)
        self.query_one("#start", Button).disabled = not (prep.ok or _only_output_dir(prep))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        elif event.button.id == "start" and self.host_choice() is not None:
            if self.remote is not None:
                event.button.disabled = True
                self._start_remote(*self.remote)
        elif event.button.id == "copy":
            self.action_copy()
        elif event.button.id == "start" and self.prepared is not None and self.prepared.ok:
            event.button.disabled = True
            self._start(self.prepared)
        elif event.button.id == "start" and self.prepared is not None and _only_output_dir(self.prepared):
            self._confirm_reuse(self.prepared)

    def _confirm_reuse(self, prep: Prepared) -> None:
        """output_dir belongs to another recorded run: start only when the user says so (Cancel is the default)."""
        from dataclasses import replace

        from .confirm import ConfirmScreen

        taken = [p for p in prep.problems if p.where == "output_dir" and p.level == "error"]

        def answer(yes: bool | None) -> None:
            if not yes or self.prepared is not prep:
                return
            ok = replace(prep, request=replace(prep.request, reuse_output_dir=True), problems=tuple(
                replace(p, level="warning") if p in taken else p for p in prep.problems))
            self.query_one("#start", Button).disabled = True
            self._start(ok)

        self.app.push_screen(ConfirmScreen(
            "Write into another run's output_dir?",
            "\n".join(p.message for p in taken) + "\n\nIts checkpoints, logs and adapter can be overwritten "
            "(overwrite_output_dir) or mixed with this run's. Cancel, then Set output_dir=… for a fresh one.",
            yes="Start in that output_dir"), answer)

    @work(thread=True, exclusive=True, group="launch-start")
    def _start(self, prep: Prepared) -> None:
        ctx = self.app.ctx
        try:
            rec = start(prep, ctx.registry, ctx.tmux)
        except (LaunchError, TmuxError, OSError) as e:
            self.app.call_from_thread(self._failed, str(e))
            return
        self.app.call_from_thread(self.dismiss, rec)

    def _start_remote(self, host: str, args: list[str], copy: str | None) -> None:
        """The same start as the overview's n: a thread runs the app there; this dialog closes when it has."""
        from .cluster import start_remote_launch

        def done(ok: bool, msg: str) -> None:
            if ok:
                self.app.notify(msg, timeout=12)
                if self.is_attached:
                    self.dismiss(None)
            elif self.is_attached:
                self._failed(msg)
            else:
                self.app.notify(f"Launch failed: {msg}", severity="error", timeout=10)

        start_remote_launch(self.app, host, args, copy_config=copy, on_done=done)

    def _failed(self, msg: str) -> None:
        self.notify(f"Launch failed: {msg}", severity="error", timeout=10)
        self.query_one("#start", Button).disabled = False

    def action_copy(self) -> None:
        if self.host_choice() is not None and self.remote is not None:
            host, args, _copy = self.remote
            from .cluster import remote_launch_line

            self.app.copy_to_clipboard(remote_launch_line(self.app, host, args))
            self.notify("Command copied (OSC 52: your terminal must allow it)", timeout=3)
        elif self.prepared is not None:
            self.app.copy_to_clipboard(self.prepared.command_line())
            self.notify("Command copied (OSC 52: your terminal must allow it)", timeout=3)

    def action_cancel(self) -> None:
        self.dismiss(None)

