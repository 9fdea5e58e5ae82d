"""Typed settings with defaults, loaded from ``$XDG_CONFIG_HOME/ftmllm-tui/config.toml``.

A missing file means defaults; a broken file means defaults plus a warning naming the file and the
problem (never a crash). Unknown keys, wrong types and values outside a key's choices are reported
and replaced by the default, never silently ignored. ``read_settings`` also says where each value
came from (for ``--print-config``); ``save_setting`` (in ``settings_write``, needs tomlkit) changes one
key in the file and keeps the rest of it as the user wrote it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from platformdirs import user_config_path, user_state_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

APP = "ftmllm-tui"
MIN_INTERVAL_S = 0.5
MAX_INTERVAL_S = 60.0


def config_dir() -> Path:
    return user_config_path(APP, appauthor=False)


def state_dir() -> Path:
    return user_state_path(APP, appauthor=False)


def config_file() -> Path:
    return config_dir() / "config.toml"


@dataclass(frozen=True)
class Settings:
    # [ui]
    refresh_interval: float = 1.0  # seconds between samples; + / - change it live
    history_window_min: int = 5  # sparkline window: 1, 5, 15 or 60
    mine_only: bool = False
    tree: bool = False
    theme: str = "dark"  # "dark", "light", "high-contrast", "mono" or a user theme's name (checked by the UI)
    ascii: str = "auto"  # ASCII glyphs instead of block/braille/box characters: "auto", "on", "off"
    mouse: bool = True
    colors: str = "auto"  # "auto" (Rich detects), "truecolor", "256", "16" (TEXTUAL_COLOR_SYSTEM)
    notify: str = "off"  # when a run ends while the app is open: also "bell" (terminal bell) or "desktop" (OSC 9)
    # [gpus]
    free_max_memory_mib: int = 1024  # a GPU with no process and at most this much used is free
    free_max_util_pct: int = 10
    process_util_interval: float = 2.0  # seconds between per-process SM% reads (~2 ms CPU/GPU each)
    # [runs]
    tmux_socket: str = ""  # tmux -L NAME; "" = the user's default server (FTMLLM_TMUX_SOCKET)
    llamafactory_cli: str = "llamafactory-cli"  # or a prefix: "conda run --no-capture-output -n ENV llamafactory-cli"
    env: tuple[tuple[str, str], ...] = ()  # [runs.env] added to every run (HUGGINGFACE_HUB_CACHE...)
    pass_env: tuple[str, ...] = ("SWANLAB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY")
    stop_grace_s: float = 10.0  # after SIGINT (ZeRO-3 saves can need 30 s+)
    term_grace_s: float = 5.0  # after SIGTERM, before SIGKILL
    stall_minutes: float = 15.0  # a running train run whose trainer_log has not grown for this long
    stop_and_save_timeout_s: float = 120.0  # "stop and save" falls back to a normal stop after this
    # [configs]
    config_dirs: tuple[str, ...] = ("./configs",)  # where the Configs view looks for YAML (plus bundled examples)
    llamafactory_version: str = "auto"  # schema to validate with: "auto" (ask the training env), "0.9.2", "0.9.5"
    lf_python: str = ""  # Python of the training env for the deep check; "" = from runs.llamafactory_cli
    keep_backups: int = 10  # previous versions kept per config file (in the state dir)
    check_on_launch: bool = True  # launching runs the offline config check; errors block (off for LLaMA-Factory forks)
    # [cluster] (several hosts over the user's own SSH; see core/hosts)
    hosts: tuple[str, ...] = ()  # SSH aliases or user@host:port; more than one: the cluster overview first
    ssh_config: str = ""  # ssh -F FILE; "" = the user's own ~/.ssh/config
    ssh_options: tuple[str, ...] = ()  # extra ssh arguments, e.g. ["-o", "ProxyJump=bastion"]
    remote_command: str = "ftmllm-tui"  # the app on the other hosts, run through the login shell
    host_remote_command: tuple[tuple[str, str], ...] = ()  # per host: [host.NAME] remote_command = "..."
    login_shell: bool = True  # remote commands through the login shell (profile PATHs); false: faster
    # [slurm] (Slurm as the engine on a cluster's login node; see core/slurm)
    enabled: str = "auto"  # "auto": on when sinfo is on PATH and answers; "true", "false"
    refresh_s: float = 5.0  # seconds between Slurm polls (the controller is shared: not below 5 s by default)
    partition: str = ""  # sbatch --partition; "" = the cluster's default partition
    account: str = ""  # sbatch --account; "" = your default account
    qos: str = ""  # sbatch --qos; "" = none
    gpus_per_node: int = 1  # GPUs per node of a Slurm run (--gres=gpu:N)
    cpus_per_task: int = 0  # sbatch --cpus-per-task; 0 = Slurm's default
    mem: str = ""  # sbatch --mem, e.g. "64G"; "" = Slurm's default
    time_limit: str = ""  # sbatch --time, e.g. "1-00:00:00"; "" = the partition's default
    # [models] (the Hugging Face cache, local model folders; see core/models)
    caches: tuple[str, ...] = ()  # more HF hub caches to list, besides HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / HF_HOME
    dirs: tuple[str, ...] = ()  # folders holding local models (config.json + weights), searched 2 levels deep
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def free_rule(self):
        from .core.gpus.summary import FreeRule

        return FreeRule(max_memory_bytes=self.free_max_memory_mib * 2**20,
                        max_util_pct=self.free_max_util_pct)

    def clamp(self) -> Settings:
        iv = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, float(self.refresh_interval)))
        win = self.history_window_min if self.history_window_min in (1, 5, 15, 60) else 5
        slurm_iv = min(600.0, max(1.0, float(self.refresh_s)))  # never hammer a shared controller
        return replace(self, refresh_interval=iv, history_window_min=win, refresh_s=slurm_iv)


SECTIONS: dict[str, tuple[str, ...]] = {
    "ui": ("refresh_interval", "history_window_min", "mine_only", "tree", "theme", "ascii", "mouse", "colors",
           "notify"),
    "gpus": ("free_max_memory_mib", "free_max_util_pct", "process_util_interval"),
    "runs": ("tmux_socket", "llamafactory_cli", "env", "pass_env", "stop_grace_s", "term_grace_s",
             "stall_minutes", "stop_and_save_timeout_s"),
    "configs": ("config_dirs", "llamafactory_version", "lf_python", "keep_backups", "check_on_launch"),
    "cluster": ("hosts", "ssh_config", "ssh_options", "remote_command", "host_remote_command", "login_shell"),
    "slurm": ("enabled", "refresh_s", "partition", "account", "qos", "gpus_per_node", "cpus_per_task", "mem",
              "time_limit"),
    "models": ("caches", "dirs"),
}
TABLE_KEYS = ("env", "host_remote_command")  # NAME = "value" tables


SECTION_OF: dict[str, str] = {key: section for section, keys in SECTIONS.items() for key in keys}
ASCII_CHOICES = ("auto", "on", "off")
COLOR_CHOICES = ("auto", "truecolor", "256", "16")
SLURM_ENABLED_CHOICES = ("auto", "true", "false")
NOTIFY_CHOICES = ("off", "bell", "desktop")
CHOICES: dict[str, tuple[str, ...]] = {"ascii": ASCII_CHOICES, "colors": COLOR_CHOICES, "enabled": SLURM_ENABLED_CHOICES,
                                       "notify": NOTIFY_CHOICES}
# colors setting -> TEXTUAL_COLOR_SYSTEM (Rich's names); "auto" leaves the environment alone
TEXTUAL_COLOR_SYSTEMS = {"truecolor": "truecolor", "256": "256", "16": "standard"}
DEFAULT = "default"  # the source of a value nobody set
_DEFAULTS = Settings()
_TYPES = {f.name: f.type for f in fields(Settings)}


def check_value(key: str, val: Any) -> Any:
    """The value to store for ``key`` (TOML lists -> tuples, ...); ValueError says what is wrong."""
    if key not in SECTION_OF:
        raise ValueError("is not a setting")
    want = type(getattr(_DEFAULTS, key))
    if key in TABLE_KEYS:
        if isinstance(val, dict) and all(isinstance(k, str) and isinstance(v, (str, int, float))
                                         for k, v in val.items()):
            return tuple(sorted((k, str(v)) for k, v in val.items()))
        if isinstance(val, (tuple, list)) and all(
                isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in val):
            return tuple(sorted((k, v) for k, v in val))
        raise ValueError(f'should be a table of NAME = "value", got {val!r}')
    if want is tuple:
        if isinstance(val, (list, tuple)) and all(isinstance(v, str) for v in val):
            return tuple(val)
        raise ValueError(f"should be a list of strings, got {val!r}")
    if key == "ascii" and isinstance(val, bool):  # ascii = true / false reads naturally too
        val = "on" if val else "off"
    if key == "enabled" and isinstance(val, bool):  # [slurm] enabled = true / false
        val = "true" if val else "false"
    if key == "colors" and isinstance(val, int) and not isinstance(val, bool) and str(val) in COLOR_CHOICES:
        val = str(val)  # colors = 256
    ok = isinstance(val, want) or (want is float and isinstance(val, int))
    if isinstance(val, bool) and want is not bool:
        ok = False
    if not ok:
        raise ValueError(f"should be {_TYPES[key]}, got {val!r}")
    if key in CHOICES:
        norm = val.strip().lower()
        if norm not in CHOICES[key]:
            raise ValueError(f"should be one of {', '.join(CHOICES[key])}, got {val!r}")
        return norm
    if key == "theme":
        if not val.strip():
            raise ValueError("should be a theme's name, got an empty string")
        return val.strip()
    return want(val)


@dataclass
class Loaded:
    """Settings plus where each value came from: ``DEFAULT``, the config file's path, or what the
    caller passed to ``override`` (a flag such as ``--theme``, an environment variable)."""

    settings: Settings
    path: Path
    sources: dict[str, str]
    exists: bool = False

    def override(self, key: str, value: Any, source: str) -> Loaded:
        """A copy with ``key`` set (checked like a file value: ValueError when it is wrong)."""
        settings = replace(self.settings, **{key: check_value(key, value)}).clamp()
        return Loaded(settings, self.path, {**self.sources, key: source}, self.exists)


def read_settings(path: Path | None = None) -> Loaded:
    path = path or config_file()
    sources = dict.fromkeys(SECTION_OF, DEFAULT)
    warnings: list[str] = []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Loaded(Settings(), path, sources)
    except (OSError, UnicodeDecodeError) as e:
        return Loaded(Settings(warnings=(f"{path}: cannot read ({e}); using defaults",)), path, sources, True)
    except tomllib.TOMLDecodeError as e:
        return Loaded(Settings(warnings=(f"{path}: not valid TOML ({e}); using defaults",)), path, sources, True)
    values: dict[str, Any] = {}
    for section, raw in data.items():
        if section == "host" and isinstance(raw, dict):  # [host.NAME] remote_command = "..."
            per_host = dict(values.get("host_remote_command", ()))
            for name, table in raw.items():
                cmd = table.get("remote_command") if isinstance(table, dict) else None
                if not isinstance(cmd, str) or set(table) != {"remote_command"}:
                    warnings.append(f"{path}: [host.{name}] should hold only remote_command = \"...\"; ignored")
                    continue
                per_host[name] = cmd
            values["host_remote_command"] = tuple(sorted(per_host.items()))
            sources["host_remote_command"] = str(path)
            continue
        if section not in SECTIONS or not isinstance(raw, dict):
            warnings.append(f"{path}: unknown section [{section}] ignored")
            continue
        for key, val in raw.items():
            if key not in SECTIONS[section]:
                warnings.append(f"{path}: unknown key {section}.{key} ignored")
                continue
            try:
                values[key] = check_value(key, val)
            except ValueError as e:
                warnings.append(f"{path}: {section}.{key} {e}; using the default")
                sources[key] = f"{DEFAULT} (the file's value is invalid)"
                continue
            sources[key] = str(path)
    return Loaded(Settings(**values, warnings=tuple(warnings)).clamp(), path, sources, True)


def load_settings(path: Path | None = None) -> Settings:
    return read_settings(path).settings


def _is_utf8(codeset: str) -> bool:
    return codeset.strip().lower().replace("-", "").replace("_", "") == "utf8"


LOCALE_VARS = ("LC_ALL", "LC_CTYPE", "LANG")


def startup_locale_environ() -> dict[str, str]:
    """LC_ALL, LC_CTYPE and LANG as this process was given them.

    Python coerces a C locale to C.UTF-8 as it starts (PEP 538) and writes LC_CTYPE=C.UTF-8 into
    ``os.environ``, which would hide an explicit LANG=C; on Linux /proc/self/environ still holds the
    environment the process was started with. Elsewhere: ``os.environ``.
    """
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return {k: os.environ[k] for k in LOCALE_VARS if k in os.environ}
    out: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        key = name.decode("utf-8", "replace")
        if sep and key in LOCALE_VARS:
            out[key] = value.decode("utf-8", "replace")
    return out


def ascii_wanted(setting: str, environ: Mapping[str, str] | None = None, encoding: str | None = None) -> bool:
    """Whether to draw with ASCII only, for the ``ui.ascii`` setting ("on", "off", "auto").

    auto, POSIX rule: the first non-empty of LC_ALL, LC_CTYPE, LANG is the locale; ASCII when its
    codeset is not UTF-8 ("C" and "POSIX" have none: ASCII; "en_US.UTF-8", "C.UTF-8" and macOS's
    bare "UTF-8" are UTF-8). When none is set (common over SSH, which does not always forward
    LANG), the terminal is assumed to be UTF-8 unless stdout's encoding (``encoding``) is not.
    ``environ`` defaults to ``startup_locale_environ()``.
    """
    if setting == "on":
        return True
    if setting == "off":
        return False
    environ = startup_locale_environ() if environ is None else environ
    for var in LOCALE_VARS:
        value = environ.get(var, "")
        if value:
            name = value.split("@", 1)[0]
            codeset = name.split(".", 1)[1] if "." in name else name
            return not _is_utf8(codeset)
    if encoding is None:
        encoding = getattr(sys.stdout, "encoding", None) or ""
    return not _is_utf8(encoding)


def save_setting(section: str, key: str, value: Any, path: Path | None = None) -> None:
    """Persist ``[section] key = value`` in the config file, keeping comments and the other keys;
    see ``settings_write.save_setting``."""
    from .settings_write import save_setting as save

    save(section, key, value, path)


def save_ui_setting(key: str, value: Any, path: Path | None = None) -> None:
    """``save_setting("ui", key, value, path)``: e.g. ``save_ui_setting("theme", "light")``."""
    save_setting("ui", key, value, path)
