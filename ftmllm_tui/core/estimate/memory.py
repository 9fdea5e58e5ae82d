"""The estimate: bytes one GPU will show in NVML for a LLaMA-Factory config, part by part.

The coefficients below are fitted to real LLaMA-Factory 0.9.5 runs on an H200 (torch 2.11, transformers 5.6,
SDPA attention; tests/data/memory_calibration_h200.json, made by bench/calibrate_memory.py) and checked
against that table by tests/core/estimate/test_calibration.py. What the table does not cover (DeepSpeed,
quantization, unsloth, eager attention, vision towers, vLLM) follows the libraries' documented rules and says
so in `assumptions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ftmllm_tui.core.estimate.model import Arch

GiB = 1024 ** 3

# --- fitted on the H200 table ------------------------------------------------------------------------------
CTX_BYTES = int(1.05 * GiB)   # CUDA context + cuBLAS/cuDNN workspaces + allocator slack of a training process
CTX_INFER = int(0.80 * GiB)   # the same for a generation-only process
LOGIT_BYTES = 14.0            # per logit element in a training step: bf16 logits, fp32 upcast, log-softmax, grad
ACT_H = 21.0                  # stored activation bytes per token per layer without checkpointing: × hidden
ACT_I = 9.0                   # … × intermediate
ACT_LORA = 2.0                # … × rank × 7 targets (LoRA A outputs)
CKPT_H = 2.0                  # with gradient checkpointing: one bf16 hidden state per token per layer
PREFILL_H = 8.0               # generation: transient prefill bytes per prompt token × hidden …
PREFILL_I = 6.0               # … × intermediate (one layer's MLP at a time)
NCCL_BYTES = int(0.5 * GiB)   # several GPUs: NCCL communicator buffers (NCCL_BUFFSIZE 4 MiB × channels × peers)


@dataclass
class Estimate:
    kind: str
    gpus: int
    per_gpu_bytes: int
    parts: dict[str, int]
    assumptions: list[str]
    inputs: dict[str, Any]
    params: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "gpus": self.gpus, "per_gpu_bytes": self.per_gpu_bytes,
                "per_gpu_gib": round(self.per_gpu_bytes / GiB, 2), "parts": dict(self.parts),
                "params": dict(self.params), "assumptions": list(self.assumptions), "inputs": dict(self.inputs)}

    def summary(self) -> str:
        return f"needs ~{self.per_gpu_bytes / GiB:.1f} GiB per GPU"


def _get(values: Mapping[str, Any], key: str, default: Any) -> Any:
    v = values.get(key, default)
    return default if v is None else v


def _num(values: Mapping[str, Any], key: str, default: int) -> int:
    v = values.get(key, default)
    try:
        n = int(float(v))
    except (TypeError, ValueError):
        return default
    return n if n > 0 else default


def _dtype(values: Mapping[str, Any], notes: list[str]) -> tuple[str, int]:
    if values.get("bf16") is True or values.get("pure_bf16") is True:
        return "bf16", 2
    if values.get("fp16") is True:
        return "fp16", 2
    notes.append("no bf16/fp16 in the config: the model loads in its own dtype (taken as bf16); training "
                 "then runs without autocast in fp32 only when the checkpoint is fp32")
    return "bf16", 2


def _weights_bytes(arch: Arch, quant: int | None, wbytes: int, notes: list[str]) -> int:
    """Frozen weights as loaded: quantization shrinks the decoder's linear layers only."""
    if quant in (4, 8):
        lin = arch.linear_params()
        rest = arch.total_params - lin
        per = 0.5 + 0.035 if quant == 4 else 1.0 + 0.016   # bitsandbytes NF4 (+ absmax, double quant) / int8 + scales
        notes.append(f"{quant}-bit bitsandbytes on the decoder's linear layers ({per:.3f} bytes/parameter); "
                     "embeddings, norms and lm_head stay 16-bit (not measured on the calibration GPU: "
                     "bitsandbytes was not installed there)")
        return int(lin * per + rest * wbytes)
    return arch.total_params * wbytes


