"""Runs on other hosts: what ``ftmllm-tui runs --json`` says there, as the Runs view's RunViews.

A remote run's record id is ``HOST:ID`` (a local id never holds ':'), its ``host`` the host's name as
configured; everything that acts on it goes back to that host's app (``stop``, ``logs``, ``attach``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ftmllm_tui.core.hosts.ssh import (
    HostSpec,
    SshOptions,
    classify,
    split_ref,
    ssh_argv,
)
from ftmllm_tui.core.runs.registry import RunRecord, RunStatus
from ftmllm_tui.core.runs.runctl import Progress, RunView


def is_remote(record_id: str) -> bool:
    return ":" in record_id


def remote_ref(record_id: str) -> tuple[str, str]:
    host, run = split_ref(record_id)
    return host or "", run


def view_from_json(host: str, d: dict[str, Any]) -> RunView:
    rec = RunRecord.from_dict({**d, "id": f"{host}:{d.get('id', '?')}", "host": host,
                               "argv": d.get("argv") or [], "env": [], "kind": d.get("kind") or "?",
                               "name": d.get("name") or d.get("id") or "?", "config": d.get("config")})
    status = RunStatus(rec, str(d.get("state") or "?"), exit_code=d.get("exit_code"),
                       session_alive=bool(d.get("tmux_session")) and d.get("state") in ("running", "starting"),
                       pids=tuple(d.get("pids") or ()), orphaned=bool(d.get("orphaned")))
    p = d.get("progress")
    progress = None
    if isinstance(p, dict):
        progress = Progress(step=p.get("step"), total=p.get("total"), percentage=p.get("percentage"),
                            loss=p.get("loss"), eval_loss=p.get("eval_loss"), remaining=p.get("remaining"))
    return RunView(status=status, progress=progress, stalled=bool(d.get("stalled")))


def _json_start(text: str) -> int:
    """Where the JSON starts: the first line beginning with [ or { (a login profile may print first)."""
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith(("[", "{")):
            return pos
        pos += len(line)
    return 0


def run_remote(opts: SshOptions, spec: HostSpec, args: Sequence[str], *, timeout: float = 30.0,
               tty: bool = False) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``remote_command ARGS`` on the host; ssh's own failures and
    timeouts come back as exit 255 with a one-line reason in stderr."""
    argv = ssh_argv(opts, spec, opts.remote(spec, list(args)), tty=tty)
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return 255, "", f"{spec.name}: no answer within {timeout:g} s"
    except OSError as e:
        return 255, "", f"{spec.name}: cannot run ssh: {e}"
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if p.returncode in (255, 127):
        err = classify(p.returncode, err, spec)[1]
    return p.returncode, out, err


def fetch_runs(opts: SshOptions, specs: Sequence[HostSpec], *, timeout: float = 30.0
               ) -> tuple[list[RunView], list[str]]:
    """Every host's runs at once (one ``runs --json`` per host over its master)."""

    def one(spec: HostSpec):
        rc, out, err = run_remote(opts, spec, ["runs", "--json"], timeout=timeout)
        if rc != 0:
            return [], (err.strip().splitlines() or [f"{spec.name}: runs --json exited {rc}"])[-1]
        try:
            data = json.loads(out[_json_start(out):])
        except json.JSONDecodeError:
            return [], f"{spec.name}: `runs --json` did not print JSON (an older ftmllm-tui there?)"
        return [view_from_json(spec.name, d) for d in data if isinstance(d, dict)], None

    if not specs:
        return [], []
    with ThreadPoolExecutor(max_workers=min(16, len(specs))) as pool:
        results = list(pool.map(one, specs))
    views = [v for vs, _ in results for v in vs]
    errors = [e for _, e in results if e]
    return views, errors
