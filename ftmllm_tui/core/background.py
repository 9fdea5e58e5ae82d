"""A daemon thread that runs one call at a time on request, so blocking work stays off the UI.

Unlike an executor thread, a daemon thread never holds up the process at exit: a sample stuck in
a hung NVML call cannot keep the app alive after the user quits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundCaller(Generic[T]):
    def __init__(self, fn: Callable[[], T], on_result: Callable[[T, float], None],
                 on_error: Callable[[BaseException], None], name: str = "ftmllm-sampler"):
        self._fn = fn
        self._on_result = on_result
        self._on_error = on_error
        self._wake = threading.Event()
        self._stopped = False
        self.busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Ask for one call; requests while a call runs collapse into one more call."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopped:
                return
            self.busy = True
            t0 = time.monotonic()
            try:
                result = self._fn()
            except Exception as e:  # reported to the owner, never kills the thread
                self.busy = False
                if not self._stopped:
                    self._on_error(e)
                continue
            self.busy = False
            if self._stopped:
                return
            self._on_result(result, time.monotonic() - t0)
