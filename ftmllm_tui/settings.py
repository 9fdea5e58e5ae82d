"""Typed settings with defaults, loaded from ``$XDG_CONFIG_HOME/ftmllm-tui/config.toml``.

A missing file means defaults; a broken file means defaults plus a warning naming the file and the
problem (never a crash). Unknown keys are reported, not silently ignored.
"""

from __future__ import annotations

import sys
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
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def free_rule(self):
        from .core.summary import FreeRule

        return FreeRule(max_memory_bytes=self.free_max_memory_mib * 2**20,
                        max_util_pct=self.free_max_util_pct)

    def clamp(self) -> Settings:
        iv = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, float(self.refresh_interval)))
        win = self.history_window_min if self.history_window_min in (1, 5, 15, 60) else 5
        return replace(self, refresh_interval=iv, history_window_min=win)


SECTIONS: dict[str, tuple[str, ...]] = {
    "ui": ("refresh_interval", "history_window_min", "mine_only", "tree"),
    "gpus": ("free_max_memory_mib", "free_max_util_pct", "process_util_interval"),
    "runs": ("tmux_socket", "llamafactory_cli", "env", "pass_env", "stop_grace_s", "term_grace_s",
             "stall_minutes", "stop_and_save_timeout_s"),
    "configs": ("config_dirs", "llamafactory_version", "lf_python", "keep_backups", "check_on_launch"),
}


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_file()
    warnings: list[str] = []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as e:
        return Settings(warnings=(f"{path}: cannot read ({e}); using defaults",))
    except tomllib.TOMLDecodeError as e:
        return Settings(warnings=(f"{path}: not valid TOML ({e}); using defaults",))
    types = {f.name: f.type for f in fields(Settings)}
    defaults = Settings()
    values: dict[str, Any] = {}
    for section, raw in data.items():
        if section not in SECTIONS or not isinstance(raw, dict):
            warnings.append(f"{path}: unknown section [{section}] ignored")
            continue
        for key, val in raw.items():
            if key not in SECTIONS[section]:
                warnings.append(f"{path}: unknown key {section}.{key} ignored")
                continue
            want = type(getattr(defaults, key))
            if key == "env" and isinstance(val, dict) and all(
                    isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in val.items()):
                values[key] = tuple(sorted((k, str(v)) for k, v in val.items()))
                continue
            if want is tuple and isinstance(val, list) and all(isinstance(v, str) for v in val):
                values[key] = tuple(val)
                continue
            ok = isinstance(val, want) or (want is float and isinstance(val, int))
            if isinstance(val, bool) and want is not bool:
                ok = False
            if not ok:
                warnings.append(f"{path}: {section}.{key} should be {types[key]}, got {val!r}; "
                                "using the default")
                continue
            values[key] = want(val)
    return Settings(**values, warnings=tuple(warnings)).clamp()
