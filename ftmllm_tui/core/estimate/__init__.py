"""Will it fit? GPU memory estimate from a config and the model's config.json; calibrated on real runs.

    estimate_file(path, kind=None, gpus=1) -> Estimate            (reads the YAML)
    estimate_values(values, path=..., kind=None, gpus=1) -> Estimate (an editor's unsaved text, parsed)

Both raise EstimateError with one line that says what is missing ("cannot estimate: …, missing …").
Pure: reads the YAML, the model's config.json (a local folder, or a hub id already in the Hugging Face cache;
nothing is downloaded) and the DeepSpeed JSON; no GPU, no processes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ftmllm_tui.core.estimate.memory import GiB, Estimate, generate, train
from ftmllm_tui.core.estimate.model import Arch, ModelConfigError, arch_from_config

__all__ = ["GiB", "Estimate", "EstimateError", "estimate_file", "estimate_values", "find_model_config",
           "kind_of", "fit_line", "Arch"]

KINDS = ("train", "chat", "eval", "export")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class EstimateError(ValueError):
    """The estimate cannot be made; str() is one line: what is wrong and what is missing."""

    def __init__(self, message: str, missing: str = "") -> None:
        super().__init__(f"cannot estimate: {message}" + (f", missing {missing}" if missing else ""))
        self.missing = missing


def _hf_cache(values: Mapping[str, Any], environ: Mapping[str, str]) -> Path:
    cd = values.get("cache_dir")
    if isinstance(cd, str) and cd:
        return Path(cd).expanduser()
    for key in ("HUGGINGFACE_HUB_CACHE", "HF_HUB_CACHE"):
        if environ.get(key):
            return Path(environ[key]).expanduser()
    if environ.get("HF_HOME"):
        return Path(environ["HF_HOME"]).expanduser() / "hub"
    xdg = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME", str(Path.home())), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def find_model_config(values: Mapping[str, Any], *, path: Path | None = None, workdir: Path | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """config.json of model_name_or_path: a folder (from the working directory, then the config's folder), or a
    hub id in the Hugging Face cache (refs/main, else the newest snapshot). EstimateError when not found."""
    env = os.environ if environ is None else environ
    value = values.get("model_name_or_path")
    if not isinstance(value, str) or not value.strip():
        raise EstimateError("the config names no model", "model_name_or_path")
    p = Path(value).expanduser()
    bases = [p] if p.is_absolute() else [(workdir or Path.cwd()) / p] + (
        [path.expanduser().resolve().parent / p] if path is not None else [])
    for cand in bases:
        if cand.is_dir():
            if (cand / "config.json").is_file():
                return cand / "config.json"
            raise EstimateError(f"model folder {value} has no config.json", "config.json")
    if _HUB_ID.match(value):
        cache = _hf_cache(values, env)
        repo = cache / ("models--" + value.replace("/", "--"))
        snaps = repo / "snapshots"
        try:
            ref = (repo / "refs" / "main").read_text().strip()
        except OSError:
            ref = ""
        if ref and (snaps / ref / "config.json").is_file():
            return snaps / ref / "config.json"
        try:
            found = sorted((s for s in snaps.iterdir() if (s / "config.json").is_file()),
                           key=lambda s: s.stat().st_mtime, reverse=True)
        except OSError:
            found = []
        if found:
            return found[0] / "config.json"
        raise EstimateError(f"{value} is not in the Hugging Face cache {cache} (nothing is downloaded)",
                            "config.json")
    raise EstimateError(f"model folder {value} does not exist", "config.json")


def _deepspeed(values: Mapping[str, Any], path: Path | None, workdir: Path | None) -> dict | None:
    ds = values.get("deepspeed")
    if ds is None or ds == "":
        return None
    if isinstance(ds, Mapping):
        return dict(ds)
    p = Path(str(ds)).expanduser()
    cands = [p] if p.is_absolute() else [(workdir or Path.cwd()) / p] + (
        [path.expanduser().resolve().parent / p] if path is not None else [])
    for c in cands:
        if c.is_file():
            try:
                data = json.loads(c.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise EstimateError(f"DeepSpeed config {ds} is unreadable ({exc.__class__.__name__}: "
                                    f"{str(exc).splitlines()[0][:80]})", "a valid DeepSpeed JSON") from None
            if not isinstance(data, dict):
                raise EstimateError(f"DeepSpeed config {ds} is not a JSON object", "a valid DeepSpeed JSON")
            return data
    raise EstimateError(f"DeepSpeed config {ds} does not exist", "the DeepSpeed JSON")


def kind_of(values: Mapping[str, Any], kind: str | None = None) -> str:
    """train | predict | chat | eval | export. `train` with do_predict + predict_with_generate and no do_train
    is a prediction (generation), not a training step."""
    predict = values.get("do_predict") is True and values.get("predict_with_generate") is True \
        and values.get("do_train") is not True
    if kind in (None, "", "auto"):
        if predict:
            return "predict"
        if values.get("do_train") is True:
            return "train"
        if values.get("do_predict") is True or values.get("do_eval") is True:
            return "eval"
        return "export" if values.get("export_dir") else "chat"
    if kind == "train" and predict:
        return "predict"
    if kind in ("webchat", "api", "webui"):
        return "chat"
    return kind


def estimate_values(values: Mapping[str, Any], *, path: Path | None = None, kind: str | None = None,
                    gpus: int = 1, workdir: Path | None = None, environ: Mapping[str, str] | None = None,
                    gpu_total_bytes: int | None = None) -> Estimate:
    if not isinstance(values, Mapping):
        raise EstimateError("the config is not a YAML mapping of keys")
    cfg_path = find_model_config(values, path=path, workdir=workdir, environ=environ)
    try:
        mcfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EstimateError(f"{cfg_path} is unreadable ({exc.__class__.__name__})", "a valid config.json") from None
    try:
        arch = arch_from_config(mcfg if isinstance(mcfg, Mapping) else {})
    except ModelConfigError as exc:
        raise EstimateError(f"{exc} in {cfg_path}", "a supported architecture") from None
    k = kind_of(values, kind)
    inputs: dict[str, Any] = {"config": str(path) if path else None, "model_config": str(cfg_path),
                              "model_type": arch.model_type, "hidden_size": arch.hidden,
                              "num_hidden_layers": arch.layers, "num_attention_heads": arch.heads,
                              "num_key_value_heads": arch.kv_heads, "intermediate_size": arch.intermediate,
                              "vocab_size": arch.vocab, "tie_word_embeddings": arch.tied, "gpus": gpus}
    for key in ("finetuning_type", "lora_rank", "lora_target", "quantization_bit", "bf16", "fp16", "pure_bf16",
                "per_device_train_batch_size", "per_device_eval_batch_size", "cutoff_len", "max_new_tokens",
                "disable_gradient_checkpointing", "deepspeed", "flash_attn", "use_unsloth", "image_max_pixels",
                "freeze_vision_tower", "freeze_trainable_layers", "infer_backend", "vllm_gpu_util",
                "export_device", "optim", "do_predict", "predict_with_generate"):
        if key in values:
            inputs[key] = values[key]
    if arch.vision:
        inputs["vision_depth"], inputs["vision_hidden_size"] = arch.vision.depth, arch.vision.hidden
    if k == "train":
        ds = _deepspeed(values, path, workdir)
        if ds is not None:
            zo = ds.get("zero_optimization") or {}
            inputs["zero_stage"] = zo.get("stage", 0)
        return train(arch, values, gpus=gpus, ds=ds, inputs=inputs)
    return generate(arch, values, kind=k, gpus=gpus, inputs=inputs, gpu_total_bytes=gpu_total_bytes)


def estimate_file(path: str | os.PathLike[str], *, kind: str | None = None, gpus: int = 1,
                  workdir: Path | None = None, environ: Mapping[str, str] | None = None,
                  gpu_total_bytes: int | None = None) -> Estimate:
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise EstimateError(f"{path}: {exc.strerror or exc}", "a readable config") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EstimateError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    return estimate_values(values or {}, path=p, kind=kind, gpus=gpus, workdir=workdir, environ=environ,
                           gpu_total_bytes=gpu_total_bytes)


def fit_line(est: Estimate, free_bytes: int, gpu: int | str) -> tuple[bool, str]:
    """(fits, 'needs ~41.2 GiB per GPU, GPU 3 has 12.0 free → will not fit')."""
    fits = est.per_gpu_bytes <= free_bytes
    return fits, (f"{est.summary()}, GPU {gpu} has {free_bytes / GiB:.1f} free → "
                  + ("fits" if fits else "will not fit"))
