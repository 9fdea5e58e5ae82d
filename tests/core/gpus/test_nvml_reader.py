"""The live NVML reader, driven by recorded real H200 answers (no GPU on CI; see fakenvml.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fakenvml import FakeNvml
from ftmllm_tui.core.gpus.nvml import NvmlReader, NvmlUnavailable
from ftmllm_tui.core.gpus.samplers import LiveSampler
from ftmllm_tui.core.gpus.sweep import build_snapshot

LIVE_FIELDS = ("memory_v2", "utilization", "temperature", "power_mw", "sm_clock", "mem_clock",
               "pstate", "throttle_reasons", "compute_procs", "graphics_procs", "name", "uuid",
               "pci_bus_id", "power_limit_mw", "persistence", "compute_mode", "mig_mode",
               "ecc_uncorrected_volatile", "fan")


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_reader_reproduces_the_recorded_sweep(sweeps):
    nv = FakeNvml(sweeps)
    reader = NvmlReader(nv, clock=Clock())
    raw = reader.read()
    assert raw["count"] == 2
    for got, want in zip(raw["devices"], sweeps[0]["devices"]):
        for key in LIVE_FIELDS:
            assert got[key] == want[key], key
    # and the parsed snapshot equals the replayed one, field for field
    live = build_snapshot(dict(raw, host_procs=sweeps[0]["host_procs"]), source="nvml", me="root", now=0)
    rep = build_snapshot(sweeps[0], source="nvml", me="root", now=0)
    assert live.gpus == rep.gpus
    assert live.processes == rep.processes


def test_slow_fields_are_cached_for_30s_and_notsupported_is_not_asked_again(sweeps):
    nv, clock = FakeNvml(sweeps), Clock()
    reader = NvmlReader(nv, clock=clock)
    for _ in range(5):
        reader.read()
        nv.advance()
        clock.t += 1
    assert nv.calls["name"] == 2  # once per GPU
    assert nv.calls["mig_mode"] == 2
    assert nv.calls["temperature"] == 10  # fast: every refresh
    clock.t += 30
    reader.read()
    assert nv.calls["name"] == 4 and nv.calls["mig_mode"] == 4
    assert nv.calls["fan"] == 2  # NotSupported on H200: asked once, never again


def test_pcie_is_never_on_the_refresh_path(sweeps):
    # FakeNvml raises AssertionError if PCIe/NVLink throughput is read; a sweep must not do it
    raw = NvmlReader(FakeNvml(sweeps), clock=Clock()).read()
    assert all("pcie_tx_kbs" not in d for d in raw["devices"])


def test_per_process_utilisation_skipped_on_gpus_without_processes(sweeps):
    sweep = {k: v for k, v in sweeps[0].items()}
    dev1 = dict(sweep["devices"][1], compute_procs=[], graphics_procs=[])
    sweep["devices"] = [sweep["devices"][0], dev1]
    nv = FakeNvml([sweep])
    raw = NvmlReader(nv, clock=Clock()).read()
    assert nv.calls["proc_util"] == 1  # GPU 0 only
    assert "proc_util" not in raw["devices"][1]


def test_lost_gpu_does_not_break_the_others(sweeps):
    nv = FakeNvml(sweeps, lost={1})
    reader = NvmlReader(nv, clock=Clock())
    raw = reader.read()
    assert "error" not in raw["devices"][0] and raw["devices"][0]["utilization"]["gpu"] == 100
    assert raw["devices"][1]["error"].startswith("NVMLError_GpuIsLost")
    snap = build_snapshot(dict(raw, host_procs={}), source="nvml", me="root", now=0)
    assert snap.gpus[0].error is None and snap.gpus[1].error.startswith("NVMLError_GpuIsLost")
    # the GPU comes back: a fresh handle is asked for and it reads again
    nv.lost.clear()
    handles = nv.calls["handle"]
    raw = reader.read()
    assert nv.calls["handle"] == handles + 1
    assert "error" not in raw["devices"][1]


def test_older_driver_without_v3_falls_back_to_v2(sweeps):
    nv = FakeNvml(sweeps, no_v3=True)
    reader = NvmlReader(nv, clock=Clock())
    raw = reader.read()
    assert [p["pid"] for p in raw["devices"][0]["compute_procs"]] == [586, 662]
    assert nv.calls["compute_v2"] == 2
    reader.read()  # the choice is remembered: v3 is not tried again
    assert nv.calls["compute_v2"] == 4


@pytest.mark.parametrize("error,words", [
    ("NVMLError_LibraryNotFound", "no NVIDIA driver"),
    ("NVMLError_DriverNotLoaded", "driver is not loaded"),
    ("NVMLError_NoPermission", "permission"),
])
def test_init_failure_is_a_clear_reason(sweeps, error, words):
    with pytest.raises(NvmlUnavailable, match=words):
        NvmlReader(FakeNvml(sweeps, init_error=error))


def test_no_driver_on_this_machine_is_reported_not_raised_raw():
    # CI machines have no NVIDIA driver: the real pynvml must give NvmlUnavailable
    try:
        NvmlReader().close()
    except NvmlUnavailable as e:
        assert "driver" in str(e) or "NVML" in str(e)
    else:  # pragma: no cover - only on a GPU host
        pytest.skip("this machine has an NVIDIA driver")


def test_live_sampler_joins_a_real_process(sweeps):
    """NVML (recorded) reports a PID that is a real child here: psutil must resolve it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             env=dict(os.environ, FTMLLM_RUN_ID="run-42"))
    try:
        nv = FakeNvml(sweeps)
        nv.extra_procs[1] = [{"pid": child.pid, "usedGpuMemory": 123 * 2**20,
                              "gpuInstanceId": 0xFFFFFFFF, "computeInstanceId": 0xFFFFFFFF}]
        sampler = LiveSampler(NvmlReader(nv, clock=Clock()))
        snap = sampler.sample()
        row = next(r for r in snap.processes if r.pid == child.pid)
        assert row.info.resolved and row.mine and row.gpu_index == 1
        assert row.info.run_id == "run-42"
        assert row.info.cmdline[0] == sys.executable
        assert row.gpu.gpu_memory_bytes == 123 * 2**20
        assert snap.host is not None and snap.host.mem_total_bytes > 0
        # the recorded PIDs (586, 662, 663) are not processes of this machine (or are others')
        assert snap.source == "nvml"
    finally:
        child.kill()
        child.wait()


