"""A stand-in for the ``pynvml`` module that answers from a real recording.

There is no GPU on CI machines, so the live reader (:class:`ftmllm_tui.core.gpus.nvml.NvmlReader`) is
exercised against recorded real H200 readings: every value it returns and every error it raises
(real ``pynvml.NVMLError_*`` classes) comes from a sweep of the recording. Fault injection
(lost GPU, missing v3 entry points, init failure) is explicit, per test.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import pynvml

_ERRORS = {name: getattr(pynvml, name) for name in dir(pynvml) if name.startswith("NVMLError_")}


def _raise(recorded: dict) -> None:
    name = str(recorded["error"]).split(":", 1)[0]
    cls = _ERRORS.get(name)
    if cls is None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)
    raise cls()


class FakeNvml:
    """Implements the part of pynvml that the reader uses; ``advance()`` moves to the next sweep."""

    NVMLError = pynvml.NVMLError
    NVML_ERROR_FUNCTION_NOT_FOUND = pynvml.NVML_ERROR_FUNCTION_NOT_FOUND
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    NVML_CLOCK_SM = pynvml.NVML_CLOCK_SM
    NVML_CLOCK_MEM = pynvml.NVML_CLOCK_MEM
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED
    NVML_VOLATILE_ECC = pynvml.NVML_VOLATILE_ECC
    nvmlMemory_v2 = pynvml.nvmlMemory_v2

    def __init__(self, sweeps: list[dict], meta: dict | None = None, *, init_error: str | None = None,
                 no_v3: bool = False, lost: set[int] | None = None):
        self.sweeps = sweeps
        self.meta = meta or {}
        self.i = 0
        self.calls: Counter[str] = Counter()
        self.init_error = init_error
        self.no_v3 = no_v3  # an older driver: the _v3 entry points are missing
        self.lost = lost or set()  # device indices that answer GpuIsLost
        self.extra_procs: dict[int, list[dict]] = {}  # gpu index -> more compute processes
        if no_v3:
            # older pynvml builds expose no _v3 names at all
            self.nvmlDeviceGetComputeRunningProcesses_v3 = self._missing
            self.nvmlDeviceGetGraphicsRunningProcesses_v3 = self._missing

    # -- plumbing ---------------------------------------------------------------------------------
    def advance(self) -> None:
        self.i = (self.i + 1) % len(self.sweeps)

    def _dev(self, h: int) -> dict:
        return self.sweeps[self.i]["devices"][h]

    def _field(self, h: int, key: str, fn: str) -> Any:
        self.calls[fn] += 1
        if h in self.lost:
            raise pynvml.NVMLError_GpuIsLost()
        v = self._dev(h).get(key)
        if v is None:
            raise pynvml.NVMLError_NotSupported()
        if isinstance(v, dict) and "error" in v:
            _raise(v)
        return v

    def _missing(self, *a: Any) -> Any:
        raise pynvml.NVMLError_FunctionNotFound()

    # -- system -----------------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] += 1
        if self.init_error:
            raise _ERRORS[self.init_error]()

    def nvmlShutdown(self) -> None:
        self.calls["nvmlShutdown"] += 1

    def nvmlDeviceGetCount(self) -> int:
        return int(self.sweeps[self.i]["count"])

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.meta.get("driver", "580.159.04")

    def nvmlSystemGetNVMLVersion(self) -> str:
        return self.meta.get("nvml", "13.580.159.04")

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return int(self.meta.get("cuda_driver", 13000))

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        self.calls["handle"] += 1
        if i >= self.nvmlDeviceGetCount():
            raise pynvml.NVMLError_InvalidArgument()
        return i

    # -- slow fields ------------------------------------------------------------------------------
    def nvmlDeviceGetName(self, h):
        return self._field(h, "name", "name")

    def nvmlDeviceGetUUID(self, h):
        return self._field(h, "uuid", "uuid")

    def nvmlDeviceGetPciInfo(self, h):
        return SimpleNamespace(busId=self._field(h, "pci_bus_id", "pci"))

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return self._field(h, "power_limit_mw", "power_limit")

    def nvmlDeviceGetPersistenceMode(self, h):
        return self._field(h, "persistence", "persistence")

    def nvmlDeviceGetComputeMode(self, h):
        return self._field(h, "compute_mode", "compute_mode")

    def nvmlDeviceGetMigMode(self, h):
        return self._field(h, "mig_mode", "mig_mode")

    def nvmlDeviceGetTotalEccErrors(self, h, kind, counter):
        return self._field(h, "ecc_uncorrected_volatile", "ecc")

    def nvmlDeviceGetFanSpeed(self, h):
        return self._field(h, "fan", "fan")

    # -- fast fields ------------------------------------------------------------------------------
    def nvmlDeviceGetMemoryInfo(self, h, version=None):
        if version:
            m = self._field(h, "memory_v2", "memory_v2")
            return SimpleNamespace(**m)
        return SimpleNamespace(**self._field(h, "memory", "memory"))

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(**self._field(h, "utilization", "utilization"))

    def nvmlDeviceGetTemperature(self, h, sensor):
        return self._field(h, "temperature", "temperature")

    def nvmlDeviceGetPowerUsage(self, h):
        return self._field(h, "power_mw", "power")

    def nvmlDeviceGetClockInfo(self, h, clk):
        return self._field(h, "sm_clock" if clk == pynvml.NVML_CLOCK_SM else "mem_clock", "clock")

    def nvmlDeviceGetPerformanceState(self, h):
        return self._field(h, "pstate", "pstate")

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        return self._field(h, "throttle_reasons", "throttle")

    def _procs(self, h: int, key: str, fn: str) -> list:
        procs = list(self._field(h, key, fn))
        if key == "compute_procs":
            procs += self.extra_procs.get(h, [])
        return [SimpleNamespace(**p) for p in procs]

    def nvmlDeviceGetComputeRunningProcesses_v3(self, h):
        return self._procs(h, "compute_procs", "compute_v3")

    def nvmlDeviceGetComputeRunningProcesses_v2(self, h):
        return self._procs(h, "compute_procs", "compute_v2")

    nvmlDeviceGetComputeRunningProcesses = nvmlDeviceGetComputeRunningProcesses_v3

    def nvmlDeviceGetGraphicsRunningProcesses_v3(self, h):
        return self._procs(h, "graphics_procs", "graphics_v3")

    def nvmlDeviceGetGraphicsRunningProcesses_v2(self, h):
        return self._procs(h, "graphics_procs", "graphics_v2")

    nvmlDeviceGetGraphicsRunningProcesses = nvmlDeviceGetGraphicsRunningProcesses_v3

    def nvmlDeviceGetProcessUtilization(self, h, ts):
        samples = self._field(h, "proc_util", "proc_util")
        new = [s for s in samples if s["ts"] > ts]
        if not new:
            raise pynvml.NVMLError_NotFound()
        return [SimpleNamespace(pid=s["pid"], smUtil=s["sm"], memUtil=s["mem"], timeStamp=s["ts"],
                                encUtil=0, decUtil=0) for s in new]

    # -- never on the refresh path ----------------------------------------------------------------
    def nvmlDeviceGetPcieThroughput(self, h, counter):  # ~20 ms per call on H200
        raise AssertionError("PCIe throughput must never be read on the refresh path")

    def nvmlDeviceGetNvLinkUtilizationCounter(self, *a):
        raise AssertionError("NVLink counters must never be read on the refresh path")