def _trainable(arch: Arch, values: Mapping[str, Any], ftype: str, notes: list[str]) -> int:
    if ftype == "full":
        return arch.text_params + (arch.vision.params if arch.vision and values.get("freeze_vision_tower") is False
                                   else 0)
    if ftype == "freeze":
        try:
            n = abs(int(values.get("freeze_trainable_layers", 2)))
        except (TypeError, ValueError):
            n = 2
        n = min(n or 2, arch.layers)
        return n * arch.layer_params
    rank = _num(values, "lora_rank", 8)
    target = values.get("lora_target", "all")
    names = None if target in (None, "all") else [t.strip() for t in str(target).split(",") if t.strip()]
    if names is not None and not any(t in names for t in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                          "up_proj", "down_proj")):
        notes.append(f"lora_target {target} names no standard projection; counted as all linear layers")
        names = None
    return arch.lora_params(rank, names)


def _deepspeed(ds: Mapping[str, Any] | None) -> tuple[int, bool, bool]:
    if not ds:
        return 0, False, False
    zo = ds.get("zero_optimization") or {}
    stage = zo.get("stage", 0)
    stage = stage if isinstance(stage, int) else 0

    def off(key: str) -> bool:
        o = zo.get(key)
        return isinstance(o, Mapping) and str(o.get("device", "none")).lower() == "cpu"

    return stage, off("offload_optimizer"), off("offload_param")


