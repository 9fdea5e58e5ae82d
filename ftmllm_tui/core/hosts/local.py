"""This machine as one row of the cluster: the same LinkState as a remote host, from a local sampler
in its own thread (no SSH). Its name is ``local`` (or ``localhost``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ftmllm_tui.core.hosts.link import LinkState
from ftmllm_tui.core.hosts.ssh import HostSpec

LOCAL_NAMES = ("local", "localhost")


class LocalLink:
    def __init__(self, spec: HostSpec, open_sampler: Callable[[], object], *, interval: float = 1.0,
                 on_change: Callable[[LinkState], None] | None = None):
        self.spec = spec
        self.interval = interval
        self.on_change = on_change or (lambda state: None)
        self._open = open_sampler
        self._stop = threading.Event()
        self._state = LinkState(spec.name, "connecting", None, None, mode="local")
        self._thread = threading.Thread(target=self._run, name="ftmllm-host-local", daemon=True)
        self.bytes_in = 0

    @property
    def state(self) -> LinkState:
        return self._state

    def start(self) -> LocalLink:
        self._thread.start()
        return self

    def stop(self, *, close_master: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=3)

    def _set(self, state: LinkState) -> None:
        self._state = state
        try:
            self.on_change(state)
        except Exception:  # noqa: BLE001
            pass

    def _run(self) -> None:
        try:
            sampler = self._open()
        except Exception as e:  # noqa: BLE001 - no driver, a bad recording: the row says why
            self._set(LinkState(self.spec.name, "down", None, None, kind="local", mode="local",
                                error=f"{self.spec.name}: {e}"))
            return
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                try:
                    snap = sampler.sample()
                    self._set(LinkState(self.spec.name, "up", snap, time.time(), mode="local",
                                        remote_host=snap.host.hostname if snap.host else None))
                except Exception as e:  # noqa: BLE001
                    self._set(LinkState(self.spec.name, "stale" if self._state.snapshot else "down",
                                        self._state.snapshot, self._state.last_data, kind="local", mode="local",
                                        error=f"{self.spec.name}: sampling failed: {e}"))
                self._stop.wait(max(0.05, self.interval - (time.monotonic() - t0)))
        finally:
            try:
                sampler.close()
            except Exception:  # noqa: BLE001
                pass
