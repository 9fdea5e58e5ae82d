"""Metric parsers on LLaMA-Factory's real files, incrementally and whole (property tests)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftmllm_tui.core.follow.metrics import (Series, TrainerLog, ema, hms_seconds, load_metrics, load_results,
                                     load_trainer_state, parse_console)

DATA = Path(__file__).parents[2] / "data"
RUN = DATA / "lf_run"


def series(m, name):
    s = m.get(name)
    return None if s is None else s.as_lists()


def test_real_trainer_log(tmp_path):
    t = TrainerLog(RUN / "trainer_log.jsonl")
    assert t.poll() is True
    m = t.metrics
    assert {"loss", "eval_loss", "lr"} <= set(m.names())
    x, y = series(m, "loss")
    assert x == list(range(1, 55)) and abs(y[0] - 5.690714359283447) < 1e-12
    ex, ey = series(m, "eval_loss")
    assert ex == [10, 20, 30, 40, 50, 54]
    p = m.progress
    assert (p.step, p.total, p.percentage, p.elapsed, p.remaining) == (54, 54, 100.0, "0:00:20", "0:00:00")
    assert t.poll() is False  # nothing new


def test_trainer_state_agrees_with_trainer_log():
    a = TrainerLog(RUN / "trainer_log.jsonl")
    a.poll()
    b = load_trainer_state(RUN / "trainer_state.json")
    assert series(a.metrics, "loss") == series(b, "loss")
    assert series(a.metrics, "lr") == series(b, "lr")  # learning_rate normalised to lr
    assert "grad_norm" in b.names()


def test_console_dicts_as_a_last_resort():
    with open(DATA / "console_tiny_lora_sft.log", encoding="utf-8", errors="replace") as f:
        m = parse_console(f)
    assert m.approximate_steps
    x, y = series(m, "loss")
    assert len(x) == 54  # each step printed twice (two loggers), counted once
    ref = TrainerLog(RUN / "trainer_log.jsonl")
    ref.poll()
    assert [round(v, 3) for v in y] == [round(v, 3) for v in series(ref.metrics, "loss")[1]]


def test_pinned_and_new_versions_with_throughput():
    for name in ("trainer_log.pinned_tf4.49.sample.jsonl", "trainer_log.v0.9.5_tf5.6.sample.jsonl"):
        t = TrainerLog(DATA / name)
        t.poll()
        assert t.metrics.get("loss") is not None
        assert t.metrics.progress.throughput and t.metrics.progress.throughput > 1000
        assert "throughput" not in t.metrics.names()  # progress, not a series


def test_results_files():
    r = load_results(RUN)
    assert r["eval_loss"] == pytest.approx(5.616951942443848) and r["train_runtime"] == 20.1289
    p = DATA / "predict_results.v0.9.5.sample.json"
    d = p.parent / "pred"
    d.mkdir(exist_ok=True)
    shutil.copy(p, d / "predict_results.json")
    try:
        assert load_results(d)["predict_bleu-4"] == pytest.approx(1.1664625)
    finally:
        shutil.rmtree(d)


def test_resumed_run_last_value_wins(tmp_path):
    p = tmp_path / "trainer_log.jsonl"
    first = [{"current_steps": s, "total_steps": 10, "loss": 9.0 - s} for s in range(1, 7)]
    resumed = [{"current_steps": s, "total_steps": 10, "loss": 100.0 + s} for s in range(4, 11)]
    p.write_text("".join(json.dumps(r) + "\n" for r in first + resumed))
    t = TrainerLog(p)
    t.poll()
    x, y = series(t.metrics, "loss")
    assert x == list(range(1, 11))
    assert y[:3] == [8.0, 7.0, 6.0] and y[3:] == [100.0 + s for s in range(4, 11)]


def test_eval_only_run_has_progress_without_loss(tmp_path):
    p = tmp_path / "trainer_log.jsonl"
    p.write_text("".join(json.dumps({"current_steps": s, "total_steps": 5, "percentage": s * 20.0,
                                     "elapsed_time": "0:00:01", "remaining_time": "0:00:04"}) + "\n"
                         for s in range(1, 4)))
    m = load_metrics(tmp_path)
    assert m.get("loss") is None and m.progress.step == 3 and m.progress.percentage == 60.0


def test_unknown_numeric_keys_become_series(tmp_path):
    p = tmp_path / "trainer_log.jsonl"
    p.write_text(json.dumps({"current_steps": 1, "loss": 1.0, "reward/chosen": 0.5, "note": "x",
                             "flag": True}) + "\n")
    t = TrainerLog(p)
    t.poll()
    assert "reward/chosen" in t.metrics.names() and "note" not in t.metrics.names()
    assert "flag" not in t.metrics.names()  # booleans are not numbers here


def test_half_line_truncation_and_replacement(tmp_path):
    p = tmp_path / "trainer_log.jsonl"
    line = json.dumps({"current_steps": 1, "loss": 2.0})
    p.write_text(line[:10])
    t = TrainerLog(p)
    assert t.poll() is False and t.metrics.get("loss") is None
    with open(p, "a") as f:
        f.write(line[10:] + "\n")
    assert t.poll() is True and series(t.metrics, "loss") == ([1.0], [2.0])
    p.write_text(json.dumps({"current_steps": 1, "loss": 7.0}) + "\n")  # truncated and rewritten
    assert t.poll() is True and series(t.metrics, "loss") == ([1.0], [7.0])
    p.unlink()
    p2 = tmp_path / "new"
    p2.write_text(json.dumps({"current_steps": 5, "loss": 1.5}) + "\n" * 3)
    p2.rename(p)  # a new file at the same path (another inode)
    assert t.poll() is True and series(t.metrics, "loss") == ([5.0], [1.5])
    with open(p, "ab") as f:
        f.write(b"{not json}\n\xff\xfe\n")
    t.poll()
    assert t.bad_lines == 2 and series(t.metrics, "loss") == ([5.0], [1.5])


records = st.lists(st.fixed_dictionaries(
    {"current_steps": st.integers(1, 40)},
    optional={"loss": st.floats(0, 10), "eval_loss": st.floats(0, 10), "lr": st.floats(0, 1),
              "total_steps": st.just(40), "epoch": st.floats(0, 3),
              # not one of LLaMA-Factory's own keys: polls holding it take the generic path
              "grad_norm": st.floats(0, 5)}), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records, st.lists(st.integers(0, 4000), max_size=12))
def test_any_split_gives_the_same_series_as_reading_whole(tmp_path, recs, cuts):
    data = "".join(json.dumps(r) + "\n" for r in recs).encode()
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(data)
    ref = TrainerLog(whole)
    ref.poll()
    inc = tmp_path / "inc.jsonl"
    inc.write_bytes(b"")
    t = TrainerLog(inc)
    pos = 0
    for c in sorted(set(min(c, len(data)) for c in cuts)) + [len(data)]:
        with open(inc, "ab") as f:
            f.write(data[pos:c])
        pos = c
        t.poll()
    assert {n: series(t.metrics, n) for n in t.metrics.names()} == \
        {n: series(ref.metrics, n) for n in ref.metrics.names()}
    # and "last wins" per step, like a dict built in file order
    want: dict[int, float] = {}
    for r in recs:
        if "loss" in r:
            want[r["current_steps"]] = r["loss"]
    got = series(ref.metrics, "loss") or ([], [])
    assert dict(zip(got[0], got[1])) == {float(k): v for k, v in want.items()}
    want_gn = {}
    for r in recs:
        if "grad_norm" in r:
            want_gn[float(r["current_steps"])] = r["grad_norm"]
    gn = series(ref.metrics, "grad_norm") or ([], [])
    assert dict(zip(gn[0], gn[1])) == want_gn
    inc.unlink()
    whole.unlink()


def test_series_insert_out_of_order():
    s = Series("x")
    for step, v in [(1, 1.0), (3, 3.0), (2, 2.0), (3, 30.0)]:
        s.add(step, v)
    assert s.as_lists() == ([1.0, 2.0, 3.0], [1.0, 2.0, 30.0])


def test_ema_and_times():
    assert ema([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased: no ramp from 0
    sm = ema([0.0, 10.0], 0.5)
    assert sm[0] == 0.0 and 0 < sm[1] < 10
    with pytest.raises(ValueError):
        ema([1.0], 1.0)
    assert hms_seconds("1:02:03") == 3723 and hms_seconds("2 days, 1:00:00") == 176400
    assert hms_seconds(None) is None and hms_seconds("soon") is None