def train(arch: Arch, values: Mapping[str, Any], *, gpus: int, ds: Mapping[str, Any] | None,
          inputs: dict[str, Any]) -> Estimate:
    notes: list[str] = []
    dname, wbytes = _dtype(values, notes)
    ftype = str(_get(values, "finetuning_type", "lora"))
    if ftype not in ("lora", "freeze", "full", "oft"):
        notes.append(f"finetuning_type {ftype} taken as lora")
        ftype = "lora"
    if ftype == "oft":
        ftype = "lora"
    quant = values.get("quantization_bit")
    quant = quant if quant in (4, 8) else None
    batch = _num(values, "per_device_train_batch_size", 1)
    seq = _num(values, "cutoff_len", 2048)
    gc = values.get("disable_gradient_checkpointing") is not True
    stage, off_opt, off_par = _deepspeed(ds)
    n = max(gpus, 1)
    pure = values.get("pure_bf16") is True

    trainable = _trainable(arch, values, ftype, notes)
    frozen = 0 if ftype == "full" else arch.total_params - (trainable if ftype == "freeze" else 0)
    if ftype == "full" and arch.vision and values.get("freeze_vision_tower") is not False:
        frozen = arch.vision.params
    tbytes = 2 if pure else 4   # LLaMA-Factory upcasts trainable parameters to fp32 unless pure_bf16
    optim = str(_get(values, "optim", "adamw_torch"))
    obytes = 2 if "8bit" in optim else (4 if optim.startswith(("sgd", "adafactor")) else 8)

    frozen_b = _weights_bytes(arch, quant, wbytes, notes) * frozen // max(arch.total_params, 1) if frozen else 0
    weights = frozen_b + trainable * tbytes
    grads = trainable * tbytes
    optimizer = trainable * obytes
    if stage >= 1:
        optimizer //= n
    if stage >= 2:
        grads //= n
    if stage == 3:
        weights //= n
    if off_opt:
        optimizer = 0
    if off_par and stage == 3:
        weights = 0
    zero_buf = 0
    if stage:
        # ZeRO buckets (reduce / all-gather; "auto" = hidden² in LLaMA-Factory's configs) and, in stage 3,
        # the parameters of the layer being gathered: not measured here (no DeepSpeed on the calibration GPU)
        zero_buf = 2 * arch.hidden * arch.hidden * 2 + (2 * arch.layer_params * wbytes if stage == 3 else 0)
        notes.append(f"DeepSpeed ZeRO-{stage} over {n} GPU(s)"
                     + (", optimizer offloaded to CPU" if off_opt else "")
                     + (", parameters offloaded to CPU" if off_par and stage == 3 else "")
                     + ": model states divided as DeepSpeed documents; buffers estimated (not measured)")
    elif n > 1:
        notes.append(f"DDP over {n} GPUs: every GPU holds the whole model, gradients and optimizer")

    stage_name = str(_get(values, "stage", "sft"))
    if stage_name in ("dpo", "kto", "rm", "orpo", "simpo"):
        batch *= 2   # chosen + rejected sequences in one forward pass
        notes.append(f"stage {stage_name}: chosen and rejected sequences in each step (2 × the micro-batch); "
                     "with LoRA the reference model is the base with the adapter off (no second copy)")
    tokens = batch * seq
    rank = _num(values, "lora_rank", 8) if ftype == "lora" else 0
    per_layer = ACT_H * arch.hidden + ACT_I * arch.intermediate + ACT_LORA * rank * 7
    if values.get("use_unsloth") is True:
        notes.append("use_unsloth: checkpoints offloaded to CPU and a chunked cross-entropy (logits ~1/4); "
                     "from Unsloth's published figures, not measured")
    if gc:
        stored = CKPT_H * arch.hidden * arch.layers * (0 if values.get("use_unsloth") is True else 1)
        activations = int(tokens * (stored + per_layer))
    else:
        activations = int(tokens * per_layer * arch.layers)
    attn = str(_get(values, "flash_attn", "auto"))
    if attn == "disabled":   # eager attention stores the (heads × seq × seq) scores and probabilities
        eager = batch * arch.heads * seq * seq * (4 + 2)
        activations += eager * (1 if gc else arch.layers)
        notes.append("flash_attn: disabled → eager attention, seq² scores per head stored")
    logits = int(tokens * arch.vocab * LOGIT_BYTES * (0.25 if values.get("use_unsloth") is True else 1))
    if arch.vision:
        activations += _vision_act(arch, values, batch, notes)
    overhead = CTX_BYTES + zero_buf
    if n > 1:  # NCCL communicators and DDP's gradient buckets (bucket_cap_mb 25, ×2): not measured here
        overhead += NCCL_BYTES + (2 * 25 * 2**20 if not stage else 0)
        notes.append(f"{n} GPUs: ~{NCCL_BYTES / GiB:.1f} GiB per GPU for NCCL buffers and DDP buckets "
                     "(NCCL's documented defaults; not measured: the calibration GPU was alone)")
    parts = {"weights": int(weights), "gradients": int(grads), "optimizer": int(optimizer),
             "activations": activations, "logits": logits, "kv_cache": 0, "overhead": int(overhead)}
    notes[:0] = [f"{ftype} on {arch.model_type}, {arch.total_params / 1e9:.2f}B parameters "
                 f"({trainable / 1e6:.1f}M trainable, {'fp32' if tbytes == 4 else 'bf16'} with "
                 f"{'8-bit ' if obytes == 2 else ''}{optim})",
                 f"{dname} weights{f', {quant}-bit quantized' if quant else ''}",
                 f"micro-batch {batch} × cutoff_len {seq} = {tokens} tokens per step (samples assumed at least "
                 "cutoff_len long: shorter data needs less)",
                 "gradient checkpointing " + ("on" if gc else "off (disable_gradient_checkpointing)"),
                 "SDPA/flash attention (memory linear in length)" if attn != "disabled" else "eager attention"]
    return Estimate("train", n, sum(parts.values()), parts, notes, inputs,
                    {"total": arch.total_params, "trainable": trainable})


def _vision_act(arch: Arch, values: Mapping[str, Any], batch: int, notes: list[str]) -> int:
    v = arch.vision
    assert v is not None
    pixels = _num(values, "image_max_pixels", 589824)
    patches = pixels // (v.patch * v.patch)
    frozen = values.get("freeze_vision_tower") is not False
    per = (ACT_H * v.hidden + ACT_I * v.intermediate)
    act = int(batch * patches * per * (1 if frozen else v.depth))
    notes.append(f"vision tower {v.params / 1e6:.0f}M parameters, one image of ≤ image_max_pixels {pixels} "
                 f"({patches} patches, {patches // (v.merge * v.merge)} tokens inside cutoff_len) per sample; "
                 + ("frozen (freeze_vision_tower)" if frozen else "trained") + " — not measured on the GPU")
    return act


