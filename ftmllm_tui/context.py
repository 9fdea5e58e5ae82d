"""Where runs live and how they are started, resolved once from flags, environment and settings.

Precedence: command-line flag > environment (FTMLLM_TMUX_SOCKET, FTMLLM_LLAMAFACTORY_CLI) > settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .core.runs.kill import Audit
from .core.runs.registry import Registry
from .core.runs.tmux import Tmux
from .settings import Settings, state_dir


@dataclass
class RunContext:
    settings: Settings
    registry: Registry
    tmux: Tmux
    audit: Audit
    llamafactory_cli: str
    readonly: bool = False
    _schema: tuple | None = None

    def lf_python(self) -> list[str] | None:
        from .core.configs.lfenv import env_python

        return env_python(self.llamafactory_cli, os.environ, self.settings.lf_python)

    def lf_schema(self):
        """(schema, why) for validating configs; the training env is asked once (a subprocess: call this
        off the UI thread)."""
        if self._schema is None:
            from .core.configs.lfenv import choose_schema

            self._schema = choose_schema(self.settings.llamafactory_version, self.lf_python())
        return self._schema

    @classmethod
    def create(cls, settings: Settings, *, tmux_socket: str | None = None,
               llamafactory_cli: str | None = None, readonly: bool = False) -> RunContext:
        sock = tmux_socket or os.environ.get("FTMLLM_TMUX_SOCKET") or settings.tmux_socket or None
        cli = (llamafactory_cli or os.environ.get("FTMLLM_LLAMAFACTORY_CLI")
               or settings.llamafactory_cli)
        root = state_dir()
        return cls(settings=settings, registry=Registry(root / "runs"), tmux=Tmux(sock),
                   audit=Audit(root / "audit.jsonl"), llamafactory_cli=cli, readonly=readonly)
