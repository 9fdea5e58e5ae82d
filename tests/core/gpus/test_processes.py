"""psutil side with real child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from ftmllm_tui.core.gpus.processes import NOT_VISIBLE, ProcessSampler, _Seen, current_user


@pytest.fixture
def child():
    p = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: pass"],
                         env=dict(os.environ, FTMLLM_RUN_ID="20261130-ab12"))
    yield p
    p.kill()
    p.wait()


def test_describes_a_real_process(child):
    ps = ProcessSampler()
    d = ps.describe([child.pid])[str(child.pid)]
    assert d["user"] == current_user()
    assert d["cmdline"][0] == sys.executable
    assert d["ppid"] == os.getpid()
    assert d["create_time"] == psutil.Process(child.pid).create_time()
    assert d["run"] == "20261130-ab12"
    assert d["rss"] > 0 and d["status"] in ("running", "sleeping")
    assert d["parent_cmd"] == psutil.Process(os.getpid()).cmdline()


def test_cpu_percent_is_measured_between_refreshes(child):
    ps = ProcessSampler()
    ps.describe([child.pid])
    deadline = time.monotonic() + 5
    cpu = 0.0
    while cpu < 20 and time.monotonic() < deadline:  # a busy loop: near 100% of a core
        time.sleep(0.3)
        cpu = ps.describe([child.pid])[str(child.pid)]["cpu_percent"]
    assert cpu >= 20


def test_vanished_pid_is_reported_not_raised(child):
    ps = ProcessSampler()
    ps.describe([child.pid])
    child.kill()
    child.wait()
    assert ps.describe([child.pid])[str(child.pid)] == {"error": NOT_VISIBLE}
    assert child.pid not in ps._seen


def test_pid_from_another_namespace_is_unresolved():
    pid = 4_000_000  # above pid_max on Linux: can never be a process here
    assert ProcessSampler().describe([pid]) == {str(pid): {"error": NOT_VISIBLE}}


def test_a_reused_pid_is_a_new_identity(child):
    ps = ProcessSampler()
    ps.describe([child.pid])
    stale = ps._seen[child.pid]
    # pretend what we saw before was another process that had this PID
    ps._seen[child.pid] = _Seen(stale.proc, stale.create_time - 100, {"user": "someone", "cmdline": ["old"]})
    d = ps.describe([child.pid])[str(child.pid)]
    assert d["cmdline"][0] == sys.executable and d["user"] == current_user()


def test_forgets_processes_no_longer_asked_for(child):
    ps = ProcessSampler()
    ps.describe([child.pid])
    ps.describe([])
    assert ps._seen == {}
