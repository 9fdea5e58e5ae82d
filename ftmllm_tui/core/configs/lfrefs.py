"""Checks of what a LLaMA-Factory config points at (files, folders, datasets) and of secrets in it.

Relative paths are resolved the way LLaMA-Factory does, from the working directory the run starts in;
the config's own folder is tried next, and the message says where a path was found.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftmllm_tui.core.configs import pickers

if TYPE_CHECKING:
    import yaml

    from ftmllm_tui.core.configs.lfvalidate import Finding

PICK = "the editor's picker (F2) lists what exists"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SECRET_KEY = re.compile(r"(api_key|apikey|token|secret|password|passwd|webhook_url)$")
SECRET_ENV = {
    "swanlab_api_key": "SWANLAB_API_KEY",
    "hf_hub_token": "HF_TOKEN",
    "hub_token": "HF_TOKEN",
    "ms_hub_token": "MODELSCOPE_API_TOKEN",
    "om_hub_token": "OM_HUB_TOKEN",
}


def _finding(severity: str, node: Any, message: str, hint: str = "", key: str | None = None,
             code: str = "") -> Finding:
    from ftmllm_tui.core.configs.lfvalidate import Finding

    line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (0, 0)
    return Finding(severity, line, col, message, hint, key, code)


def bases(path: Path | None, workdir: Path | None) -> list[Path]:
    out = [workdir or Path.cwd()]
    if path is not None:
        folder = path.expanduser().resolve().parent
        if folder not in out:
            out.append(folder)
    return out


def resolve(value: str, path: Path | None, workdir: Path | None) -> tuple[Path | None, bool]:
    """(the existing path, found only next to the config) or (None, False)."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return (p, False) if p.exists() else (None, False)
    for i, base in enumerate(bases(path, workdir)):
        if (base / p).exists():
            return base / p, i > 0
    return None, False


def secrets(values: Mapping[str, Any], nodes: Mapping[str, tuple[yaml.Node, yaml.Node]]) -> list[Finding]:
    out = []
    for key, value in values.items():
        if not _SECRET_KEY.search(key) or not isinstance(value, str) or not value.strip():
            continue
        env = SECRET_ENV.get(key, key.upper())
        out.append(_finding("warning", nodes[key][1], f"{key} holds a secret in plain text: anyone who can read "
                            "this file (and every copy of it in output folders) can use it",
                            f"delete the line and export {env} in your shell; ftmllm-tui passes it to the run "
                            "without writing it to disk", key, "secret"))
    return out


def check(values: Mapping[str, Any], nodes: Mapping[str, tuple[yaml.Node, yaml.Node]], *, path: Path | None,
          workdir: Path | None, environ: Mapping[str, str] | None, command: str) -> list[Finding]:
    out = secrets(values, nodes)
    out += _model(values, nodes, path, workdir, command)
    out += _adapters(values, nodes, path, workdir)
    out += _datasets(values, nodes, path, workdir, command)
    out += _deepspeed(values, nodes, path, workdir)
    out += _output_dir(values, nodes, path, workdir, command)
    return out


def _nearby_note(key: str, found: Path) -> str:
    return (f"found next to the config ({found}); LLaMA-Factory resolves {key} from the working directory, so "
            "launch from the config's folder or write an absolute path")


WEIGHT_FILES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json", ".pt", ".pth")


def has_weights(folder: Path) -> bool:
    """Whether a model folder holds weights (*.safetensors, *.bin or their index), not only config.json."""
    try:
        with os.scandir(folder) as it:
            return any(e.name.endswith(WEIGHT_FILES) and not e.name.startswith("training_args") for e in it)
    except OSError:
        return True  # unreadable: say nothing rather than something false


