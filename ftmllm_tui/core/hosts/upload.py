"""Copy a local file to another host: its app (``receive NAME``, the remote command with its own environment)
stores stdin in its state dir (uploads/), over the host's SSH master."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ftmllm_tui.core.hosts.ssh import classify, ssh_argv


def upload_file(opts, spec, path: str) -> str:
    """The remote path of the copy, or ``error: why`` (one line)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"error: cannot read {path}: {e.strerror}"
    line = opts.remote(spec, ["receive", Path(path).name])
    try:
        p = subprocess.run(ssh_argv(opts, spec, line), input=data, capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return f"error: {spec.name}: no answer within 60 s"
    out = p.stdout.decode("utf-8", "replace").strip()
    if p.returncode != 0 or not out:
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode in (255, 127):
            return "error: " + classify(p.returncode, err, spec)[1]
        return f"error: {spec.name}: " + ((err.strip().splitlines() or [f"receive exited {p.returncode}"])[-1])
    return out.splitlines()[-1]
