"""A Linux driver that writes through :class:`~.termdiff.ScreenDiffer` (only changed cells), and
that ends the app when its terminal hangs up (an SSH link that drops), whether or not SIGHUP
reaches the process."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import select
import sys
import threading
import time

from textual import events
from textual.drivers.linux_driver import LinuxDriver

from .termdiff import ScreenDiffer


def diff_enabled() -> bool:
    return os.environ.get("FTMLLM_TERM_DIFF", "1").lower() not in ("0", "no", "off", "false")


class OrderedKeysDriver(LinuxDriver):
    """Textual's Linux driver, handing keys to the app one at a time (see process_message)."""

    KEY_SETTLE_S = 0.5  # the longest one key may hold back the next (a key whose widget went away never settles)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._key_pending: tuple[events.Key, threading.Event] | None = None

    # -- keys in the order they were typed ---------------------------------------------------------
    # Textual hands a key to the focused widget's message queue. A key the widget takes itself (Enter and
    # text in a TextArea) is applied there at once; a key it does not take (Down, End, ctrl+e: bindings)
    # bubbles up through each ancestor's queue and its binding runs only when it is back at the App. So in
    # a burst (a paste, tmux send-keys, a laggy SSH link delivering several keys in one read) the later
    # Enter and text overtake the earlier arrows: `Down Down End Enter x` types on the wrong line. The
    # parser is not at fault (it yields the keys in order). The cure is here, where keys enter the app:
    # the next key is handed over only when the previous one has settled — taken by a widget (stopped), or
    # back at the App (its binding runs before anything posted after it), or handled by the App itself.
    def process_message(self, message) -> None:
        if not isinstance(message, events.Key) or threading.current_thread() is threading.main_thread():
            super().process_message(message)
            return
        done = threading.Event()
        self._key_pending = (message, done)
        super().process_message(message)
        end = time.monotonic() + self.KEY_SETTLE_S
        while not done.wait(0.002):
            if message._stop_propagation or self.exit_event.is_set() or getattr(self, "terminal_lost", False) \
                    or time.monotonic() >= end:
                break
        self._key_pending = None

    def key_settled(self, message) -> None:
        """Called by the app (UI thread): this key needs no more waiting for."""
        pending = self._key_pending
        if pending is not None and pending[0] is message:
            pending[1].set()


class DiffingDriver(OrderedKeysDriver):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.differ = ScreenDiffer()
        self._last_size: tuple[int, int] | None = None
        dump = os.environ.get("FTMLLM_TERM_DUMP")  # debugging and tests: every raw write, JSON lines
        self._dump = open(dump, "a", encoding="utf-8") if dump else None
        self.terminal_lost = False
        self._hangup_watch: threading.Thread | None = None

    def _get_terminal_size(self) -> tuple[int, int]:
        size = super()._get_terminal_size()
        if size != self._last_size:
            self._last_size = size
            self.differ.invalidate()
            self.differ.width, self.differ.height = size
        return size

    def write(self, data: str) -> None:
        if self.terminal_lost:  # nobody to write to; and the writer thread died on EIO
            return
        if self._dump is not None:
            self._dump.write(json.dumps(data) + "\n")
            self._dump.flush()
        data = self.differ.process(data)
        if data:
            super().write(data)

    def start_application_mode(self) -> None:  # also on resume after a suspend ($EDITOR)
        self.differ.invalidate()
        super().start_application_mode()
        self._watch_hangup()

    def close(self) -> None:
        if self.terminal_lost:  # the writer thread may be dead: do not wait on it
            return
        super().close()

    # -- the terminal hangs up ---------------------------------------------------------------------
    # When an SSH link drops, sshd closes the pty master and the kernel hangs up the terminal: SIGHUP
    # to the session, then read() returns 0 and write() fails with EIO forever. If SIGHUP does not
    # end the process (ignored: `trap '' HUP`, nohup-like wrappers, a parent that ignores it),
    # Textual's input thread loops on that EOF at 100 % CPU (select says readable, read gives b"")
    # and its writer thread dies on EIO, after which the UI thread blocks on the writer's full
    # queue: the app never exits. A watcher blocked in poll() with no events asked (it costs
    # nothing and wakes only on POLLHUP/POLLERR) stops the input loop, drops further writes and
    # exits the app (return code 129, as a shell reports a death by SIGHUP).
    def _watch_hangup(self) -> None:
        if self._hangup_watch is not None and self._hangup_watch.is_alive():
            return
        if not sys.platform.startswith("linux") or not hasattr(select, "poll"):
            return  # macOS: poll() does not support terminals
        try:
            if not os.isatty(self.fileno):
                return
        except OSError:
            return
        loop = asyncio.get_running_loop()
        self._hangup_watch = threading.Thread(target=self._wait_hangup, args=(loop,), daemon=True,
                                              name="ftmllm-hangup")
        self._hangup_watch.start()

    def _wait_hangup(self, loop: asyncio.AbstractEventLoop) -> None:
        poller = select.poll()
        try:
            poller.register(self.fileno, 0)  # POLLHUP, POLLERR and POLLNVAL are always reported
            events = poller.poll()
        except (OSError, ValueError):
            return
        if not any(ev & (select.POLLHUP | select.POLLERR) for _, ev in events):
            return  # POLLNVAL: the descriptor was closed (interpreter shutdown), not a hangup
        self.terminal_lost = True
        self.exit_event.set()  # Textual's input thread leaves its read loop instead of spinning on EOF
        writer = self._writer_thread
        if writer is not None:  # unblock a UI thread stuck on the dead writer's full queue
            q = writer._queue
            while not q.empty():
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
        try:
            loop.call_soon_threadsafe(self._app.exit, None, 129)
        except RuntimeError:  # the loop is already closed: the app is gone anyway
            pass
