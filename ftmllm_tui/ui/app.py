"""The Textual app: owns the sampler loop (thread worker) and the history; screens render."""

from __future__ import annotations

from collections.abc import Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

from ..core.background import BackgroundCaller
from ..core.gpus.proctable import ViewOptions
from ..core.gpus.history import WINDOWS_MIN, GpuHistory
from ..core.gpus.samplers import Sampler
from ..core.gpus.snapshot import Snapshot
from ..context import RunContext
from ..settings import MAX_INTERVAL_S, MIN_INTERVAL_S, Settings
from .screens.home import HomeScreen

INTERVALS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)


def _driver_class():
    """Our diffing driver on Linux/macOS terminals; Textual's choice elsewhere."""
    import sys

    if sys.platform.startswith(("linux", "darwin")):
        from .driver import DiffingDriver, OrderedKeysDriver, diff_enabled

        return DiffingDriver if diff_enabled() else OrderedKeysDriver  # keys in order either way
    return None


class SnapshotReady(Message):
    def __init__(self, snapshot: Snapshot, took_s: float) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.took_s = took_s


class SampleFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class FtmApp(App):
    TITLE = "ftmllm-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", show=False, tooltip="Quit (asks first when an editor has unsaved edits)"),
        Binding("question_mark", "help", "Help", tooltip="This help"),
        Binding("ctrl+c", "ctrl_c", "Quit", show=False, priority=True),
        Binding("h", "cluster", "Hosts", show=False, tooltip="Cluster overview: every host's GPUs (with --hosts)"),
        Binding("M", "models", "Models", show=False, tooltip="Models: the Hugging Face caches, local models, adapters, exports"),
        Binding("D", "datasets", "Datasets", show=False, tooltip="Datasets of a dataset_info.json: rows, checks, images"),
        Binding("J", "slurm", "Slurm", show=False, tooltip="Slurm: the cluster's nodes and GPUs, your jobs, submit and stop"),
        Binding("O", "settings", "Settings", show=False,
                tooltip="Settings: training env, run environment, stop grace, refresh (written to config.toml)"),
    ]

    def __init__(self, sampler: Sampler, *, settings: Settings | None = None, banner: str | None = None,
                 readonly: bool = False, autostart: bool = True, first: Snapshot | None = None,
                 ctx: RunContext | None = None, open_ref: str | None = None, edit_path: str | None = None,
                 theme: str | None = None, ascii_mode: bool = False, cluster=None):
        super().__init__(driver_class=_driver_class())
        from .themes import load_themes

        self.themes = load_themes()
        self._theme_notes: list[str] = list(self.themes.warnings)
        for spec in self.themes.themes.values():
            self.register_theme(spec.textual_theme())
        self._persist_theme = False  # only a theme the user picks is saved, not the start-up one
        if self.no_color:  # NO_COLOR: no colour codes at all (Textual's default turns them into greys)
            from textual.filter import Monochrome

            from .nocolor import NoColorFilter

            self._filters = [f for f in self._filters if not isinstance(f, Monochrome)] + [NoColorFilter()]
            theme = "mono" if self.themes.get("mono") else theme
        self.use_theme(theme or getattr(settings, "theme", None))
        self.ascii_mode = ascii_mode
        if ascii_mode:
            from .ascii import AsciiFilter

            self._filters.append(AsciiFilter())
        self.sampler = sampler
        self.cluster = cluster  # core.hosts.cluster.Cluster: other hosts over SSH (None: this host only)
        self.settings = (settings or Settings()).clamp()
        self.ctx = ctx or RunContext.create(self.settings, readonly=readonly)
        self.interval = self.settings.refresh_interval
        self.window_min = self.settings.history_window_min
        self.readonly = readonly
        self.banner = banner
        self.autostart = autostart
        self.history = GpuHistory()
        self.snapshot: Snapshot | None = None
        self.samples = 0
        self._timer: Timer | None = None
        self._caller: BackgroundCaller | None = None
        self._failures = 0
        self._first = first  # a sample taken before the UI started (shown at once)
        self._open_ref = open_ref  # --open: start in the detail view of this run or path
        self._edit_path = edit_path  # `edit PATH`: start in the config editor

    @property
    def sampler_label(self) -> str:
        return self.sampler.label

    # -- themes ------------------------------------------------------------------------------------
    @property
    def available_themes(self):
        """Only ftmllm-tui's themes (built-in files + the user's), not Textual's demo themes."""
        ours = getattr(self, "themes", None)
        if ours is None or not self._registered_themes.keys() & ours.themes.keys():  # during App.__init__
            return {**self._registered_themes}
        return {name: theme for name, theme in self._registered_themes.items() if name in ours.themes}

    def get_theme(self, theme_name: str):
        """Textual asks for the current theme at every ANSI colour lookup (~100 times a second at idle):
        one of ours is answered without building the filtered copy of the registry twice."""
        ours = getattr(self, "themes", None)
        if ours is not None and theme_name in ours.themes:
            return self._registered_themes.get(theme_name)
        return super().get_theme(theme_name)

    def use_theme(self, name: str | None) -> None:
        """Switch to theme NAME (unknown → the default theme and a warning)."""
        from .themes import DEFAULT_THEME

        if not name:
            name = DEFAULT_THEME
        if self.themes.get(name) is None:
            self._theme_notes.append(f"No theme {name!r} (have: {', '.join(self.themes.names)}); using "
                                     f"{DEFAULT_THEME!r}")
            name = DEFAULT_THEME if self.themes.get(DEFAULT_THEME) else next(iter(self.themes.names), None)
            if name is None:
                return
        self._apply_palette(name)
        self.theme = name

    def _apply_palette(self, name: str) -> None:
        from .palette import PALETTE

        spec = self.themes.get(name)
        if spec is not None:
            PALETTE.apply(spec.colors, name)

    def editor_theme(self):
        """The TextArea theme of the current theme (YAML editor)."""
        from .themes import editor_theme

        spec = self.themes.get(self.theme) or self.themes.get("dark")
        return editor_theme(spec) if spec is not None else None

    def _theme_changed(self, theme) -> None:
        import sys

        from .palette import PALETTE

        if PALETTE.theme_name != theme.name:  # switched by Textual's own theme command
            self._apply_palette(theme.name)
        yaml_editor = sys.modules.get(f"{__package__}.widgets.yaml_editor")  # loaded once an editor opened
        for screen in self.screen_stack:
            for editor in screen.query(yaml_editor.YamlEditor) if yaml_editor is not None else ():
                editor.use_theme(self.editor_theme())
            restyle = getattr(screen, "restyle", None)
            if restyle is not None:
                restyle()
        self._show()
        if self._persist_theme and getattr(self.settings, "theme", None) != theme.name:
            self._save_theme(theme.name)

    def _save_theme(self, name: str) -> None:
        """Persist the picked theme in the config file (off the UI thread; a failure is a notification)."""
        from dataclasses import replace

        self.settings = replace(self.settings, theme=name)

        def save() -> None:
            from ..settings_write import save_setting

            try:
                save_setting("ui", "theme", name)
            except Exception as e:  # noqa: BLE001 - any failure becomes a message, the theme stays on
                self.call_from_thread(self.notify, f"Theme {name} is on but was not saved ({e}). Set "
                                      f"[ui] theme = \"{name}\" in the config file by hand.",
                                      severity="warning", timeout=10)

        self.run_worker(save, thread=True, exit_on_error=False, group="save-theme")

    # -- keys in order (see ui/driver.py: the driver hands over the next key when this one settled) -------
    async def on_event(self, event) -> None:
        await super().on_event(event)
        if isinstance(event, events.Key) and not event.is_forwarded:  # taken by the App (a priority binding)
            self._key_settled(event)

    def post_message(self, message: Message) -> bool:
        posted = super().post_message(message)
        if isinstance(message, events.Key) and message.is_forwarded:  # back at the App: its binding runs next
            self._key_settled(message)
        return posted

    def _key_settled(self, event) -> None:
        settled = getattr(self._driver, "key_settled", None)
        if settled is not None:
            settled(event)

    def pick_theme(self) -> None:
        """The theme picker (command palette with the themes, their description and file)."""
        from textual.command import CommandPalette

        from .screens.themepick import ThemeCommands

        self.push_screen(CommandPalette(providers=[ThemeCommands], placeholder="Theme…"))

    # -- errors: a short message and a log file, not a traceback over the terminal -------------------
    def _fatal_error(self) -> None:
        """An unexpected error ends the app (Textual cannot go on after one); the traceback goes to
        errors.log in the state dir, the terminal gets what happened and what to do next. Runs are in
        tmux and are not affected. FTMLLM_DEBUG=1 prints the full traceback as Textual does."""
        import os
        import sys
        import time
        import traceback

        from rich.text import Text

        error = self._exception
        if os.environ.get("FTMLLM_DEBUG") or error is None:
            super()._fatal_error()
            return
        from ..settings import state_dir

        path = state_dir() / "errors.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} ftmllm-tui {' '.join(sys.argv[1:])}\n")
                f.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
                inner = getattr(error, "error", None)  # WorkerFailed is made, not raised: the worker's own error
                if isinstance(inner, BaseException):    # carries the traceback that says where it happened
                    f.write("The worker's error:\n")
                    f.write("".join(traceback.format_exception(type(inner), inner, inner.__traceback__)))
            where = ["The details are in this file; please attach it to a bug report:", str(path)]
        except OSError as e:
            where = [f"(errors.log could not be written: {e.strerror}; FTMLLM_DEBUG=1 prints the details.)"]
        self.bell()
        self._fatal_note = [
            Text.assemble(("ftmllm-tui stopped on an unexpected error: ", "bold red"),
                          f"{type(error).__name__}: {error}"),
            *where, "Runs launched from the app keep running in tmux; start ftmllm-tui again to see them."]
        self._close_messages_no_wait()

    _fatal_note: tuple | list = ()

    def _print_error_renderables(self) -> None:
        """The fatal-error note, one line per item and never hard-wrapped: a path stays whole on a line of
        its own (the terminal may fold a long line, but copying it gives the path back)."""
        note, self._fatal_note = self._fatal_note, ()
        for line in note:
            self.error_console.print(line, soft_wrap=True, markup=False, highlight=False, emoji=False)
        super()._print_error_renderables()

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._persist_theme = True
        for note in self._theme_notes:
            self.notify(note, severity="warning", timeout=10)
        self.push_screen(HomeScreen(banner=self.banner, options=ViewOptions(
            mine_only=self.settings.mine_only, tree=self.settings.tree)))
        for w in self.settings.warnings:
            self.notify(w, severity="warning", timeout=10)
        from .runwatch import start_run_watch

        start_run_watch(self)  # a notification (and [ui] notify: bell / desktop) when a run ends, on any view
        if self.cluster is not None:
            from .screens.cluster import start_cluster

            start_cluster(self)
        if getattr(self, "start_slurm", False):  # no GPU here but Slurm answers: the cluster first
            self.call_after_refresh(self.action_slurm)
        if self._open_ref:
            self.call_after_refresh(self.open_follow, self._open_ref)
        if self._edit_path:
            self.call_after_refresh(self.open_editor, self._edit_path)
        if self._first is not None:
            first, self._first = self._first, None
            self.call_after_refresh(self.ingest, first)
            self._arm(self.interval)
        elif self.autostart:
            self.kick()

    # -- sampling loop: one sample at a time in a daemon thread, re-armed with a timer ------------
    def kick(self) -> None:
        self._timer = None
        if self._caller is None:
            self._caller = BackgroundCaller(
                lambda: self.sampler.sample(),
                lambda snap, took: self.post_message(SnapshotReady(snap, took)),
                lambda e: self.post_message(SampleFailed(f"{type(e).__name__}: {e}")),
            )
        self._caller.request()

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self._failures = 0
        self.ingest(message.snapshot)
        self._arm(max(0.05, self.interval - message.took_s))

    def on_sample_failed(self, message: SampleFailed) -> None:
        self._failures += 1
        if self._failures in (1, 10) or self._failures % 60 == 0:
            self.notify(f"Sampling failed: {message.error}. Retrying.", severity="error", timeout=8)
        self._arm(min(MAX_INTERVAL_S, self.interval * min(self._failures, 5)))

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self.autostart and self.is_running:
            self._timer = self.set_timer(delay, self.kick)

    def use_sampler(self, sampler) -> None:
        """Show another source (a remote host's link, ...): history starts again, sampling goes on."""
        old, self.sampler = self.sampler, sampler
        if self._caller is not None:
            self._caller.stop()
            self._caller = None
        self.history = GpuHistory()
        self.snapshot = None
        self.kick()

    def action_models(self) -> None:
        from .screens.models import ModelsScreen

        if not isinstance(self.screen, ModelsScreen):
            self.push_screen(ModelsScreen())

    def action_datasets(self, dataset_dir: str | None = None, name: str | None = None) -> None:
        from .screens.datasets import open_datasets

        open_datasets(self, dataset_dir, name)

    def action_settings(self) -> None:
        from .screens.settings_view import open_settings

        open_settings(self)

    def action_slurm(self) -> None:
        from .screens.slurm import open_slurm

        open_slurm(self)

    def action_cluster(self) -> None:
        from .screens.cluster import open_cluster

        open_cluster(self)

    def ingest(self, snapshot: Snapshot) -> None:
        """Take one snapshot: history first, then whatever screen shows it."""
        self.snapshot = snapshot
        self.samples += 1
        self.history.record(snapshot)
        self._show()

    def _show(self) -> None:
        home = self._home()
        if home is not None and self.snapshot is not None and home.is_mounted:
            home.show(self.snapshot, self.history)

    def _home(self) -> HomeScreen | None:
        for s in self.screen_stack:
            if isinstance(s, HomeScreen):
                return s
        return None

    # -- views and dialogs -------------------------------------------------------------------------
    def open_runs(self) -> None:
        from .screens.runs import RunsScreen

        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen())

    def open_launch(self, from_record=None, **initial) -> None:
        """``initial``: the dialog's fields (config, kind, gpus, name, env, overrides)."""
        if self.ctx.readonly:
            self.notify("Read-only mode: launching is disabled", severity="warning", timeout=3)
            return
        if from_record is not None and from_record.kind in ("download", "ollama"):  # jobs of core/models
            from .screens.models import relaunch_job

            if relaunch_job(self, from_record):
                return
        if from_record is not None and getattr(from_record, "slurm_job", ""):  # relaunch a Slurm run: to Slurm
            from .screens.slurm_submit import SlurmSubmitScreen

            self.push_screen(SlurmSubmitScreen.from_record(from_record, self.ctx.registry))
            return
        if getattr(self, "start_slurm", False) and from_record is None:  # a Slurm login node: runs go to Slurm
            from .screens.slurm_submit import SlurmSubmitScreen

            config = initial.get("config")
            self.push_screen(SlurmSubmitScreen(config=str(config) if config else None))
            return
        from .screens.launch import LaunchScreen

        screen = LaunchScreen.from_record(from_record) if from_record is not None else LaunchScreen(**initial)

        self.push_screen(screen, self.launched)

    def open_follow(self, ref: str | None = None) -> None:
        """The detail view of a run, an output_dir or a log file (asks when no ref)."""
        from ..core.follow.follow import resolve
        from .screens.confirm import PromptScreen
        from .screens.detail import open_detail

        def go(value: str | None) -> None:
            if not value:
                return
            try:
                target = resolve(value, self.ctx.registry)
            except LookupError as e:
                self.notify(str(e), severity="error", timeout=8)
                return
            open_detail(self, target)

        if ref:
            go(ref)
        else:
            self.push_screen(PromptScreen("Follow a run, an output_dir or a log file",
                                          "run id / name, path/to/output_dir, path/to/trainer_log.jsonl"), go)

    def open_compare(self) -> None:
        from ..core.follow.follow import resolve
        from .screens.compare import CompareScreen
        from .screens.confirm import PromptScreen

        def go(value: str | None) -> None:
            if not value:
                return
            targets = []
            for ref in value.split():
                try:
                    targets.append(resolve(ref, self.ctx.registry))
                except LookupError as e:
                    self.notify(str(e), severity="error", timeout=8)
                    return
            if len(targets) < 2:
                self.notify("Give two or more runs or output dirs", severity="warning", timeout=4)
                return
            self.push_screen(CompareScreen(targets))

        self.push_screen(PromptScreen("Compare runs or output dirs (separated by spaces)",
                                      "base_output_dir finetuned_output_dir …"), go)

    def open_configs(self) -> None:
        from .screens.configs import ConfigsScreen

        if not isinstance(self.screen, ConfigsScreen):
            self.push_screen(ConfigsScreen())

    def open_editor(self, path, *, example: bool = False) -> None:
        """The config editor on PATH; a bundled example opens as a new copy in the first config folder."""
        from pathlib import Path

        from .screens.editor import EditorScreen

        path = Path(path)
        if example:
            folder = Path(self.ctx.settings.config_dirs[0] if self.ctx.settings.config_dirs else ".").expanduser()
            target = (folder / path.name).absolute()
            if target != path.absolute():
                self.push_screen(EditorScreen(target, copy_from=path, note=f"A copy of the bundled example "
                                              f"{path.name}: saving writes {target}"))
                return
        self.push_screen(EditorScreen(path))

    def unsaved_editors(self) -> list:
        import sys

        editor = sys.modules.get(f"{__package__}.screens.editor.screen")
        if editor is None:  # no editor was ever opened: quitting does not load the editor's modules
            return []
        return [s for s in self.screen_stack if isinstance(s, editor.EditorScreen) and s.modified]

    async def action_quit(self) -> None:
        dirty = self.unsaved_editors()
        if not dirty:
            self.exit()
            return
        from .screens.confirm import ConfirmScreen

        names = ", ".join(s.path.name for s in dirty)

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(f"Unsaved edits in {names}", "Quit and drop them?", yes="Quit"), answer)

    async def action_ctrl_c(self) -> None:
        """ctrl+c copies in a text field with a selection (the editor), and quits everywhere else."""
        w = self.focused  # an Input or a TextArea (not imported here: the home view never loads TextArea)
        if getattr(w, "selected_text", None) and hasattr(w, "action_copy"):
            w.action_copy()
            return
        await self.action_quit()

    def launched(self, rec) -> None:
        if rec is None:
            return
        msg = f"Started {rec.name} ({rec.id}) in tmux session {rec.tmux_session}"
        if rec.url:
            msg += f"\n{rec.url}  (ssh -L {rec.port}:localhost:{rec.port} {rec.user}@{rec.host})"
        self.notify(msg, timeout=12)
        from .screens.runs import RunsScreen

        if not isinstance(self.screen, RunsScreen):
            self.open_runs()
        self.screen.select_run(rec.id)  # the new run gets the cursor once it shows up
        self.screen.refresh_runs()

    # -- app-wide actions --------------------------------------------------------------------------
    def change_interval(self, direction: int) -> None:
        steps = INTERVALS
        cur = min(range(len(steps)), key=lambda i: abs(steps[i] - self.interval))
        nxt = max(0, min(len(steps) - 1, cur + direction))
        self.interval = max(MIN_INTERVAL_S, min(MAX_INTERVAL_S, steps[nxt]))
        self.notify(f"Refresh every {self.interval:g} s", timeout=2)
        if self._timer is not None:  # re-arm now so a long interval does not wait out the old one
            self._arm(self.interval)
        self._show()

    def cycle_window(self) -> None:
        i = WINDOWS_MIN.index(self.window_min) if self.window_min in WINDOWS_MIN else 0
        self.window_min = WINDOWS_MIN[(i + 1) % len(WINDOWS_MIN)]
        self.notify(f"History window: {self.window_min} min", timeout=2)
        self._show()

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: this view's own actions (from its bindings, so nothing is forgotten), then the
        app's views and tools, then Textual's (theme picker replaced by ours)."""
        from .screens.help import view_commands

        seen: set[str] = set()
        for title, help_text, run in view_commands(screen):
            if title not in seen:
                seen.add(title)
                yield SystemCommand(title, help_text, run)
        app_wide = [
            ("Runs", "Launched jobs: state, progress, attach, stop (r on the GPU view)", self.open_runs),
            ("Follow a run, output_dir or log…", "Live log, progress, loss and lr charts", self.open_follow),
            ("Compare runs…", "Overlay loss curves and result metrics with deltas", self.open_compare),
            ("Configs", "LLaMA-Factory YAML files: validate, edit, launch (c on the GPU view)", self.open_configs),
            ("Models", "The HF caches, local models, adapters, exports: copy, use in config, delete, download (M)",
             self.action_models),
            ("Datasets", "dataset_info.json entries, rows as LLaMA-Factory reads them, checks, images (D)",
             self.action_datasets),
        ]
        if not self.ctx.readonly:
            app_wide.append(("Launch a run", "llamafactory-cli train|chat|… in tmux (n)", self.open_launch))
        if not self.ctx.readonly:
            app_wide.append(("Settings", "Training env, run environment, stop grace, refresh: written to "
                             "config.toml with its comments kept (O)", self.action_settings))
        app_wide.append(("Help", "Every key of this view (?)", self.action_help))
        for title, help_text, cb in app_wide:
            if title not in seen:
                seen.add(title)
                yield SystemCommand(title, help_text, cb)
        for cmd in super().get_system_commands(screen):
            if cmd.title == "Theme":
                yield SystemCommand("Theme", f"Colours: {', '.join(self.themes.names)} (now {self.theme}; "
                                    "saved in the config file)", self.pick_theme)
            elif cmd.title not in seen:
                yield cmd

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self.cluster is not None:
            self.cluster.stop()
        busy = self._caller is not None and self._caller.busy
        if self._caller is not None:
            self._caller.stop()
        if not busy:  # never shut NVML down under a call still running in the sampler thread
            try:
                self.sampler.close()
            except Exception:
                pass
