"""One host's live link: its SSH master, its streamer, the latest snapshot and what went wrong.

:class:`HostLink` owns one daemon thread that (re)starts the master (``ssh -f -N -M``), runs
``ftmllm-tui stream`` over it, parses each line into a frozen snapshot and reports every change
through ``on_change(link)`` (called from that thread: the UI posts a message, the CLI waits on an
event). A host that fails never blocks the others: each has its own thread, every wait has a
deadline. Where ftmllm-tui is missing the link falls back to the nvidia-smi loop (``smi.py``).

States: ``connecting``, ``up``, ``stale`` (no data for a while; the age is shown), ``down``
(``kind`` and ``error`` say why; retried with backoff; ``auth`` and ``hostkey`` are retried
slowly: they need the user).
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ftmllm_tui.core.gpus.snapshot import Snapshot
from ftmllm_tui.core.gpus.summary import FreeRule
from ftmllm_tui.core.hosts.smi import NOTE as SMI_NOTE
from ftmllm_tui.core.hosts.smi import SmiDecoder, smi_loop
from ftmllm_tui.core.hosts.ssh import (
    HostSpec,
    SshOptions,
    check_argv,
    classify,
    control_path,
    exit_master_argv,
    master_argv,
    ssh_argv,
)
from ftmllm_tui.core.hosts.stream import StreamDecoder, StreamError

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0)
SLOW_RETRY_S = 30.0  # auth / host key: the user has to act first


@dataclass(frozen=True)
class LinkState:
    """What a view shows for one host (immutable: handed across threads)."""

    host: str
    state: str  # connecting, up, stale, down
    snapshot: Snapshot | None
    last_data: float | None  # time.time() of the last snapshot
    kind: str | None = None  # why down: dns, refused, auth, hostkey, timeout, dropped, crashed, ...
    error: str | None = None
    mode: str = "app"  # "app" (ftmllm-tui stream) or "smi" (nvidia-smi fallback)
    note: str | None = None
    remote_host: str | None = None  # the host's own name (from the stream header)
    retry_at: float | None = None

    def age(self, now: float | None = None) -> float | None:
        if self.last_data is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.last_data)


class HostLink:
    def __init__(self, spec: HostSpec, opts: SshOptions, *, interval: float = 1.0,
                 on_change: Callable[[LinkState], None] | None = None, me: str = "?",
                 free_rule: FreeRule = FreeRule(), stale_after: float | None = None):
        self.spec = spec
        self.opts = opts
        self.interval = interval
        self.on_change = on_change or (lambda state: None)
        self.me = me
        self.free_rule = free_rule
        self.stale_after = stale_after if stale_after is not None else max(5.0, 3 * interval)
        self.restart_after = max(20.0, 10 * interval)  # a stream silent this long is restarted
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.mode = "app"
        self._state = LinkState(spec.name, "connecting", None, None)
        self._thread = threading.Thread(target=self._run, name=f"ftmllm-host-{spec.name}", daemon=True)
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.bytes_in = 0

    # -- public ------------------------------------------------------------------------------------
    @property
    def state(self) -> LinkState:
        return self._state

    def start(self) -> HostLink:
        self.opts.control_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        control_path(self.opts.control_dir, self.spec).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._thread.start()
        return self

    def stop(self, *, close_master: bool = True) -> None:
        """End the stream and (by default) the master; never waits more than a few seconds."""
        self._stop.set()
        self._kill_proc()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=3)
        if close_master:
            try:
                subprocess.run(exit_master_argv(self.opts, self.spec), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5, check=False)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def run_remote(self, args: list[str], *, timeout: float = 30.0, input: bytes | None = None,
                   tty: bool = False) -> subprocess.CompletedProcess:
        """Run ``remote_command ARGS`` on the host over its master (a one-off connection if the master
        is down). Raises subprocess.TimeoutExpired after ``timeout``."""
        argv = ssh_argv(self.opts, self.spec, self.opts.remote(self.spec, args), tty=tty)
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL, check=False)

    # -- the thread --------------------------------------------------------------------------------
    def _set(self, **changes) -> None:
        from dataclasses import replace

        with self._lock:
            self._state = replace(self._state, **changes)
            state = self._state
        try:
            self.on_change(state)
        except Exception:  # noqa: BLE001 - a listener's bug must not end the link
            pass

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            kind, error, got_data = self._session()
            if self._stop.is_set():
                return
            if got_data:
                failures = 0
            if kind == "notfound" and self.mode == "app":
                self.mode = "smi"  # ftmllm-tui is not there: try nvidia-smi at once
                self._set(mode="smi", note=SMI_NOTE)
                continue
            if kind == "notfound" and self.mode == "smi":
                error = f"{self.spec.name}: neither ftmllm-tui ({self.opts.command_for(self.spec)}) nor " \
                        "nvidia-smi found there (set [host.NAME] remote_command)"
            if kind == "stalled":
                # a stream that stopped talking: restart it (the master is checked again)
                failures = 0
            delay = SLOW_RETRY_S if kind in ("auth", "hostkey") else BACKOFF_S[min(failures,
                                                                                   len(BACKOFF_S) - 1)]
            failures += 1
            now = time.time()
            prev = self._state
            self._set(state="stale" if prev.snapshot is not None and kind in ("dropped", "stalled",
                                                                             "timeout", "crashed",
                                                                             "error", "refused")
                      else "down", kind=kind, error=error, retry_at=now + delay)
            if self._stop.wait(delay):
                return

    def _ensure_master(self) -> tuple[str | None, str | None]:
        """(kind, error) when the master cannot be started; (None, None) when it is up."""
        try:
            ok = subprocess.run(check_argv(self.opts, self.spec), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        if ok:
            return None, None
        errfile = self.opts.control_dir / f"{os.getpid()}-{abs(hash(self.spec.name))}.err"
        try:
            with open(errfile, "w+b") as err:
                # the forked master keeps this file as its stderr: never a pipe we would wait on
                p = subprocess.Popen(master_argv(self.opts, self.spec), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
                try:
                    rc = p.wait(timeout=self.opts.connect_timeout * 3 + 5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    return "timeout", f"{self.spec.name}: no answer within {self.opts.connect_timeout * 3 + 5} s"
                err.seek(0)
                text = err.read().decode("utf-8", "replace")
        finally:
            try:
                errfile.unlink()
            except OSError:
                pass
        if rc == 0:
            return None, None
        return classify(rc, text, self.spec)

    def _session(self) -> tuple[str, str, bool]:
        """One connection: returns (kind, error, got_data) when it ends."""
        self._set(state="connecting" if self._state.snapshot is None else self._state.state)
        kind, error = self._ensure_master()
        if kind is not None:
            return kind, error, False
        if self.mode == "app":
            line = self.opts.remote(self.spec, ["stream", "--interval", f"{self.interval:g}"])
            decoder = StreamDecoder(self.me, self.free_rule)
        else:
            from shlex import quote

            loop = quote(smi_loop(self.interval))
            line = f"exec $SHELL -l -c {loop}" if self.opts.login_shell else f"exec /bin/sh -c {loop}"
            decoder = SmiDecoder(self.me, self.free_rule)
        try:
            proc = subprocess.Popen(ssh_argv(self.opts, self.spec, line), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            return "error", f"{self.spec.name}: cannot run ssh: {e}", False
        self._proc = proc
        self.stderr_tail.clear()
        err_thread = threading.Thread(target=self._drain_stderr, args=(proc,), daemon=True)
        err_thread.start()
        got = False
        buf = b""
        fd = proc.stdout.fileno()
        last = time.monotonic()
        stalled = False
        try:
            while not self._stop.is_set():
                try:
                    ready, _, _ = select.select([fd], [], [], 0.5)
                except (OSError, ValueError):  # closed by stop()
                    break
                now_m = time.monotonic()
                if not ready:
                    silent = now_m - last
                    if got and silent > self.stale_after and self._state.state == "up":
                        self._set(state="stale")
                    if silent > self.restart_after:
                        stalled = True
                        break
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.bytes_in += len(chunk)
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    try:
                        snap = decoder.feed(raw)
                    except StreamError as e:
                        self._kill_proc()
                        return "schema", f"{self.spec.name}: {e}", got
                    last = now_m
                    if snap is not None:
                        got = True
                        meta = getattr(decoder, "meta", None) or {}
                        self._set(state="up", snapshot=snap, last_data=time.time(), kind=None, error=None,
                                  mode=self.mode, note=SMI_NOTE if self.mode == "smi" else None,
                                  remote_host=meta.get("host"), retry_at=None)
        finally:
            self._kill_proc()
            err_thread.join(timeout=2)
        if self._stop.is_set():
            return "stopped", "", got
        if stalled:
            return "stalled", f"{self.spec.name}: no data for {self.restart_after:.0f} s; reconnecting", got
        rc = proc.returncode
        kind, error = classify(rc, "\n".join(self.stderr_tail), self.spec)
        if kind == "crashed" and rc in (0, None):
            kind, error = "dropped", f"{self.spec.name}: the stream ended"
        return kind, error, got

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.stderr_tail.append(line)

    def _kill_proc(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.stdin.close()  # EOF: the streamer ends on its own
            except OSError:
                pass
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
        for f in (proc.stdout, proc.stderr):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass
