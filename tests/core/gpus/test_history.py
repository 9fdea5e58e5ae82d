"""History rings: 60 minutes of one-second buckets, windows independent of the refresh rate."""

from __future__ import annotations

from ftmllm_tui.core.gpus.history import CAPACITY_S, GpuHistory, Ring


def test_window_columns_hold_the_peak():
    r = Ring()
    t0 = 10_000
    for i in range(60):
        r.add(t0 + i, 90.0 if i == 17 else 10.0)
    cols = r.window(t0 + 59, 60, 6)  # 10 s per column
    assert cols == [10.0, 90.0, 10.0, 10.0, 10.0, 10.0]


def test_same_picture_at_any_refresh_rate():
    fast, slow = Ring(), Ring()
    t0 = 50_000
    for k in range(600):  # 5 minutes at 0.5 s
        t = t0 + k * 0.5
        v = 100.0 if 100 <= t - t0 < 130 else 20.0
        fast.add(t, v)
        if k % 4 == 0:  # every 2 s
            slow.add(t, v)
    assert fast.window(t0 + 299, 300, 10) == slow.window(t0 + 299, 300, 10)


def test_gaps_are_none_and_capacity_is_an_hour():
    r = Ring()
    r.add(1000, 5.0)
    assert 5.0 in r.window(1000 + CAPACITY_S - 120, CAPACITY_S, 60)  # still held 58 min later
    assert r.window(1000 + CAPACITY_S + 60, 60, 4) == [None, None, None, None]
    assert r.window(1000, 300, 5)[-1] == 5.0


def test_finished_columns_are_stable_so_sparklines_move_rarely():
    r = Ring()
    for i in range(120):
        r.add(20_000 + i, float(i % 7))
    a = r.window(20_000 + 100, 300, 10)  # 30 s per column
    r.add(20_000 + 101, 99.0)
    b = r.window(20_000 + 101, 300, 10)
    assert a[:-1] == b[:-1] and b[-1] == 99.0


def test_gpu_history_from_snapshots(replay, clock):
    h = GpuHistory()
    for _ in range(5):
        h.record(replay.sample())
        clock.tick()
    assert set(h.util) == {0, 1}
    vals = h.util[0].window(clock.t - 1, 60, 60)
    assert sum(v is not None for v in vals) == 5
    assert 0 < h.mem[0].window(clock.t - 1, 60, 1)[0] < 100
