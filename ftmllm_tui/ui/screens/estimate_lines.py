"""The memory estimate as shown in the launch dialog: the figure, then each GPU's free memory and the verdict."""

from __future__ import annotations

from rich.text import Text

from ...core.estimate import GiB, Estimate
from ...core.runs.fit import fit_report, free_memory
from ..palette import PALETTE


def estimate_text(estimate, snapshot, gpus) -> Text:
    """`estimate`: Prepared.estimate (an Estimate, a 'cannot estimate: …' line, or None)."""
    t = Text()
    if estimate is None:
        return t
    t.append("\nmemory   ", style="bold")
    if isinstance(estimate, str):
        t.append(estimate, style=PALETTE.muted)
        return t
    est: Estimate = estimate
    parts = ", ".join(f"{k} {v / GiB:.1f}" for k, v in est.parts.items() if v >= GiB // 10)
    t.append(f"{est.summary()} ({est.kind}, {est.gpus} GPU{'s' if est.gpus != 1 else ''}: {parts})")
    replay = snapshot is not None and snapshot.is_replay
    shown = free_memory(snapshot, list(gpus) if gpus else None)
    for ok, line in fit_report(est, shown):
        t.append(f"\n         {line}" + (" (recorded GPU)" if replay else ""),
                 style=PALETTE.ok if ok else PALETTE.danger)
    return t