def generate(arch: Arch, values: Mapping[str, Any], *, kind: str, gpus: int, inputs: dict[str, Any],
             gpu_total_bytes: int | None = None) -> Estimate:
    """Prediction (do_predict + predict_with_generate), chat/webchat/api, eval, export."""
    notes: list[str] = []
    dname, wbytes = _dtype({**values, "bf16": values.get("bf16", True) if values.get("fp16") is not True
                            else None}, notes)
    quant = values.get("quantization_bit")
    quant = quant if quant in (4, 8) else None
    n = max(gpus, 1)
    if kind == "export" and str(_get(values, "export_device", "cpu")) == "cpu":
        parts = {"weights": 0, "gradients": 0, "optimizer": 0, "activations": 0, "logits": 0, "kv_cache": 0,
                 "overhead": 0}
        notes.append("export_device: cpu (LLaMA-Factory's default): the merge runs in CPU memory, no GPU needed")
        return Estimate(kind, n, 0, parts, notes, inputs, {"total": arch.total_params})
    if kind == "chat" and str(_get(values, "infer_backend", "huggingface")) == "vllm":
        util = float(_get(values, "vllm_gpu_util", 0.7))
        weights = _weights_bytes(arch, quant, wbytes, notes) // n
        notes.append(f"vLLM reserves vllm_gpu_util {util} of each GPU's total memory at start (weights, then "
                     f"KV cache blocks up to vllm_maxlen {_num(values, 'vllm_maxlen', 4096)}), whatever the model")
        if gpu_total_bytes:
            per = int(util * gpu_total_bytes)
            kv = max(per - weights - CTX_INFER, 0)
            notes.append(f"a GPU of {gpu_total_bytes / GiB:.1f} GiB total")
        else:
            kv = 0
            per = weights + CTX_INFER
            notes.append("GPU size unknown: the figure is the floor (weights + context); vLLM takes "
                         f"{util:.0%} of the GPU's total memory")
        parts = {"weights": weights, "gradients": 0, "optimizer": 0, "activations": 0, "logits": 0,
                 "kv_cache": kv, "overhead": CTX_INFER}
        return Estimate(kind, n, per if gpu_total_bytes else sum(parts.values()), parts, notes, inputs,
                        {"total": arch.total_params})
    new = _num(values, "max_new_tokens", 1024)
    seq = _num(values, "cutoff_len", 2048)
    if kind == "predict":
        batch = _num(values, "per_device_eval_batch_size", 8)
        ctx = seq + new
        notes.append(f"prediction: per_device_eval_batch_size {batch} × (cutoff_len {seq} + max_new_tokens "
                     f"{new}) tokens of KV cache, prompts assumed cutoff_len long")
    elif kind == "eval":
        batch = _num(values, "batch_size", 4)
        ctx, new = seq, 0
        notes.append(f"eval: batch_size {batch} × cutoff_len {seq} (one forward pass, no generation)")
    else:
        batch = 1
        ctx = seq + new
        notes.append(f"chat: one conversation of up to cutoff_len {seq} + max_new_tokens {new} tokens")
    weights = _weights_bytes(arch, quant, wbytes, notes)
    if values.get("adapter_name_or_path"):
        weights += arch.lora_params(_num(values, "lora_rank", 8), None) * wbytes
        notes.append("adapter weights counted at lora_rank (8 unless given) on all linear layers")
    kv = batch * ctx * arch.layers * 2 * arch.kv_dim * wbytes
    prefill = int(batch * seq * (PREFILL_H * arch.hidden + PREFILL_I * arch.intermediate))
    logits = batch * arch.vocab * 4 * 2
    if arch.vision:
        prefill += _vision_act(arch, values, batch, notes)
    if n > 1:
        notes.append(f"{n} GPUs: each runs its own copy (data parallel), the figure is per GPU")
    parts = {"weights": int(weights), "gradients": 0, "optimizer": 0, "activations": prefill, "logits": logits,
             "kv_cache": int(kv), "overhead": CTX_INFER}
    notes.insert(0, f"{kind} on {arch.model_type}, {arch.total_params / 1e9:.2f}B parameters, "
                 f"{dname} weights{f', {quant}-bit quantized' if quant else ''}")
    return Estimate(kind, n, sum(parts.values()), parts, notes, inputs, {"total": arch.total_params})