def test_sm_percent_is_kept_when_nvml_has_no_newer_sample(sweeps):
    """Two refreshes close together: NVML answers NotFound for the second; SM% must not vanish."""
    nv = FakeNvml(sweeps)
    reader = NvmlReader(nv, clock=Clock(), proc_util_every_s=0)
    first = reader.read()
    second = reader.read()  # same sweep: no sample newer than the last timestamp
    assert nv.calls["proc_util"] == 4
    assert second["devices"][0]["proc_util"] == first["devices"][0]["proc_util"]
    snap = build_snapshot(dict(second, host_procs=sweeps[0]["host_procs"]), source="nvml", me="root", now=0)
    assert [p.sm_pct for p in snap.gpus[0].processes] == [30, 42]


def test_sm_samples_of_exited_processes_are_dropped(sweeps):
    nv = FakeNvml(sweeps)
    reader = NvmlReader(nv, clock=Clock(), proc_util_every_s=0)
    reader.read()
    sweep = dict(sweeps[1])
    dev0 = dict(sweep["devices"][0])
    dev0["compute_procs"] = [p for p in dev0["compute_procs"] if p["pid"] == 662]
    sweep["devices"] = [dev0, sweep["devices"][1]]
    nv.sweeps = [sweep]
    nv.i = 0
    raw = reader.read()
    assert [u["pid"] for u in raw["devices"][0]["proc_util"]] == [662]


def test_per_process_sm_is_read_every_2s_and_at_once_for_a_new_process(sweeps):
    """~2 ms of CPU per GPU per call on H200: not on every 1 s refresh."""
    nv, clock = FakeNvml(sweeps), Clock()
    reader = NvmlReader(nv, clock=clock)
    raw = reader.read()
    assert nv.calls["proc_util"] == 2
    clock.t += 1
    raw = reader.read()
    assert nv.calls["proc_util"] == 2  # not due yet: last values are shown
    assert [u["sm"] for u in raw["devices"][0]["proc_util"]] == [30, 42]
    nv.extra_procs[1] = [{"pid": 999, "usedGpuMemory": 1, "gpuInstanceId": 0xFFFFFFFF,
                          "computeInstanceId": 0xFFFFFFFF}]
    clock.t += 0.5
    reader.read()
    assert nv.calls["proc_util"] == 3  # a new process on GPU 1: read there now
    clock.t += 2
    reader.read()
    assert nv.calls["proc_util"] == 5