def _model(values, nodes, path, workdir, command: str = "train") -> list[Finding]:
    value = values.get("model_name_or_path")
    if not isinstance(value, str) or not value:
        return []
    node = nodes["model_name_or_path"][1]
    found, nearby = resolve(value, path, workdir)
    looks_path = value.startswith(("/", ".", "~")) or os.sep in value.strip("/") and not _HUB_ID.match(value)
    if found is not None:
        if not found.is_dir():
            return [_finding("error", node, f"model_name_or_path {value} is a file, not a model folder",
                             key="model_name_or_path", code="model-path")]
        if not (found / "config.json").exists():
            return [_finding("warning", node, f"model_name_or_path {value} has no config.json",
                             "point it at the folder that holds config.json and the weights (for a Hugging Face "
                             "cache: .../snapshots/<revision>)", "model_name_or_path", "model-path")]
        if not has_weights(found):
            return [_finding("error" if command in ("train", "export") else "warning", node,
                             f"model folder {value} has config.json but no weights (*.safetensors, *.bin or an "
                             "index): loading it fails with \"no file named model.safetensors\"",
                             "copy the weights there too, or point at the folder that has them",
                             "model_name_or_path", "model-weights")]
        return [_finding("info", node, _nearby_note("model_name_or_path", found), key="model_name_or_path",
                         code="relative")] if nearby else []
    pick = "the editor's picker (F2) lists the models in the Hugging Face cache"
    if looks_path:
        return [_finding("error", node, f"model folder {value} does not exist", pick, "model_name_or_path",
                         "model-path")]
    top = value.split("/", 1)[0]
    local = [b / top for b in bases(path, workdir) if (b / top).is_dir()]
    if _HUB_ID.match(value) and local:      # org/name, but org/ is a folder here: meant as a local path
        return [_finding("error", node, f"model folder {value} does not exist ({local[0]} does; a hub id "
                         f"{value} would be downloaded instead)", pick, "model_name_or_path", "model-path")]
    if not _HUB_ID.match(value):
        return [_finding("error", node, f"model_name_or_path {value} is neither an existing folder nor a hub id "
                         "(org/name)", pick, "model_name_or_path", "model-path")]
    return []


def _adapters(values, nodes, path, workdir) -> list[Finding]:
    value = values.get("adapter_name_or_path")
    if not isinstance(value, str) or not value:
        return []
    out = []
    node = nodes["adapter_name_or_path"][1]
    for item in (v.strip() for v in value.split(",") if v.strip()):
        found, _ = resolve(item, path, workdir)
        if found is None:
            top = item.split("/", 1)[0]
            local = any((b / top).is_dir() for b in bases(path, workdir))
            if not _HUB_ID.match(item) or item.startswith((".", "/", "~")) or local:
                # a warning: adapters are often written before the run that makes them has finished
                out.append(_finding("warning", node, f"adapter {item} does not exist (yet): chat, export or "
                                    "predict would stop when loading it", "train it first, or " + PICK,
                                    "adapter_name_or_path", "adapter-path"))
        elif not (found / "adapter_config.json").exists():
            out.append(_finding("warning", node, f"adapter {item} has no adapter_config.json",
                                "point it at a LoRA output folder or one of its checkpoint-N folders",
                                "adapter_name_or_path", "adapter-path"))
    return out


def _dataset_dir(values, path, workdir) -> tuple[Path | None, str]:
    raw = values.get("dataset_dir", "data")
    if not isinstance(raw, str) or raw == "ONLINE":
        return None, str(raw)
    found, _ = resolve(raw, path, workdir)
    return found, raw


