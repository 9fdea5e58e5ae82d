"""Replay sampler, recordings (bad files included), and record -> replay round trips."""

from __future__ import annotations

import io
import json

import pytest

from fakenvml import FakeNvml
from ftmllm_tui.core.gpus.nvml import NvmlReader
from ftmllm_tui.core.gpus.samplers import (LiveSampler, ReplayError, ReplaySampler, bundled_recording,
                                      load_recording, open_sampler, write_recording)


def test_bundled_recording_is_package_data():
    rec = load_recording(bundled_recording())
    assert rec.meta["driver"] == "580.159.04"
    assert len(rec.sweeps) == 26 and rec.skipped_lines == 0


def test_replay_loops_and_labels_itself(replay, clock):
    first = replay.sample()
    for _ in range(25):
        replay.sample()
    again = replay.sample()
    assert first.gpus == again.gpus
    assert first.is_replay and first.source == "replay"
    assert first.t == clock.t and first.recorded_t == pytest.approx(1796024151.378106)
    assert "REPLAY" in replay.label


def test_replay_of_process_details_comes_from_the_recording(replay):
    snap = replay.sample()
    users = {r.pid: r.user for r in snap.processes}
    assert users == {586: "alice", 662: "root", 663: "root"}


@pytest.mark.parametrize("content,msg", [
    (None, "not found"),
    (b"", "holds no sweeps"),
    (b"not json\n{]\n", "holds no sweeps"),
    (b'{"meta": {}}\n', "holds no sweeps"),
])
def test_bad_recordings_give_a_clear_error(tmp_path, content, msg):
    p = tmp_path / "rec.jsonl"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ReplayError, match=msg):
        load_recording(p)


def test_directory_and_unreadable(tmp_path):
    with pytest.raises(ReplayError, match="directory"):
        load_recording(tmp_path)


def test_half_written_last_line_and_invalid_utf8_are_skipped(tmp_path, sweeps):
    p = tmp_path / "rec.jsonl"
    good = json.dumps(sweeps[0]).encode()
    p.write_bytes(b'{"meta": {"driver": "x"}}\n' + good + b"\n\xff\xfe garbage\n" + good[:200])
    rec = load_recording(p)
    assert len(rec.sweeps) == 1 and rec.skipped_lines == 2 and rec.meta == {"driver": "x"}


def test_record_then_replay_round_trip(tmp_path, sweeps, clock):
    live = LiveSampler(NvmlReader(FakeNvml(sweeps)), me="root", clock=clock)
    buf = io.StringIO()
    n = write_recording(live, buf, seconds=0.3, interval=0.1, app_version="test")
    assert n >= 3
    p = tmp_path / "mine.jsonl"
    p.write_text(buf.getvalue())
    rec = load_recording(p)
    assert rec.meta["recorded_by"] == "ftmllm-tui test" and rec.meta["driver"] == "580.159.04"
    assert all("host" in s and "host_procs" in s and "sweep_ms" in s for s in rec.sweeps)
    replayed = ReplaySampler(p, me="root", clock=clock).sample()
    # GPU readings survive the round trip exactly
    assert replayed.gpus[0].memory_used_bytes == sweeps[0]["devices"][0]["memory_v2"]["used"]
    assert replayed.host is not None and replayed.host.mem_total_bytes > 0


def test_open_sampler_falls_back_to_bundled_replay_without_a_driver():
    opened = open_sampler()
    if opened.sampler.source == "nvml":  # pragma: no cover - GPU host
        pytest.skip("this machine has NVML")
    assert opened.reason and "driver" in opened.reason
    assert opened.sampler.recording.path == bundled_recording()


def test_replays_a_recording_made_by_ftmllm_tui_record_on_a_real_h200_host():
    """tests/data/h200x2_ftmllm_record.jsonl: `ftmllm-tui record` on 2×H200 (bench/gpu_host.sh):
    a 2-rank torchrun job launched with FTMLLM_RUN_ID and another user's process on GPU 0."""
    from pathlib import Path

    rec = load_recording(Path(__file__).parents[2] / "data" / "h200x2_ftmllm_record.jsonl")
    assert rec.meta["recorded_by"].startswith("ftmllm-tui") and len(rec.sweeps) == 20
    snap = ReplaySampler(rec.path, me="root").sample()
    assert [g.name for g in snap.gpus] == ["NVIDIA H200", "NVIDIA H200"]
    assert snap.host is not None and snap.host.cpu_count == 32
    runs = {r.pid: r.info.run_id for r in snap.processes}
    users = {r.pid: r.user for r in snap.processes}
    assert sorted(users.values()) == ["alice", "root", "root"]
    assert {runs[p] for p, u in users.items() if u == "root"} == {"proof-084028"}
    assert all(runs[p] is None for p, u in users.items() if u == "alice")
    # the torchrun workers hold GPU memory on both GPUs, alice's process on GPU 0
    assert {r.gpu_index for r in snap.processes if r.user == "root"} == {0, 1}
