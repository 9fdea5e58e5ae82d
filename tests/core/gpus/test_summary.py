from __future__ import annotations

from ftmllm_tui.core.gpus.summary import (FreeRule, short_gpu_name, throttle_words, user_colour_index,
                                     user_shares)
from ftmllm_tui.core.gpus.sweep import build_snapshot


def test_user_shares(sweeps):
    snap = build_snapshot(sweeps[0], source="replay", me="root", now=0)
    root, alice = user_shares(snap)
    assert (root.user, root.gpus, root.processes, root.mine) == ("root", (0, 1), 2, True)
    assert root.gpu_memory_bytes == 2 * 9338617856
    assert (alice.user, alice.gpus, alice.gpu_memory_bytes) == ("alice", (0,), 3969908736)


def test_free_gpus(tmp_path):
    from ftmllm_tui.core.gpus.samplers import ReplaySampler
    from pathlib import Path

    rec = Path(__file__).parents[2] / "data" / "h200x8_synth.jsonl"
    sampler = ReplaySampler(rec, me="root")
    assert sampler.sample().free == (4, 5, 6, 7)  # 2 is lost, 0/1/3 are busy
    sampler.free_rule = FreeRule(max_memory_bytes=0, max_util_pct=0)  # stricter: 0 B used
    assert sampler.sample().free == (4, 5, 6, 7)
    sampler.free_rule = FreeRule(max_memory_bytes=-1)  # nothing can be free
    assert sampler.sample().free == ()


def test_user_colours_are_stable_across_runs():
    # crc32, not hash(): the same user gets the same colour on every run and machine
    assert user_colour_index("alice", 10) == user_colour_index("alice", 10) == 5
    assert len({user_colour_index(u, 10) for u in ("alice", "bob", "carol", "root")}) > 1


def test_names_and_throttle_words():
    assert short_gpu_name("NVIDIA H200") == "H200"
    assert short_gpu_name("NVIDIA A100-SXM4-80GB") == "A100"
    assert short_gpu_name("Tesla V100-PCIE-32GB") == "V100"
    assert throttle_words(4) == ("SW power cap",)
    assert throttle_words(0x44) == ("SW power cap", "HW thermal")
