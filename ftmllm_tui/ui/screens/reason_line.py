"""A run's failure reason in the run detail: computed in the follow worker, shown on the top line; `e` jumps to it."""

from __future__ import annotations

from ...core.runs.reasons import Reason, run_reason


def reason_of(target, ended) -> Reason | None:
    """For a followed run that ended (state, exit code); None while it runs (but for SwanLab's login prompt)."""
    if target.run_dir is None:
        return None
    rec = target.record
    state, code = ended if ended is not None else ("running", None)
    return run_reason(target.run_dir, state=state, exit_code=code, cwd=getattr(rec, "cwd", None),
                      gpus=getattr(rec, "gpus", None))


def line_of(reason: Reason, lines: list[str]) -> int | None:
    """Index in the shown log lines of the line the reason was read from (the last one equal to it)."""
    if not reason.text:
        return None
    want = reason.text.strip()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip()[:500] == want:
            return i
    return None