def _datasets(values, nodes, path, workdir, command) -> list[Finding]:
    keys = [k for k in ("dataset", "eval_dataset") if isinstance(values.get(k), (str, list)) and values.get(k)]
    if not keys:
        return []
    folder, raw = _dataset_dir(values, path, workdir)
    if raw == "ONLINE" or raw.startswith("REMOTE:") or not isinstance(values.get("dataset_dir", ""), str):
        return []                   # names from the hub; dataset_info.json in a hub repo; a type error
    where = nodes["dataset_dir"][1] if "dataset_dir" in nodes else nodes[keys[0]][1]
    if folder is None:
        return [_finding("warning", where, f"dataset_dir {raw} not found (from {bases(path, workdir)[0]} or next to "
                         "the config): dataset names not checked", "launch from the folder that holds it, or "
                         "write an absolute path", "dataset_dir", "dataset-dir")]
    names = pickers.dataset_names(folder)
    if names is None:
        return [_finding("warning", where, f"{folder}/dataset_info.json is missing or unreadable: dataset names "
                         "not checked", key="dataset_dir", code="dataset-dir")]
    out = []
    stage = values.get("stage", "sft")
    for key in keys:
        node = nodes[key][1]
        value = values[key]
        items = value if isinstance(value, list) else value.split(",")
        for name in (str(v).strip() for v in items if str(v).strip()):
            if name not in names:
                near = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
                out.append(_finding("error", node, f"dataset {name} is not in {folder}/dataset_info.json",
                                    f"did you mean {' or '.join(near)}?" if near else PICK, key,
                                    "dataset-name"))
                continue
            if command != "train":
                continue
            ranking = names[name]
            if stage in ("rm", "dpo") and not ranking:
                out.append(_finding("error", node, f"stage: {stage} needs a ranking dataset (chosen/rejected); "
                                    f"{name} has ranking: false", "use a preference dataset, e.g. one with "
                                    "\"ranking\": true in dataset_info.json", key, "ranking"))
            elif stage not in ("rm", "dpo") and ranking:
                out.append(_finding("error", node, f"{name} is a ranking (preference) dataset; stage: {stage} "
                                    "cannot use it (LLaMA-Factory: 'The dataset is not applicable in the current "
                                    "training stage')", "use stage: dpo or rm, or another dataset", key,
                                    "ranking"))
    return out


def deepspeed_stage(values, path, workdir) -> int | None:
    value = values.get("deepspeed")
    if isinstance(value, dict):
        return (value.get("zero_optimization") or {}).get("stage")
    if isinstance(value, str):
        found, _ = resolve(value, path, workdir)
        if found is not None:
            try:
                return (json.loads(found.read_text()).get("zero_optimization") or {}).get("stage")
            except (OSError, ValueError, AttributeError):
                return None
    return None


def _deepspeed(values, nodes, path, workdir) -> list[Finding]:
    value = values.get("deepspeed")
    if not isinstance(value, str) or not value:
        return []
    node = nodes["deepspeed"][1]
    found, nearby = resolve(value, path, workdir)
    if found is None:
        return [_finding("error", node, f"deepspeed config {value} does not exist", PICK,
                         "deepspeed", "deepspeed-json")]
    try:
        data = json.loads(found.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [_finding("error", node, f"cannot read {found}: {exc}", key="deepspeed", code="deepspeed-json")]
    except json.JSONDecodeError as exc:
        return [_finding("error", node, f"{found} is not valid JSON: line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}", "fix the file (JSON allows no trailing commas or comments), or pick "
                         "another (F2)", key="deepspeed", code="deepspeed-json")]
    out = []
    if nearby:
        out.append(_finding("info", node, _nearby_note("deepspeed", found), key="deepspeed", code="relative"))
    stage = (data.get("zero_optimization") or {}).get("stage") if isinstance(data, dict) else None
    if stage == 3 and values.get("predict_with_generate") is True:
        out.append(_finding("error", nodes.get("predict_with_generate", (node, node))[0],
                            "predict_with_generate does not work with DeepSpeed ZeRO-3",
                            "predict without deepspeed, or with ZeRO-2", "predict_with_generate", "predict-zero3"))
    return out


def _writable_parent(p: Path) -> Path | None:
    for parent in [p, *p.parents]:
        if parent.exists():
            return parent if os.access(parent, os.W_OK | os.X_OK) else None
    return None


def _output_dir(values, nodes, path, workdir, command) -> list[Finding]:
    if command != "train" and "export_dir" not in values:
        return []
    out = []
    for key in ("output_dir", "export_dir"):
        value = values.get(key)
        if not isinstance(value, str) or not value:
            continue
        node = nodes[key][1]
        p = Path(value).expanduser()
        if not p.is_absolute():
            p = (workdir or Path.cwd()) / p
        if p.exists() and not p.is_dir():
            out.append(_finding("error", node, f"{key} {value} is a file, not a folder",
                                "name a folder (it is created if missing)", key=key, code="output-dir"))
        elif _writable_parent(p) is None:
            out.append(_finding("error", node, f"{key} {value} is not writable by you",
                                "pick a folder under your home or a scratch disk", key=key, code="output-dir"))
    return out


def all_keys(findings: Iterable[Finding]) -> set[str]:
    return {f.key for f in findings if f.key}
