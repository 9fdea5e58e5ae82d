"""A Linux driver that writes through :class:`~.termdiff.ScreenDiffer` (only changed cells)."""

from __future__ import annotations

import json
import os

from textual.drivers.linux_driver import LinuxDriver

from .termdiff import ScreenDiffer


def diff_enabled() -> bool:
    return os.environ.get("FTMLLM_TERM_DIFF", "1").lower() not in ("0", "no", "off", "false")


class DiffingDriver(LinuxDriver):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.differ = ScreenDiffer()
        self._last_size: tuple[int, int] | None = None
        dump = os.environ.get("FTMLLM_TERM_DUMP")  # debugging and tests: every raw write, JSON lines
        self._dump = open(dump, "a", encoding="utf-8") if dump else None

    def _get_terminal_size(self) -> tuple[int, int]:
        size = super()._get_terminal_size()
        if size != self._last_size:
            self._last_size = size
            self.differ.invalidate()
            self.differ.width, self.differ.height = size
        return size

    def write(self, data: str) -> None:
        if self._dump is not None:
            self._dump.write(json.dumps(data) + "\n")
            self._dump.flush()
        data = self.differ.process(data)
        if data:
            super().write(data)

    def start_application_mode(self) -> None:  # also on resume after a suspend ($EDITOR)
        self.differ.invalidate()
        super().start_application_mode()
