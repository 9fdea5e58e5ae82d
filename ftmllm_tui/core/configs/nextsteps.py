"""Configs for what comes after training: chat with the adapter a run saved, or merge and export it.
Built from the run's frozen config (the model, template and fine-tuning type it trained with)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CARRIED = ("model_name_or_path", "template", "finetuning_type", "trust_remote_code", "image_max_pixels",
           "video_max_pixels", "cache_dir", "quantization_bit")
NEXT_KINDS = {"chat": "webchat", "export": "export"}  # what the next-step config is launched with


def next_step_config(trained: dict[str, Any], adapter_dir: str, step: str) -> dict[str, Any]:
    """``step``: chat (webchat / chat / api) or export (merge the LoRA adapter into the model)."""
    if step not in NEXT_KINDS:
        raise ValueError(f"step must be one of {', '.join(NEXT_KINDS)}")
    cfg: dict[str, Any] = {k: trained[k] for k in CARRIED if k in trained}
    full = str(trained.get("finetuning_type", "lora")) == "full"
    if full:  # a full fine-tune saved a whole model: it is the model
        cfg["model_name_or_path"] = adapter_dir
    else:
        cfg["adapter_name_or_path"] = adapter_dir
    cfg.setdefault("template", "default")
    if step == "chat":
        cfg["infer_backend"] = "huggingface"
    else:
        cfg.pop("quantization_bit", None)  # merging needs the unquantised model
        cfg["export_dir"] = str(Path(adapter_dir).with_name(Path(adapter_dir).name + "-merged"))
        cfg["export_size"] = 5
        cfg["export_device"] = "cpu"
        cfg["export_legacy_format"] = False
    return cfg


def write_next_step(trained_yaml: str, adapter_dir: str, step: str, folder: Path, name: str) -> Path:
    """Write the next-step config as ``folder/<name>_<step>.yaml`` (never over an existing file:
    ``_2``, ``_3``… are added); returns its path."""
    trained = yaml.safe_load(trained_yaml) if trained_yaml else {}
    cfg = next_step_config(trained if isinstance(trained, dict) else {}, adapter_dir, step)
    head = (f"# {'Chat with' if step == 'chat' else 'Merge and export'} the adapter saved by run {name}\n"
            f"# (made by ftmllm-tui from the run's config; edit freely)\n")
    text = head + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{step}.yaml"
    n = 2
    while path.exists():
        path = folder / f"{name}_{step}_{n}.yaml"
        n += 1
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
    return path
