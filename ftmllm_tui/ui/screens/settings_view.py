"""Settings: the ones people otherwise set by hand in config.toml (the training environment, the
run environment, stop grace periods, refresh), edited here and written into the same file with
comments, order and quoting kept (``settings_write.save_setting``, as the theme picker does).

Every value is checked with the settings' own check (``settings.check_value``) before anything is
written; a bad one is a red line under its field and nothing is saved. Saved values take effect at
once where they can (new runs, the deep check, the refresh interval)."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from ...settings import MAX_INTERVAL_S, MIN_INTERVAL_S, SECTION_OF, Settings, check_value, config_file
from ..palette import PALETTE
from ..widgets.textline import TextLine

# (key, what it is, example) in the order shown
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("llamafactory_cli", "the command that starts LLaMA-Factory (a path, or a prefix such as conda run)",
     "conda run --no-capture-output -n lf llamafactory-cli"),
    ("lf_python", "Python of the training environment for the deep check (empty: from llamafactory_cli)",
     "/opt/conda/envs/lf/bin/python"),
    ("env", "added to every run's environment: NAME=value, separated by spaces",
     "HUGGINGFACE_HUB_CACHE=/data/huggingface/hub NCCL_P2P_LEVEL=NVL"),
    ("pass_env", "names passed from your environment to runs, never written anywhere (spaces between)",
     "SWANLAB_API_KEY HF_TOKEN"),
    ("stop_grace_s", "seconds after SIGINT before SIGTERM (ZeRO-3 saves can need 30+)", "10"),
    ("term_grace_s", "seconds after SIGTERM before SIGKILL", "5"),
    ("stop_and_save_timeout_s", "seconds stop and save waits for the model to be saved", "120"),
    ("stall_minutes", "a running train run whose trainer_log has not grown this long is stalled", "15"),
    ("refresh_interval", f"seconds between GPU samples ({MIN_INTERVAL_S:g} to {MAX_INTERVAL_S:g})", "1"),
    ("config_dirs", "folders the Configs view lists (spaces between; quote a path with spaces)", "./configs"),
)
NON_NEGATIVE = {"stop_grace_s", "term_grace_s", "stop_and_save_timeout_s", "stall_minutes"}


def shown(key: str, value: Any) -> str:
    """A setting's value as typed in its field."""
    if key == "env":
        return " ".join(f"{k}={shlex.quote(v)}" for k, v in value)
    if isinstance(value, tuple):
        return " ".join(shlex.quote(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse(key: str, text: str) -> Any:
    """A field's text as the setting's value, checked like config.toml's (ValueError: one line)."""
    default = getattr(Settings(), key)
    text = text.strip()
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ValueError(f"cannot read it: {e}") from None
    if key == "env":
        pairs = []
        for w in words:
            name, eq, value = w.partition("=")
            if not eq or not name:
                raise ValueError(f"write NAME=value, got {w!r}")
            pairs.append((name, value))
        value: Any = dict(pairs)
    elif isinstance(default, tuple):
        value = words
    elif isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"should be a number, got {text!r}") from None
    elif isinstance(default, int) and not isinstance(default, bool):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"should be a whole number, got {text!r}") from None
    else:
        value = text
    value = check_value(key, value)
    if key in NON_NEGATIVE and value < 0:
        raise ValueError(f"should be 0 or more, got {text}")
    if key == "refresh_interval" and not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
        raise ValueError(f"should be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds, got {text}")
    if key == "llamafactory_cli" and not value:
        raise ValueError("should name a command, e.g. llamafactory-cli")
    return value


