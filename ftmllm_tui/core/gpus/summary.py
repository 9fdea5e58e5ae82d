"""Derived facts for the home view: who holds what, which GPUs are free, stable user colours."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ftmllm_tui.core.gpus.snapshot import GpuReading, Snapshot

GIB = 1024**3


@dataclass(frozen=True)
class UserShare:
    user: str
    gpus: tuple[int, ...]
    gpu_memory_bytes: int
    processes: int
    mine: bool


def user_shares(snapshot: Snapshot) -> tuple[UserShare, ...]:
    """GPUs and GPU memory held per user, biggest holder first."""
    acc: dict[str, dict] = {}
    for row in snapshot.processes:
        a = acc.setdefault(row.user, {"gpus": set(), "mem": 0, "pids": set(), "mine": row.mine})
        a["gpus"].add(row.gpu_index)
        a["mem"] += row.gpu.gpu_memory_bytes or 0
        a["pids"].add(row.pid)
    shares = [
        UserShare(u, tuple(sorted(a["gpus"])), a["mem"], len(a["pids"]), a["mine"])
        for u, a in acc.items()
    ]
    shares.sort(key=lambda s: (-s.gpu_memory_bytes, s.user))
    return tuple(shares)


def memory_by_user(snapshot: Snapshot, gpu_index: int) -> list[tuple[str, int]]:
    """GPU memory per user on one GPU, in a stable order (biggest first)."""
    acc: dict[str, int] = {}
    for row in snapshot.processes:
        if row.gpu_index == gpu_index:
            acc[row.user] = acc.get(row.user, 0) + (row.gpu.gpu_memory_bytes or 0)
    return sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class FreeRule:
    """When a GPU counts as free (settings: gpus.free_max_memory_mib, gpus.free_max_util_pct)."""

    max_memory_bytes: int = GIB
    max_util_pct: int = 10


def is_free(gpu: GpuReading, rule: FreeRule = FreeRule()) -> bool:
    """Free: readable, no processes, little memory in use and little utilisation."""
    if gpu.error is not None or gpu.processes:
        return False
    if gpu.memory_used_bytes is None or gpu.memory_used_bytes > rule.max_memory_bytes:
        return False
    return gpu.utilization_pct is None or gpu.utilization_pct <= rule.max_util_pct


def user_colour_index(user: str, palette_size: int) -> int:
    """A stable colour slot for a user name (same on every run and every machine)."""
    return zlib.crc32(user.encode("utf-8", "replace")) % max(1, palette_size)


THROTTLE_REASONS = (  # nvmlClocksEventReasons bits -> short words
    (0x1, "idle"),
    (0x2, "app clocks"),
    (0x4, "SW power cap"),
    (0x8, "HW slowdown"),
    (0x10, "sync boost"),
    (0x20, "SW thermal"),
    (0x40, "HW thermal"),
    (0x80, "power brake"),
    (0x100, "display clock"),
)
WORRYING_THROTTLE = 0x8 | 0x20 | 0x40 | 0x80


def throttle_words(mask: int | None) -> tuple[str, ...]:
    if not mask:
        return ()
    return tuple(word for bit, word in THROTTLE_REASONS if mask & bit)


def short_gpu_name(name: str | None, width: int = 6) -> str:
    """'NVIDIA H200' -> 'H200'; 'NVIDIA A100-SXM4-80GB' -> 'A100'; 'Tesla V100-PCIE-32GB' -> 'V100'."""
    if not name:
        return "?"
    words = [w for w in name.replace("NVIDIA", "").replace("Tesla", "").split() if w]
    if not words:
        return name[:width]
    first = words[0].split("-")[0]
    return first[:width]
