"""The small wrapper that runs inside a run's tmux pane.

    python -m ftmllm_tui.core.runs.runner RUN_DIR [ENV_FILE]

* reads the command and the added environment from RUN_DIR/run.json;
* ENV_FILE (0600, in the user's runtime dir, on tmpfs) holds the launching environment including
  secrets such as SWANLAB_API_KEY: it is read and deleted at once, so secrets never sit on disk;
* writes RUN_DIR/pid ("<pid> <create_time>") once started;
* runs the command in the pane's process group, so Ctrl-C in an attached pane reaches the launcher
  as it would in a terminal, while this wrapper ignores it and waits;
* copies everything the command prints to the pane and to RUN_DIR/console.log;
* writes RUN_DIR/exit_code (128+N when killed by signal N) atomically when the command ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _create_time() -> float:
    import psutil

    return psutil.Process().create_time()


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    run_dir = Path(argv[1])
    env = dict(os.environ)
    if len(argv) > 2:
        env_file = Path(argv[2])
        try:
            data = json.loads(env_file.read_text())
            env = {str(k): str(v) for k, v in data.get("env", {}).items()}
        except (OSError, ValueError) as e:
            print(f"ftmllm-tui runner: cannot read the launch environment ({e})", file=sys.stderr)
        finally:
            try:
                env_file.unlink()
            except OSError:
                pass
    rec = json.loads((run_dir / "run.json").read_text())
    for k, v in rec.get("env", []):
        env[str(k)] = str(v)
    argv_run = [str(a) for a in rec["argv"]]
    _atomic(run_dir / "pid", f"{os.getpid()} {_create_time()}\n")
    log = open(run_dir / "console.log", "ab", buffering=0)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    log.write(f"# ftmllm-tui run {rec['id']} started {stamp}\n".encode())
    try:
        child = subprocess.Popen(argv_run, env=env, cwd=rec.get("cwd") or None,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        msg = f"ftmllm-tui runner: cannot start {argv_run[0]}: {e.strerror}\n"
        sys.stderr.write(msg)
        log.write(msg.encode())
        _atomic(run_dir / "exit_code", "127\n")
        return 127

    # Ctrl-C in the pane goes to the whole pane group: the command handles it; we keep logging.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the pane went away: keep logging to the file
    signal.signal(signal.SIGABRT, signal.SIG_IGN)  # "stop and save" is for the trainer, not for us

    def forward(sig, _frame):
        try:
            child.send_signal(sig)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    out = sys.stdout.buffer
    pane_ok = True
    assert child.stdout is not None
    fd = child.stdout.fileno()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            break
        log.write(chunk)
        if pane_ok:
            try:
                out.write(chunk)
                out.flush()
            except OSError:
                pane_ok = False
    rc = child.wait()
    code = rc if rc >= 0 else 128 - rc
    log.write(f"\n# ftmllm-tui run {rec['id']} ended {time.strftime('%Y-%m-%d %H:%M:%S')}, "
              f"exit code {code}\n".encode())
    _atomic(run_dir / "exit_code", f"{code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
