"""Live NVML reader: produces raw sweeps (see :mod:`.sweep`) at the lowest cost NVML allows.

Costs measured on 2×H200 (DESIGN.md §4) decide the cadence:

* fast fields, every refresh (2–30 µs each): memory, utilisation, temperature, power, clocks,
  performance state, throttle reasons, running processes (~0.24 ms);
* per-process SM% (~2 ms per GPU) only on GPUs that have processes;
* slow fields (name, UUID, bus id, power limit, persistence, compute mode, ECC, MIG mode ~0.3 ms,
  fan ~0.4 ms and NotSupported on H200) at start and then every ``slow_every_s`` (30 s);
* PCIe / NVLink throughput (~20 ms per call: it samples) never.

One device's errors never break the others; a field NVML refuses is stored as
``{"error": "NVMLError_NotSupported: Not Supported"}`` exactly as recordings hold it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SLOW_EVERY_S = 30.0
PROC_UTIL_EVERY_S = 2.0  # per-process SM% costs ~2 ms of CPU per GPU (measured, H200)
_FIELD_ERRORS_THAT_STICK = ("NVMLError_NotSupported", "NVMLError_FunctionNotFound")


class NvmlUnavailable(RuntimeError):
    """NVML cannot be used on this machine (no driver, no library, no permission)."""


def _err(e: BaseException) -> dict[str, str]:
    return {"error": f"{type(e).__name__}: {e}"}


def _text(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


class NvmlReader:
    """Owns the NVML session: ``nvmlInit`` once, handles cached, slow fields cached."""

    def __init__(self, nvml: Any = None, *, slow_every_s: float = SLOW_EVERY_S,
                 proc_util_every_s: float = PROC_UTIL_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        if nvml is None:
            try:
                import pynvml as nvml  # nvidia-ml-py
            except ImportError as e:  # pragma: no cover - a dependency of the package
                raise NvmlUnavailable(f"the nvidia-ml-py package is missing ({e})") from e
        self.nv = nvml
        self._clock = clock
        self.slow_every_s = slow_every_s
        self.proc_util_every_s = proc_util_every_s
        try:
            t0 = time.perf_counter()
            nvml.nvmlInit()
            self.init_ms = (time.perf_counter() - t0) * 1000
        except Exception as e:  # NVMLError_LibraryNotFound, DriverNotLoaded, NoPermission...
            raise NvmlUnavailable(_describe_init_error(e)) from e
        self._open = True
        try:
            self.count = int(nvml.nvmlDeviceGetCount())
        except Exception as e:
            self.close()
            raise NvmlUnavailable(f"NVML could not count the GPUs: {type(e).__name__}: {e}") from e
        self.driver_version = self._safe(lambda: _text(nvml.nvmlSystemGetDriverVersion()))
        self.nvml_version = self._safe(lambda: _text(nvml.nvmlSystemGetNVMLVersion()))
        self.cuda_driver = self._safe(lambda: int(nvml.nvmlSystemGetCudaDriverVersion()))
        self._handles: list[Any] = [None] * self.count
        self._handle_err: list[str | None] = [None] * self.count
        self._slow: list[dict[str, Any]] = [{} for _ in range(self.count)]
        self._slow_at: list[float] = [float("-inf")] * self.count
        self._mig_handles: list[list[Any]] = [[] for _ in range(self.count)]
        self._util_ts: list[int] = [0] * self.count
        self._util_last: list[dict[int, dict[str, int]]] = [{} for _ in range(self.count)]
        self._util_at: list[float] = [float("-inf")] * self.count
        self._util_pids: list[set[int]] = [set() for _ in range(self.count)]
        self._variant: dict[str, Callable[..., Any] | None] = {}
        self._variant_idx: dict[str, int] = {}

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _safe(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception:
            return None

    def meta(self) -> dict[str, Any]:
        return {
            "driver": self.driver_version,
            "nvml": self.nvml_version,
            "cuda_driver": self.cuda_driver,
            "init_us": round(self.init_ms * 1000, 1),
        }

    def close(self) -> None:
        if getattr(self, "_open", False):
            self._open = False
            try:
                self.nv.nvmlShutdown()
            except Exception:
                pass

    def _handle(self, i: int) -> Any:
        if self._handles[i] is None:
            self._handles[i] = self.nv.nvmlDeviceGetHandleByIndex(i)
        return self._handles[i]

    def _first_variant(self, key: str, names: tuple[str, ...]) -> Callable[..., Any] | None:
        """The first of ``names`` that this pynvml provides."""
        if key not in self._variant:
            self._variant[key] = next(
                (getattr(self.nv, n) for n in names if getattr(self.nv, n, None) is not None), None)
        return self._variant[key]

    def _procs(self, h: Any, kind: str) -> list[dict[str, Any]]:
        """Running processes, newest struct first: v3 -> v2 -> v1 (older drivers lack v3)."""
        base = f"nvmlDeviceGet{kind}RunningProcesses"
        names = (f"{base}_v3", f"{base}_v2", base)
        for k in range(self._variant_idx.get(kind, 0), len(names)):
            fn = getattr(self.nv, names[k], None)
            if fn is None:
                continue
            try:
                procs = fn(h)
            except self.nv.NVMLError as e:
                if "FunctionNotFound" in type(e).__name__:
                    continue
                raise
            self._variant_idx[kind] = k
            break
        else:
            raise self.nv.NVMLError(self.nv.NVML_ERROR_FUNCTION_NOT_FOUND)
        out = []
        for p in procs:
            out.append({
                "pid": int(p.pid),
                "usedGpuMemory": None if p.usedGpuMemory is None else int(p.usedGpuMemory),
                "gpuInstanceId": int(getattr(p, "gpuInstanceId", 0xFFFFFFFF)),
                "computeInstanceId": int(getattr(p, "computeInstanceId", 0xFFFFFFFF)),
            })
        return out

    # -- reading ---------------------------------------------------------------------------------
    def _read_slow(self, i: int, h: Any) -> dict[str, Any]:
        nv = self.nv
        prev = self._slow[i]
        d: dict[str, Any] = {}

        def field(key: str, fn: Callable[[], Any]) -> None:
            old = prev.get(key)
            if isinstance(old, dict) and str(old.get("error", "")).startswith(_FIELD_ERRORS_THAT_STICK):
                d[key] = old  # NotSupported does not change: do not pay for it again
                return
            try:
                d[key] = fn()
            except Exception as e:
                d[key] = _err(e)

        field("name", lambda: _text(nv.nvmlDeviceGetName(h)))
        field("uuid", lambda: _text(nv.nvmlDeviceGetUUID(h)))
        field("pci_bus_id", lambda: _text(nv.nvmlDeviceGetPciInfo(h).busId))
        field("power_limit_mw", lambda: int(nv.nvmlDeviceGetEnforcedPowerLimit(h)))
        field("persistence", lambda: int(nv.nvmlDeviceGetPersistenceMode(h)))
        field("compute_mode", lambda: int(nv.nvmlDeviceGetComputeMode(h)))
        field("mig_mode", lambda: [int(x) for x in nv.nvmlDeviceGetMigMode(h)])
        field("ecc_uncorrected_volatile", lambda: int(nv.nvmlDeviceGetTotalEccErrors(
            h, nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nv.NVML_VOLATILE_ECC)))
        field("fan", lambda: int(nv.nvmlDeviceGetFanSpeed(h)))

        mig = d.get("mig_mode")
        handles: list[Any] = []
        if isinstance(mig, list) and mig and mig[0] == 1:
            try:
                for j in range(int(nv.nvmlDeviceGetMaxMigDeviceCount(h))):
                    try:
                        handles.append((j, nv.nvmlDeviceGetMigDeviceHandleByIndex(h, j)))
                    except nv.NVMLError:
                        continue  # empty slot
            except Exception:
                handles = []
        self._mig_handles[i] = handles
        return d

    def _read_mig(self, i: int) -> list[dict[str, Any]]:
        nv = self.nv
        out = []
        for j, mh in self._mig_handles[i]:
            m: dict[str, Any] = {"index": j}
            for key, fn in (
                ("uuid", lambda: _text(nv.nvmlDeviceGetUUID(mh))),
                ("memory", lambda: _mem(nv.nvmlDeviceGetMemoryInfo(mh))),
                ("gpu_instance_id", lambda: int(nv.nvmlDeviceGetGpuInstanceId(mh))),
                ("compute_instance_id", lambda: int(nv.nvmlDeviceGetComputeInstanceId(mh))),
            ):
                try:
                    m[key] = fn()
                except Exception as e:
                    m[key] = _err(e)
            out.append(m)
        return out

    def read_device(self, i: int) -> dict[str, Any]:
        nv = self.nv
        try:
            h = self._handle(i)
        except Exception as e:
            return {"index": i, "error": f"{type(e).__name__}: {e}"}
        now = self._clock()
        if now - self._slow_at[i] >= self.slow_every_s:
            self._slow[i] = self._read_slow(i, h)
            self._slow_at[i] = now
        d: dict[str, Any] = {"index": i}
        d.update(self._slow[i])
        lost: list[BaseException] = []

        def field(key: str, fn: Callable[[], Any]) -> None:
            if lost:
                return
            try:
                d[key] = fn()
            except Exception as e:
                d[key] = _err(e)
                if "GpuIsLost" in type(e).__name__:
                    lost.append(e)

        def memory_v2() -> dict[str, int]:
            m = nv.nvmlDeviceGetMemoryInfo(h, version=nv.nvmlMemory_v2)
            return {"total": int(m.total), "used": int(m.used), "free": int(m.free),
                    "reserved": int(m.reserved)}

        field("memory_v2", memory_v2)
        if isinstance(d.get("memory_v2"), dict) and "error" in d["memory_v2"] and not lost:
            field("memory", lambda: _mem(nv.nvmlDeviceGetMemoryInfo(h)))
        field("utilization", lambda: _util(nv.nvmlDeviceGetUtilizationRates(h)))
        field("temperature", lambda: int(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)))
        field("power_mw", lambda: int(nv.nvmlDeviceGetPowerUsage(h)))
        field("sm_clock", lambda: int(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)))
        field("mem_clock", lambda: int(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)))
        field("pstate", lambda: int(nv.nvmlDeviceGetPerformanceState(h)))
        reasons = self._first_variant("reasons", ("nvmlDeviceGetCurrentClocksEventReasons",
                                                  "nvmlDeviceGetCurrentClocksThrottleReasons"))
        if reasons is not None:
            field("throttle_reasons", lambda: int(reasons(h)))
        field("compute_procs", lambda: self._procs(h, "Compute"))
        field("graphics_procs", lambda: self._procs(h, "Graphics"))
        if self._mig_handles[i] and not lost:
            d["mig_devices"] = self._read_mig(i)
        pids = {p["pid"] for k in ("compute_procs", "graphics_procs") if isinstance(d.get(k), list)
                for p in d[k]}
        if pids and not lost:
            if now - self._util_at[i] >= self.proc_util_every_s or not pids <= self._util_pids[i]:
                self._util_at[i] = now  # due, or a new process appeared: read now
                self._util_pids[i] = pids
                field("proc_util", lambda: self._proc_util(i, h, pids))
            else:  # between two reads of per-process SM%, show the last one
                last = self._util_last[i]
                d["proc_util"] = [last[p] for p in sorted(last) if p in pids]
        else:
            self._util_last[i].clear()
        if lost:
            self._handles[i] = None  # ask for a fresh handle next time
            self._slow_at[i] = float("-inf")
            d["error"] = f"{type(lost[0]).__name__}: {lost[0]}"
        return d

    def _proc_util(self, i: int, h: Any, pids: set[int]) -> list[dict[str, int]]:
        """Latest SM% sample per process. NVML only returns samples newer than the timestamp we
        pass; between two close refreshes there may be none, so the last one seen is kept."""
        nv = self.nv
        last = self._util_last[i]
        try:
            samples = nv.nvmlDeviceGetProcessUtilization(h, self._util_ts[i])
        except nv.NVMLError as e:
            if "NotFound" not in type(e).__name__:  # NotFound: no new sample since last time
                raise
            samples = []
        for s in samples:
            pid, ts = int(s.pid), int(s.timeStamp)
            if pid not in last or ts >= last[pid]["ts"]:
                last[pid] = {"pid": pid, "sm": int(s.smUtil), "mem": int(s.memUtil), "ts": ts}
            self._util_ts[i] = max(self._util_ts[i], ts)
        for pid in list(last):
            if pid not in pids:
                del last[pid]
        return [last[p] for p in sorted(last)]

    def read(self) -> dict[str, Any]:
        """One sweep of every GPU (no host data: see :class:`~.samplers.LiveSampler`)."""
        t0 = time.perf_counter()
        devices = [self.read_device(i) for i in range(self.count)]
        return {"t": time.time(), "count": self.count, "devices": devices,
                "nvml_ms": round((time.perf_counter() - t0) * 1000, 3)}


def _mem(m: Any) -> dict[str, int]:
    return {"total": int(m.total), "used": int(m.used), "free": int(m.free)}


def _util(u: Any) -> dict[str, int]:
    return {"gpu": int(u.gpu), "memory": int(u.memory)}


def _describe_init_error(e: BaseException) -> str:
    name = type(e).__name__
    if "LibraryNotFound" in name or isinstance(e, OSError):
        return "no NVIDIA driver found (libnvidia-ml.so is not installed)"
    if "DriverNotLoaded" in name:
        return "the NVIDIA driver is not loaded"
    if "NoPermission" in name:
        return "no permission to use NVML (are you in the video group?)"
    return f"NVML failed to start: {name}: {e}"
