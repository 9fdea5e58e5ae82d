"""Filter, mine-only, sort by every column, and the launcher -> workers tree."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ftmllm_tui.core.gpus.proctable import COLUMN_KEYS, ORPHAN_CMD, ViewOptions, entries
from ftmllm_tui.core.gpus.sweep import build_snapshot


@pytest.fixture
def snap(sweeps):
    return build_snapshot(sweeps[0], source="replay", me="root", now=0.0)


def pids(es):
    return [e.row.pid if e.row else ("L", e.launcher_pid) for e in es]


def test_default_order_is_gpu_then_pid(snap):
    assert pids(entries(snap, ViewOptions())) == [586, 662, 663]


@pytest.mark.parametrize("key", COLUMN_KEYS)
def test_every_column_sorts_both_ways(snap, key):
    a = pids(entries(snap, ViewOptions(sort=key)))
    b = pids(entries(snap, ViewOptions(sort=key, reverse=True)))
    assert sorted(a) == sorted(b) == [586, 662, 663]


def test_numeric_columns_sort_biggest_first(snap):
    assert pids(entries(snap, ViewOptions(sort="sm"))) == [663, 662, 586]  # 67, 42, 30
    assert pids(entries(snap, ViewOptions(sort="sm", reverse=True))) == [586, 662, 663]
    assert pids(entries(snap, ViewOptions(sort="user"))) == [586, 662, 663]  # alice < root


@pytest.mark.parametrize("text,want", [
    ("alice", [586]), ("ALICE", [586]), ("663", [663]), ("train_stand_in -u", [662, 663]),
    ("root 662", [662]), ("nobody", []), ("", [586, 662, 663]),
])
def test_filter(snap, text, want):
    assert pids(entries(snap, ViewOptions(filter=text))) == want


def test_mine_only(snap):
    assert pids(entries(snap, ViewOptions(mine_only=True))) == [662, 663]
    other = replace(snap, me="alice")
    other = build_snapshot({"devices": [], "host_procs": {}}, source="x", me="alice", now=0)
    assert entries(other, ViewOptions(mine_only=True)) == []


def test_tree_groups_torchrun_workers_under_their_launcher(snap):
    es = entries(snap, ViewOptions(tree=True))
    assert pids(es) == [586 if False else ("L", 584), 586, ("L", 583), 662, 663]
    launcher = es[2]
    assert "torchrun" in " ".join(launcher.launcher_cmd)
    assert [m.pid for m in launcher.members] == [662, 663]
    assert [e.branch for e in es[3:]] == ["├─ ", "└─ "]
    assert es[3].depth == 1


def test_tree_with_filter_keeps_the_launcher_of_matching_workers(snap):
    es = entries(snap, ViewOptions(tree=True, filter="663"))
    assert pids(es) == [("L", 583), 663]


def test_orphans_of_init_are_grouped_and_named(sweeps):
    s = dict(sweeps[0])
    hp = {k: dict(v) for k, v in s["host_procs"].items()}
    hp["662"]["ppid"] = hp["663"]["ppid"] = 1  # the launcher was SIGKILLed
    snap = build_snapshot(dict(s, host_procs=hp), source="replay", me="root", now=0)
    es = entries(snap, ViewOptions(tree=True))
    orphan = next(e for e in es if e.row is None and e.launcher_pid == 1)
    assert orphan.launcher_cmd == ORPHAN_CMD and [m.pid for m in orphan.members] == [662, 663]
