"""The memory estimate of the file being edited, for the status line (computed in the validation worker)."""

from __future__ import annotations

from pathlib import Path

from ....core.estimate import GiB, EstimateError, estimate_values


def estimate_for_text(text: str, path: Path | None, workdir: Path | None, command: str | None) -> str | None:
    """'~21.8 GiB/GPU (train)' for the unsaved text; 'no memory estimate (missing config.json)' when an input is
    missing (`ftmllm-tui estimate` says the whole why); None for a YAML error (the Problems list has it)."""
    import yaml

    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(values, dict) or command in ("webui",):
        return None
    try:
        est = estimate_values(values, path=path, kind=command, workdir=workdir)
    except EstimateError as exc:  # short: the status line also carries the problem under the cursor
        return f"no memory estimate (missing {exc.missing})" if exc.missing else None
    except (ValueError, TypeError):
        return None
    return f"~{est.per_gpu_bytes / GiB:.1f} GiB/GPU ({est.kind})"
