"""Parsing raw sweeps: the real recording, and every malformed shape NVML or a file can give."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ftmllm_tui.core.gpus.sweep import NOT_AVAILABLE, build_snapshot, parse_device

GIB = 1024**3


def test_real_recording_first_sweep(sweeps):
    snap = build_snapshot(sweeps[0], source="replay", me="root", now=0.0)
    g0, g1 = snap.gpus
    assert (g0.index, g0.name, g0.uuid) == (0, "NVIDIA H200", "GPU-698bbe9b-ab4b-1c46-a8df-8130f9f59663")
    # v2 memory excludes the driver's reserve: what nvidia-smi and nvitop show as used
    assert g0.memory_used_bytes == 13323665408
    assert g0.memory_total_bytes == 150754820096
    assert g0.memory_reserved_bytes == 644939776
    assert (g0.utilization_pct, g0.temperature_c, g0.power_w, g0.power_limit_w) == (100, 58, 531.499, 700.0)
    assert g0.fan_pct is None and ("fan", "NVMLError_NotSupported: Not Supported") in g0.field_errors
    assert g0.error is None and g0.persistence is True and g0.mig_enabled is False
    assert [(p.pid, p.sm_pct) for p in g0.processes] == [(586, 30), (662, 42)]
    assert [(p.pid, p.sm_pct) for p in g1.processes] == [(663, 67)]
    rows = {(r.gpu_index, r.pid): r for r in snap.processes}
    alice = rows[(0, 586)]
    assert alice.user == "alice" and not alice.mine
    assert alice.info.cmdline[1] == "/srv/jobs/train_stand_in.py"
    assert alice.gpu.gpu_memory_bytes == 3969908736
    assert rows[(0, 662)].mine and rows[(1, 663)].mine
    assert rows[(0, 662)].info.ppid == 583
    # elapsed in replay is measured at the recording's own time, not today's
    assert abs(alice.elapsed_s - (sweeps[0]["t"] - 1796024125.33)) < 1e-6


def test_every_sweep_parses_with_three_processes(sweeps):
    for s in sweeps:
        snap = build_snapshot(s, source="replay", me="root", now=0.0)
        assert len(snap.processes) == 3
        assert all(g.error is None for g in snap.gpus)


def test_v1_memory_when_v2_refused():
    d = parse_device({"index": 0, "memory_v2": {"error": "NVMLError_FunctionNotFound: Function Not Found"},
                      "memory": {"total": 10, "used": 4, "free": 6}})
    assert (d.memory_used_bytes, d.memory_total_bytes) == (4, 10)
    assert d.field_errors[0][0] == "memory_v2"


def test_lost_gpu_is_an_error_not_an_exception(sweeps):
    sweep = dict(sweeps[0])
    sweep["devices"] = [sweeps[0]["devices"][0], {"index": 1, "error": "NVMLError_GpuIsLost: GPU is lost"}]
    snap = build_snapshot(sweep, source="nvml", me="root", now=1.0)
    assert snap.gpus[0].error is None and snap.gpus[0].utilization_pct == 100
    assert snap.gpus[1].error == "NVMLError_GpuIsLost: GPU is lost"


def test_every_field_refused_marks_the_gpu_unreadable():
    err = {"error": "NVMLError_Unknown: Unknown Error"}
    d = parse_device({"index": 3, "memory_v2": err, "memory": err, "utilization": err, "temperature": err})
    assert d.index == 3 and d.error == "NVMLError_Unknown: Unknown Error"


def test_processes_merge_compute_and_graphics_and_latest_util_sample():
    d = parse_device({
        "index": 0,
        "compute_procs": [{"pid": 7, "usedGpuMemory": 100, "gpuInstanceId": 0xFFFFFFFF,
                           "computeInstanceId": 0xFFFFFFFF}],
        "graphics_procs": [{"pid": 7, "usedGpuMemory": 150}, {"pid": 9, "usedGpuMemory": NOT_AVAILABLE}],
        "proc_util": [{"pid": 7, "sm": 10, "mem": 1, "ts": 5}, {"pid": 7, "sm": 55, "mem": 2, "ts": 9}],
    })
    p7, p9 = d.processes
    assert (p7.kind, p7.gpu_memory_bytes, p7.sm_pct, p7.gpu_instance_id) == ("C+G", 150, 55, None)
    assert (p9.kind, p9.gpu_memory_bytes, p9.sm_pct) == ("G", None, None)


def test_mig_devices_and_instance_ids():
    d = parse_device({
        "index": 0, "mig_mode": [1, 1],
        "compute_procs": [{"pid": 5, "usedGpuMemory": 1, "gpuInstanceId": 1, "computeInstanceId": 0}],
        "mig_devices": [
            {"index": 0, "uuid": "MIG-a", "memory": {"total": 20 * GIB, "used": GIB, "free": 19 * GIB},
             "gpu_instance_id": 1, "compute_instance_id": 0},
            {"index": 1, "error": "NVMLError_NotFound: Not Found"},
        ],
    })
    assert d.mig_enabled is True
    assert d.mig_devices[0].uuid == "MIG-a" and d.mig_devices[0].memory_used_bytes == GIB
    assert d.mig_devices[1].error == "NVMLError_NotFound: Not Found"
    assert d.processes[0].gpu_instance_id == 1 and d.processes[0].compute_instance_id == 0


def test_pid_missing_from_host_procs_is_unresolved(sweeps):
    sweep = dict(sweeps[0], host_procs={})
    snap = build_snapshot(sweep, source="replay", me="root", now=0.0)
    r = snap.processes[0]
    assert not r.info.resolved and r.user == "?" and not r.mine
    assert "PID namespace" in r.info.reason


def test_host_proc_error_is_shown_as_reason(sweeps):
    sweep = dict(sweeps[0], host_procs={"586": {"error": "permission denied reading this process"}})
    snap = build_snapshot(sweep, source="replay", me="root", now=0.0)
    r = next(r for r in snap.processes if r.pid == 586)
    assert r.info.reason == "permission denied reading this process"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=6),
    max_leaves=30,
)
FIELDS = ["index", "name", "uuid", "memory", "memory_v2", "utilization", "temperature", "power_mw",
          "power_limit_mw", "fan", "mig_mode", "compute_procs", "graphics_procs", "proc_util",
          "mig_devices", "persistence", "error", "pstate"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=10) | json_values,
                max_size=4),
       st.dictionaries(st.text(max_size=6), json_values, max_size=4) | json_values)
def test_garbage_never_raises(devices, host_procs):
    snap = build_snapshot({"devices": devices, "host_procs": host_procs, "host": host_procs},
                          source="replay", me="x", now=0.0)
    json.dumps([g.index for g in snap.gpus])  # parsed into plain values
    assert len(snap.gpus) == len(devices)
