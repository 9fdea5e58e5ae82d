"""Parameter counts from a model's config.json (decoder-only text models, Qwen2-VL / Qwen2.5-VL vision towers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# model_type values whose decoder layer is the llama shape: q/k/v/o projections (KV heads), a gated MLP
# (gate/up/down), two RMSNorms. Qwen2 adds q/k/v biases.
TEXT_TYPES = {"llama", "mistral", "qwen2", "qwen3", "qwen2_vl", "qwen2_5_vl", "qwen2_5_vl_text", "qwen2_vl_text",
              "qwen3_vl", "gemma", "gemma2", "gemma3_text", "internlm2", "yi", "baichuan", "deepseek",
              "granite", "olmo2", "phi3", "glm4"}
VL_TYPES = {"qwen2_vl", "qwen2_5_vl"}
QKV_BIAS = {"qwen2", "qwen2_vl", "qwen2_5_vl", "qwen2_5_vl_text", "qwen2_vl_text"}
# LoRA targets for `lora_target: all`: every linear of the decoder layers (LLaMA-Factory excludes lm_head
# and, for VL models, the vision tower and the projector unless freeze_vision_tower is false).
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class ModelConfigError(ValueError):
    """config.json cannot be read as a supported architecture; the message says what is missing."""


@dataclass(frozen=True)
class Vision:
    depth: int
    hidden: int
    intermediate: int
    out_hidden: int
    patch: int
    merge: int
    temporal_patch: int
    params: int


@dataclass(frozen=True)
class Arch:
    model_type: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    qkv_bias: bool
    vision: Vision | None = None
    linear_shapes: dict[str, tuple[int, int]] = field(default_factory=dict)  # per layer: name -> (in, out)

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def layer_params(self) -> int:
        n = sum(i * o for i, o in self.linear_shapes.values())
        if self.qkv_bias:
            n += self.heads * self.head_dim + 2 * self.kv_dim
        return n + 2 * self.hidden  # two RMSNorm weights

    @property
    def embed_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def text_params(self) -> int:
        head = 0 if self.tied else self.embed_params
        return self.embed_params + head + self.layers * self.layer_params + self.hidden

    @property
    def total_params(self) -> int:
        return self.text_params + (self.vision.params if self.vision else 0)

    def linear_params(self) -> int:
        """Parameters of the decoder layers' linear weights (what 4/8-bit quantization shrinks)."""
        return self.layers * sum(i * o for i, o in self.linear_shapes.values())

    def lora_params(self, rank: int, targets: list[str] | None) -> int:
        names = LINEARS if targets is None else [n for n in LINEARS if n in targets]
        return self.layers * sum(rank * (self.linear_shapes[n][0] + self.linear_shapes[n][1]) for n in names)


def _int(cfg: Mapping[str, Any], *keys: str, default: int | None = None) -> int:
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    if default is not None:
        return default
    raise ModelConfigError(f"config.json has no {keys[0]}")


def _vision(vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Vision:
    d = _int(vc, "hidden_size", "embed_dim")
    depth = _int(vc, "depth", "num_hidden_layers")
    patch = _int(vc, "patch_size", default=14)
    merge = _int(vc, "spatial_merge_size", default=2)
    tp = _int(vc, "temporal_patch_size", default=2)
    ch = _int(vc, "in_chans", "in_channels", default=3)
    out = _int(vc, "out_hidden_size", "hidden_size", default=text_hidden) if model_type == "qwen2_5_vl" else \
        _int(vc, "hidden_size", default=text_hidden)
    if model_type == "qwen2_5_vl":
        inter = _int(vc, "intermediate_size")
        mlp = 3 * d * inter + 2 * inter + d          # gate/up/down with biases
        out_dim = out
    else:                                            # Qwen2-VL: fc1/fc2, mlp_ratio
        ratio = vc.get("mlp_ratio", 4)
        inter = int(d * (ratio if isinstance(ratio, (int, float)) else 4))
        mlp = 2 * d * inter + inter + d
        out_dim = text_hidden
    block = (3 * d * d + 3 * d) + (d * d + d) + mlp + 2 * d  # qkv, proj, mlp, two norms
    patch_embed = ch * tp * patch * patch * d
    m = d * merge * merge
    merger = d + (m * m + m) + (m * out_dim + out_dim)        # ln_q, mlp[0], mlp[2]
    return Vision(depth, d, inter, out_dim, patch, merge, tp, depth * block + patch_embed + merger)


def arch_from_config(cfg: Mapping[str, Any]) -> Arch:
    """An Arch from a parsed config.json; ModelConfigError says what is missing or unsupported."""
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ModelConfigError("config.json has no model_type")
    if model_type not in TEXT_TYPES:
        raise ModelConfigError(f"unknown model_type {model_type!r} (known: {', '.join(sorted(TEXT_TYPES))})")
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), Mapping) else None
    t: Mapping[str, Any] = {**cfg, **text} if text else cfg
    hidden = _int(t, "hidden_size")
    layers = _int(t, "num_hidden_layers")
    heads = _int(t, "num_attention_heads")
    kv = _int(t, "num_key_value_heads", default=heads)
    head_dim = _int(t, "head_dim", default=hidden // heads)
    inter = _int(t, "intermediate_size")
    vocab = _int(t, "vocab_size")
    tied_v = t.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
    tied = bool(tied_v) if isinstance(tied_v, bool) else True
    shapes = {
        "q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv * head_dim),
        "v_proj": (hidden, kv * head_dim), "o_proj": (heads * head_dim, hidden),
        "gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (inter, hidden),
    }
    vision = None
    if model_type in VL_TYPES:
        vc = cfg.get("vision_config")
        if not isinstance(vc, Mapping):
            raise ModelConfigError(f"{model_type} config.json has no vision_config")
        vision = _vision(vc, model_type, hidden)
    return Arch(model_type, hidden, layers, heads, kv, head_dim, inter, vocab, tied,
                model_type in QKV_BIAS, vision, shapes)
