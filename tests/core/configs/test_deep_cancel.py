"""The deep check can take a minute (it imports torch in the training env): it is cancellable and has a
timeout, and either way the whole probe process tree is gone afterwards."""

from __future__ import annotations

import threading
import time

import psutil

from ftmllm_tui.core.configs.lfenv import deep_check

# a "training env python" that hangs: sh -c 'sleep 60 & wait' <probe> check ...  (a child too)
HANGING = ["/bin/sh", "-c", "sleep 60 & echo $! > \"$FTM_PIDFILE\"; wait", "sh"]


def _sleeper_gone(pidfile, timeout=3.0) -> bool:
    pid = int(pidfile.read_text())
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_cancel_stops_the_check_and_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    res = deep_check("stage: sft\n", "train", HANGING, environ={"FTM_PIDFILE": str(pidfile), "PATH": "/usr/bin:/bin"},
                     cancel=cancel)
    took = time.monotonic() - t0
    assert res.error_type == "Cancelled" and not res.ok and took < 2.0, (res, took)
    assert _sleeper_gone(pidfile)


def test_timeout_kills_it_too(tmp_path):
    pidfile = tmp_path / "pid"
    res = deep_check("stage: sft\n", "train", HANGING, environ={"FTM_PIDFILE": str(pidfile), "PATH": "/usr/bin:/bin"},
                     timeout=0.6)
    assert not res.ok and "did not finish in 1 s" in res.message
    assert _sleeper_gone(pidfile)
