"""Which recorded runs ended since the last look (for the app's notifications), from their exit_code files."""

from __future__ import annotations

from dataclasses import dataclass

from ftmllm_tui.core.runs.reasons import Reason, run_reason
from ftmllm_tui.core.runs.registry import Registry, RunRecord


@dataclass(frozen=True)
class Ended:
    record: RunRecord
    state: str            # finished | failed | stopped
    exit_code: int
    reason: Reason | None = None

    def message(self) -> str:
        name = self.record.name
        if self.state == "finished":
            return f"Run {name} finished"
        if self.state == "stopped":
            return f"Run {name} stopped (exit {self.exit_code})"
        why = f": {self.reason.summary}" if self.reason is not None else ""
        return f"Run {name} failed (exit {self.exit_code}){why}"


class EndWatcher:
    """poll() → the runs whose exit code appeared since the previous poll. The first poll only takes stock:
    runs that had already ended when the app started are not announced."""

    def __init__(self) -> None:
        self._seen: set[str] | None = None

    def poll(self, registry: Registry) -> list[Ended]:
        records, _ = registry.all()
        ended: list[Ended] = []
        now_ended: set[str] = set()
        for rec in records:
            code, _at = registry.exit_code(rec.id)
            if code is None:
                continue
            now_ended.add(rec.id)
            if self._seen is None or rec.id in self._seen:
                continue
            state = "stopped" if rec.stop_requested_at is not None else ("finished" if code == 0 else "failed")
            why = run_reason(registry.dir(rec.id), state=state, exit_code=code, cwd=rec.cwd, gpus=rec.gpus) \
                if state == "failed" else None
            ended.append(Ended(rec, state, code, why))
        self._seen = now_ended if self._seen is None else self._seen | now_ended
        return ended


def desktop_sequence(title: str, body: str, *, in_tmux: bool) -> str:
    """OSC 9 (iTerm2, WezTerm, kitty, Windows Terminal, foot…: a desktop notification), wrapped for tmux's
    passthrough when inside tmux (needs `set -g allow-passthrough on` on tmux ≥ 3.3)."""
    text = f"{title}: {body}".replace("\x1b", "").replace("\x07", "")[:200]
    seq = f"\x1b]9;{text}\x07"
    if in_tmux:
        seq = "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return seq
