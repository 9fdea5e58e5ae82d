from __future__ import annotations

import subprocess
import sys
import threading
import time

from ftmllm_tui.core.background import BackgroundCaller


def test_calls_on_request_and_reports_errors():
    results, errors = [], []
    done = threading.Event()
    n = iter(range(10))

    def fn():
        i = next(n)
        if i == 1:
            raise ValueError("boom")
        return i

    def on_result(r, took):
        results.append(r)
        done.set()

    c = BackgroundCaller(fn, on_result, lambda e: (errors.append(e), done.set()))
    for _ in range(3):
        done.clear()
        c.request()
        assert done.wait(5)
    assert results == [0, 2] and isinstance(errors[0], ValueError)
    c.stop()


def test_a_hung_call_does_not_keep_the_process_alive():
    code = ("import time, sys; sys.path.insert(0, '.');"
            "from ftmllm_tui.core.background import BackgroundCaller;"
            "c = BackgroundCaller(lambda: time.sleep(60), print, print); c.request(); time.sleep(0.2)")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert r.returncode == 0 and time.monotonic() - t0 < 10
