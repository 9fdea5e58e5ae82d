"""Pre-flight memory check: the estimate of a config against the chosen GPUs' free memory (a warning, never a block)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ftmllm_tui.core.estimate import Estimate, EstimateError, estimate_values, fit_line
from ftmllm_tui.core.estimate.advice import cheapest_changes
from ftmllm_tui.core.gpus.snapshot import Snapshot

ESTIMATE_KINDS = {"train": "train", "chat": "chat", "webchat": "chat", "api": "chat", "export": "export",
                  "eval": "eval"}


def estimate_config(cfg: Mapping[str, Any], *, kind: str, gpus: int, cfg_path: Path | None, cwd: Path | None,
                    environ: Mapping[str, str] | None = None,
                    gpu_total_bytes: int | None = None) -> Estimate | str | None:
    """The estimate, or the one-line reason it cannot be made; None for kinds that use no model (webui)."""
    ekind = ESTIMATE_KINDS.get(kind)
    if ekind is None or not cfg:
        return None
    try:
        return estimate_values(cfg, path=cfg_path, kind=ekind, gpus=max(gpus, 1), workdir=cwd, environ=environ,
                               gpu_total_bytes=gpu_total_bytes)
    except EstimateError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001  (a pre-flight figure must never break a launch)
        return f"cannot estimate: {exc.__class__.__name__}: {exc}"


def free_memory(snapshot: Snapshot | None, indices: Sequence[int] | None) -> list[tuple[int, int, int]]:
    """(index, free bytes, total bytes) of the given GPUs (all of them when indices is None)."""
    if snapshot is None:
        return []
    out = []
    for g in snapshot.gpus:
        if indices is not None and g.index not in indices:
            continue
        if g.memory_total_bytes and g.memory_used_bytes is not None:
            out.append((g.index, max(g.memory_total_bytes - g.memory_used_bytes, 0), g.memory_total_bytes))
    return out


def fit_report(est: Estimate, gpus: Sequence[tuple[int, int, int]]) -> list[tuple[bool, str]]:
    return [fit_line(est, free, idx) for idx, free, _ in gpus]


def advice(cfg: Mapping[str, Any], est: Estimate, budget: int, *, cfg_path: Path | None, cwd: Path | None,
           environ: Mapping[str, str] | None = None) -> list[str]:
    def again(values, gpus):
        return estimate_values(values, path=cfg_path, kind=est.kind if est.kind != "predict" else "train",
                               gpus=gpus, workdir=cwd, environ=environ)

    return [c.line() for c in cheapest_changes(cfg, budget, again, gpus=est.gpus)]
