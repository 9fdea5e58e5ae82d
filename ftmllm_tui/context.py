"""Where runs live and how they are started, resolved once from flags, environment and settings.

Precedence: command-line flag > environment (FTMLLM_TMUX_SOCKET, FTMLLM_LLAMAFACTORY_CLI) > settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .core.kill import Audit
from .core.runs import Registry
from .core.tmux import Tmux
from .settings import Settings, state_dir


@dataclass
class RunContext:
    settings: Settings
    registry: Registry
    tmux: Tmux
    audit: Audit
    llamafactory_cli: str
    readonly: bool = False

    @classmethod
    def create(cls, settings: Settings, *, tmux_socket: str | None = None,
               llamafactory_cli: str | None = None, readonly: bool = False) -> RunContext:
        sock = tmux_socket or os.environ.get("FTMLLM_TMUX_SOCKET") or settings.tmux_socket or None
        cli = (llamafactory_cli or os.environ.get("FTMLLM_LLAMAFACTORY_CLI")
               or settings.llamafactory_cli)
        root = state_dir()
        return cls(settings=settings, registry=Registry(root / "runs"), tmux=Tmux(sock),
                   audit=Audit(root / "audit.jsonl"), llamafactory_cli=cli, readonly=readonly)