class SettingsScreen(Screen):
    HELP_TITLE = "Settings"
    HELP_EXTRA = [("Tab / shift+Tab", "next / previous field"), ("Enter in a field", "save")]
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Check every field, then write the changed ones into config.toml"),
        Binding("escape", "back", "Back", tooltip="Back (unsaved changes are dropped)"),
    ]
    DEFAULT_CSS = """
    SettingsScreen #stitle { height: 1; background: $panel; padding: 0 1; }
    SettingsScreen VerticalScroll { height: 1fr; padding: 0 1; }
    SettingsScreen .field { height: auto; margin-bottom: 1; }
    SettingsScreen .name { height: 1; text-style: bold; }
    SettingsScreen .what { height: auto; color: $text-muted; }
    SettingsScreen .error { height: auto; color: $error; display: none; }
    SettingsScreen .error.-shown { display: block; }
    SettingsScreen Input { background: $panel; }
    SettingsScreen #sbuttons { height: 1; margin: 0 1; }
    SettingsScreen Button { margin-right: 2; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.errors: dict[str, str] = {}
        self.saving = False

    def compose(self) -> ComposeResult:
        s = self.app.settings
        yield TextLine(id="stitle")
        with VerticalScroll():
            for key, what, example in FIELDS:
                with Vertical(classes="field"):
                    yield Static(f"{SECTION_OF[key]}.{key}", classes="name")
                    yield Static(what, classes="what")
                    yield Input(shown(key, getattr(s, key)), placeholder=f"e.g. {example}", id=f"f-{key}",
                                compact=True)
                    yield Static("", classes="error", id=f"e-{key}")
        with Horizontal(id="sbuttons"):
            yield Button("Save", id="save", variant="success", compact=True)
            yield Button("Back", id="back", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        t = Text("Settings ", style="bold")
        t.append(f"written to {config_file()} (comments and order kept)", style=PALETTE.muted)
        self.query_one("#stitle", TextLine).show(t)
        self.query_one(f"#f-{FIELDS[0][0]}", Input).focus()

    def changed(self) -> dict[str, str]:
        """The fields whose text differs from the setting in use."""
        s = self.app.settings
        out = {}
        for key, _what, _ex in FIELDS:
            text = self.query_one(f"#f-{key}", Input).value
            if text.strip() != shown(key, getattr(s, key)).strip():
                out[key] = text
        return out

    @on(Input.Submitted)
    def _enter(self, _event) -> None:
        self.action_save()

    @on(Button.Pressed, "#save")
    def _save_button(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#back")
    def _back_button(self) -> None:
        self.action_back()

    def action_save(self) -> None:
        if self.saving:
            return
        values, self.errors = {}, {}
        for key, text in self.changed().items():
            try:
                values[key] = parse(key, text)
            except ValueError as e:
                self.errors[key] = f"{SECTION_OF[key]}.{key} {e}: nothing was saved"
        for key, _what, _ex in FIELDS:
            box = self.query_one(f"#e-{key}", Static)
            box.update(self.errors.get(key, ""))
            box.set_class(key in self.errors, "-shown")
        if self.errors:
            first = next(iter(self.errors))
            self.query_one(f"#f-{first}", Input).focus()
            self.notify(next(iter(self.errors.values())), severity="error", timeout=8)
            return
        if not values:
            self.notify("Nothing changed", timeout=3)
            return
        self.saving = True
        self._write(values)

    @work(thread=True, exclusive=True, group="settings-save")
    def _write(self, values: dict[str, Any]) -> None:
        from ...settings_write import save_setting

        done: list[str] = []
        try:
            for key, value in values.items():
                save_setting(SECTION_OF[key], key, value)
                done.append(key)
        except Exception as e:  # noqa: BLE001 - any failure is one line; what was written stays written
            self.app.call_from_thread(self._written, values, done, str(e))
            return
        self.app.call_from_thread(self._written, values, done, "")

    def _written(self, values: dict[str, Any], done: list[str], error: str) -> None:
        self.saving = False
        app = self.app
        applied = {k: values[k] for k in done}
        if applied:
            old = app.settings
            app.settings = replace(old, **applied)
            ctx = app.ctx
            if ctx.llamafactory_cli == old.llamafactory_cli and "llamafactory_cli" in applied:
                ctx.llamafactory_cli = applied["llamafactory_cli"]  # no flag or variable overrides it
            ctx.settings = replace(ctx.settings, **applied)
            if {"llamafactory_cli", "lf_python"} & set(applied):
                ctx._schema = None  # ask the (new) training environment again
            if "refresh_interval" in applied:
                app.interval = applied["refresh_interval"]
        where = str(config_file())
        if error:
            self.notify(f"Saved {', '.join(done) or 'nothing'}; then: {error}", severity="error", timeout=12)
        else:
            self.notify(f"Saved {', '.join(f'{SECTION_OF[k]}.{k}' for k in done)} to {where}", timeout=6)

    def action_back(self) -> None:
        if self.changed():
            self.notify("Unsaved changes dropped", timeout=3)
        self.app.pop_screen()


def open_settings(app) -> None:
    if app.ctx.readonly:
        app.notify("Read-only mode: settings cannot be changed here", severity="warning", timeout=3)
        return
    if not isinstance(app.screen, SettingsScreen):
        app.push_screen(SettingsScreen())
