"""Host line: CPU, RAM, load, uptime (psutil), in the recording's ``host`` format."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import psutil


class HostSampler:
    def __init__(self) -> None:
        psutil.cpu_percent(None)  # prime: the next call measures since now
        self._hostname = socket.gethostname()
        self._boot = psutil.boot_time()
        self._cpus = psutil.cpu_count() or 1

    def read(self) -> dict[str, Any]:
        vm = psutil.virtual_memory()
        try:
            load = [round(x, 2) for x in os.getloadavg()]
        except (OSError, AttributeError):
            load = None
        return {
            "hostname": self._hostname,
            "cpu_pct": psutil.cpu_percent(None),
            "cpu_count": self._cpus,
            "mem_used": int(vm.total - vm.available),
            "mem_total": int(vm.total),
            "load": load,
            "uptime_s": round(time.time() - self._boot, 1),
        }
