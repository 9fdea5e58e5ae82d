"""Immutable snapshots: what one refresh saw on the GPUs, the processes on them and the host.

Everything here is a frozen dataclass built by :mod:`ftmllm_tui.core.gpus.sweep` from a raw sweep
(the JSON-able dict that the NVML sampler produces and that recordings hold), so live sampling
and replay share every line of parsing code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GpuProcess:
    """One process as NVML reports it on one GPU."""

    gpu_index: int
    pid: int
    gpu_memory_bytes: int | None  # None: NVML could not tell (N/A)
    kind: str = "C"  # "C" compute, "G" graphics, "C+G" both
    sm_pct: int | None = None  # per-process SM utilisation, when NVML sampled it
    mem_util_pct: int | None = None
    gpu_instance_id: int | None = None  # MIG only
    compute_instance_id: int | None = None


@dataclass(frozen=True)
class MigDevice:
    """A MIG instance of a physical GPU."""

    index: int
    uuid: str | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class GpuReading:
    """One GPU at one instant. Any field may be None when NVML refused it (e.g. NotSupported)."""

    index: int
    name: str | None = None
    uuid: str | None = None
    bus_id: str | None = None
    utilization_pct: int | None = None
    memory_util_pct: int | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    memory_reserved_bytes: int | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    fan_pct: int | None = None
    sm_clock_mhz: int | None = None
    mem_clock_mhz: int | None = None
    pstate: int | None = None
    throttle_reasons: int | None = None
    persistence: bool | None = None
    ecc_uncorrected: int | None = None
    compute_mode: int | None = None
    mig_enabled: bool | None = None
    mig_devices: tuple[MigDevice, ...] = ()
    processes: tuple[GpuProcess, ...] = ()
    error: str | None = None  # the whole GPU could not be read (lost, no handle)
    field_errors: tuple[tuple[str, str], ...] = ()  # (field, NVML error) for refused fields

    @property
    def memory_fraction(self) -> float | None:
        if self.memory_used_bytes is None or not self.memory_total_bytes:
            return None
        return self.memory_used_bytes / self.memory_total_bytes

    @property
    def short_name(self) -> str:
        name = self.name or "?"
        return name.removeprefix("NVIDIA ").removeprefix("Tesla ")


@dataclass(frozen=True)
class ProcessInfo:
    """Host-side view of a process (psutil live, or a recording's ``host_procs``)."""

    pid: int
    resolved: bool = True
    reason: str | None = None  # why it could not be resolved (other PID namespace, permission)
    user: str | None = None
    ppid: int | None = None
    create_time: float | None = None
    cmdline: tuple[str, ...] = ()
    cpu_pct: float | None = None
    rss_bytes: int | None = None
    status: str | None = None
    run_id: str | None = None
    parent_cmdline: tuple[str, ...] = ()

    @property
    def identity(self) -> tuple[int, float | None]:
        return (self.pid, self.create_time)

    @property
    def command(self) -> str:
        return " ".join(self.cmdline) if self.cmdline else ""


@dataclass(frozen=True)
class ProcessRow:
    """One (GPU, process) pair as the process table shows it. A PID on two GPUs is two rows."""

    gpu_index: int
    gpu: GpuProcess
    info: ProcessInfo
    elapsed_s: float | None
    mine: bool

    @property
    def key(self) -> str:
        return f"{self.gpu_index}:{self.gpu.pid}"

    @property
    def pid(self) -> int:
        return self.gpu.pid

    @property
    def user(self) -> str:
        if not self.info.resolved:
            return "?"
        return self.info.user or "?"


@dataclass(frozen=True)
class HostInfo:
    hostname: str | None = None
    cpu_pct: float | None = None
    cpu_count: int | None = None
    mem_used_bytes: int | None = None
    mem_total_bytes: int | None = None
    load: tuple[float, float, float] | None = None
    uptime_s: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything one refresh saw. ``source`` is ``"nvml"`` or ``"replay"``."""

    t: float
    source: str
    gpus: tuple[GpuReading, ...]
    processes: tuple[ProcessRow, ...]
    host: HostInfo | None
    me: str
    recorded_t: float | None = None  # for replay: when the sweep was recorded
    driver_version: str | None = None
    sweep_ms: float | None = None
    warnings: tuple[str, ...] = field(default=())
    free: tuple[int, ...] = ()  # indices of free GPUs (by the sampler's FreeRule)

    @property
    def is_replay(self) -> bool:
        return self.source == "replay"
