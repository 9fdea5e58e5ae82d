"""Start stand-in process trees for tests and wait for them without sleeping blindly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

TREE = Path(__file__).with_name("tree.py")


class StandIn:
    def __init__(self, tmp: Path, run_id: str, *args: str, new_session: bool = True):
        self.ready = tmp / f"ready-{run_id}"
        env = dict(os.environ, FTMLLM_RUN_ID=run_id, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, str(TREE), "launcher", "--ready", str(self.ready),
                                      *args], env=env, start_new_session=new_session,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers = self._wait_ready()

    def _wait_ready(self, timeout: float = 15) -> list[int]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.ready.exists():
                return [int(x) for x in self.ready.read_text().split()]
            time.sleep(0.02)
        raise TimeoutError("stand-in launcher did not start its workers")

    def cleanup(self) -> None:
        import signal

        for pid in [self.proc.pid, *self.workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
