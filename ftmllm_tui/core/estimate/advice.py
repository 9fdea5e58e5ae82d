"""The cheapest changes that would make a config fit in a given number of bytes per GPU."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ftmllm_tui.core.estimate.memory import GiB, Estimate


@dataclass(frozen=True)
class Change:
    text: str                # "per_device_train_batch_size 1, gradient_accumulation_steps 16"
    keys: dict[str, Any]     # the keys to set
    per_gpu_bytes: int
    gpus: int

    def line(self) -> str:
        return f"{self.text} → ~{self.per_gpu_bytes / GiB:.1f} GiB per GPU"


def cheapest_changes(values: Mapping[str, Any], budget_bytes: int, estimate: Callable[..., Estimate], *,
                     gpus: int = 1, limit: int = 3) -> list[Change]:
    """Up to `limit` changes, cheapest first (same result, then slower, then less precise), whose estimate fits
    in budget_bytes: a smaller micro-batch with more accumulation (the same effective batch), gradient
    checkpointing, ZeRO-3 (on more GPUs), 4-bit (QLoRA), a shorter cutoff_len. `estimate(values, gpus=N)`."""
    out: list[Change] = []

    def trial(text: str, keys: dict[str, Any], n: int = gpus) -> bool:
        try:
            est = estimate({**values, **keys}, gpus=n)
        except ValueError:
            return False
        if est.per_gpu_bytes <= budget_bytes:
            out.append(Change(text, keys, est.per_gpu_bytes, n))
            return True
        return False

    predict = values.get("do_predict") is True and values.get("do_train") is not True
    bkey = "per_device_eval_batch_size" if predict else "per_device_train_batch_size"
    batch = _int(values.get(bkey), 8 if predict else 1)
    accum = _int(values.get("gradient_accumulation_steps"), 1)
    b = batch
    while b > 1:
        b //= 2
        keys: dict[str, Any] = {bkey: b}
        if not predict:
            keys["gradient_accumulation_steps"] = accum * (batch // b)
        if trial(", ".join(f"{k}: {v}" for k, v in keys.items()), keys):
            break
    if not predict and values.get("disable_gradient_checkpointing") is True:
        trial("gradient checkpointing on (delete disable_gradient_checkpointing)",
              {"disable_gradient_checkpointing": False})
    if not predict and values.get("finetuning_type", "lora") in ("full", "freeze"):
        ds = {"zero_optimization": {"stage": 3}}
        for n in sorted({max(gpus, 2), max(gpus, 4), 8}):
            if trial(f"DeepSpeed ZeRO-3 on {n} GPUs (deepspeed: ds_z3_config.json)", {"deepspeed": ds}, n):
                break
    if values.get("quantization_bit") not in (4,) and values.get("finetuning_type", "lora") == "lora":
        trial("quantization_bit: 4 (QLoRA; needs bitsandbytes)", {"quantization_bit": 4})
    cutoff = _int(values.get("cutoff_len"), 2048)
    c = cutoff
    while c > 256 and len(out) < limit:
        c //= 2
        if trial(f"cutoff_len: {c} (longer samples are cut)", {"cutoff_len": c}):
            break
    return out[:limit]


def _int(v: Any, default: int) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError):
        return default
    return n if n > 0 else default
