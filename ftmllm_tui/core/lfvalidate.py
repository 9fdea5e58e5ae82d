"""Validate a LLaMA-Factory YAML config offline, against the shipped schema, with line and column.

Reads the text the way the LLaMA-Factory version in use does (0.9.2: PyYAML, where `1e-4` is a string;
from 0.9.3: OmegaConf, where it is a float), then checks keys, types, choices, the sub-command the file is
for, cross-field rules from LLaMA-Factory's own parser, referenced files and secrets (`lfrefs`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftmllm_tui.core import lfrefs
from ftmllm_tui.core.lfschema import (
    GROUP_WORDS,
    Arg,
    Schema,
    available_versions,
    load,
    version_tuple,
)

_OMEGA_FLOAT = re.compile(r"^[-+]?(\d[\d_]*)?\.?\d*[eE][-+]?\d+$|^[-+]?\d[\d_]*\.\d*$")
_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str                # "error" | "warning" | "info"
    line: int                    # 1-based; 0 = the whole file
    col: int                     # 1-based
    message: str
    hint: str = ""
    key: str | None = None
    code: str = ""               # rule id, e.g. "unknown-key", "float-as-string"
    machine: bool = False        # depends on this machine (deep check), not on the file

    def where(self) -> str:
        return f"{self.line}:{self.col}" if self.line else "-"


@dataclass(frozen=True, slots=True)
class Report:
    command: str
    version: str
    findings: tuple[Finding, ...]
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)    # key → line
    syntax_ok: bool = True

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Collector:
    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, severity: str, node: Any, message: str, hint: str = "", *, key: str | None = None,
            code: str = "") -> None:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (0, 0)
        self.items.append(Finding(severity, line, col, message, hint, key, code))


# ---- reading ------------------------------------------------------------------------------------

def _scalar_value(node: yaml.Node, reader: str) -> Any:
    value = yaml.SafeLoader("").construct_object(node, deep=True)
    if reader == "omegaconf" and isinstance(node, yaml.ScalarNode) and node.style is None \
            and isinstance(value, str) and _OMEGA_FLOAT.match(value):
        try:
            return float(value.replace("_", ""))
        except ValueError:
            return value
    return value


def guess_command(values: Mapping[str, Any], path: Path | None = None) -> str:
    """Which llamafactory-cli sub-command the file is for, from its keys (then its name)."""
    if "export_dir" in values:
        return "export"
    train_markers = ("do_train", "do_predict", "do_eval", "output_dir", "stage", "learning_rate",
                     "per_device_train_batch_size", "num_train_epochs")
    if any(k in values for k in train_markers):
        return "train"
    if "task" in values and "save_dir" in values:
        return "eval"
    name = path.name.lower() if path else ""
    for word, cmd in (("export", "export"), ("merge", "export"), ("chat", "chat"), ("infer", "chat"),
                      ("eval", "eval"), ("api", "api")):
        if word in name:
            return cmd
    return "chat" if values else "train"


def _type_ok(arg: Arg, value: Any) -> bool:
    accepts = arg.accepts
    if "any" in accepts:
        return True
    if value is None:
        return "null" in accepts
    if isinstance(value, bool):
        return "bool" in accepts
    if isinstance(value, int):
        return bool(accepts & {"int", "float"})
    if isinstance(value, float):
        return "float" in accepts
    if isinstance(value, str):
        return "str" in accepts
    if isinstance(value, list):
        return "list" in accepts or ("str" in accepts and "comma" in arg.help.lower())
    if isinstance(value, dict):
        return "dict" in accepts
    return True


def _check_value(c: _Collector, arg: Arg, key: str, value: Any, node: yaml.Node, schema: Schema) -> None:
    raw = node.value if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, float) and "float" not in arg.accepts and "int" in arg.accepts:
        if value.is_integer():
            c.add("warning", node, f"{key} takes an integer; {raw} is a float", f"write {int(value)}",
                  key=key, code="type")
        else:
            c.add("error", node, f"{key} takes an integer, not {raw}", key=key, code="type")
        return
    if not _type_ok(arg, value):
        if isinstance(value, str) and "float" in arg.accepts and _looks_number(value):
            if node.style is None and schema.yaml_reader == "pyyaml":
                fixed = _yaml11_float(value)
                c.add("error", node, f"{key}: {value} is read as the string '{value}' by LLaMA-Factory "
                      f"{schema.version} (PyYAML follows YAML 1.1: an exponent needs a dot), and training "
                      "would crash later", f"write {fixed}", key=key, code="float-as-string")
            else:
                c.add("error", node, f"{key}: '{value}' is quoted, so it is a string, not a number",
                      f"remove the quotes: {value}", key=key, code="type")
            return
        if isinstance(value, str) and "bool" in arg.accepts and value.lower() in _YAML11_BOOLS:
            word = "true" if value.lower() in ("yes", "on", "y", "true") else "false"
            c.add("error", node, f"{key}: '{value}' is a quoted string; LLaMA-Factory passes it on as text "
                  "(any non-empty text counts as true)", f"write {word} without quotes", key=key, code="type")
            return
        if isinstance(value, bool) and arg.choices and raw is not None and raw.lower() in _YAML11_BOOLS:
            c.add("error", node, f"{key}: YAML reads {raw} as {str(value).lower()}, not as the text '{raw}'",
                  f'quote it: {key}: "{raw}"', key=key, code="choice")
            return
        shown = "null" if value is None else type(value).__name__
        c.add("error", node, f"{key} takes {arg.type_words()}, not {shown}" + (f" ({raw})" if raw else ""),
              key=key, code="type")
        return
    choices = schema.templates if key == "template" and schema.templates else arg.choices
    strict = True if key == "template" and schema.templates else arg.strict
    valid = [str(x) for x in choices or ()]
    if choices and strict and value is not None and not isinstance(value, (list, dict)) \
            and value not in choices and str(value) not in valid:
        near = difflib.get_close_matches(str(value), valid, n=3, cutoff=0.6)
        shown = ", ".join(valid) if len(valid) <= 12 else f"{len(valid)} choices, Ctrl+Space lists them"
        hint = f"did you mean {' or '.join(near)}?" if near else f"one of: {shown}"
        c.add("error", node, f"{key}: {value!r} is not a valid choice "
              "(LLaMA-Factory does not check this for YAML input; it fails later)", hint, key=key, code="choice")


def _looks_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _yaml11_float(text: str) -> str:
    """1e-4 → 1.0e-4: the spelling PyYAML reads as a float."""
    m = re.fullmatch(r"([-+]?)(\d+)([eE][-+]?\d+)", text.strip())
    return f"{m.group(1)}{m.group(2)}.0{m.group(3)}" if m else text


# ---- the whole file --------------------------------------------------------------------------------

def validate(text: str, *, schema: Schema | None = None, path: Path | None = None, command: str | None = None,
             workdir: Path | None = None, environ: Mapping[str, str] | None = None,
             check_files: bool = True) -> Report:
    schema = schema or load(available_versions()[-1])
    c = _Collector()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        msg = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        return Report(command or "train", schema.version,
                      (Finding("error", line, col, msg, "fix the YAML; nothing else is checked until then",
                               code="syntax"),), syntax_ok=False)
    if root is None:
        return Report(command or "train", schema.version,
                      (Finding("warning", 0, 0, "the file is empty", code="empty"),))
    if not isinstance(root, yaml.MappingNode):
        return Report(command or "train", schema.version,
                      (Finding("error", root.start_mark.line + 1, root.start_mark.column + 1,
                               "a LLaMA-Factory config is a mapping of keys to values (key: value)",
                               code="not-mapping"),))
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    nodes: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for knode, vnode in root.value:
        key = knode.value if isinstance(knode, yaml.ScalarNode) else None
        if not isinstance(key, str) or knode.tag != "tag:yaml.org,2002:str":
            c.add("error", knode, f"keys are names, not {knode.tag.rsplit(':', 1)[-1]}", code="key-type")
            continue
        if key in nodes:
            c.add("error", knode, f"{key} is set twice (first on line {lines[key]}); the last one wins",
                  "remove one of them", key=key, code="duplicate")
        try:
            values[key] = _scalar_value(vnode, schema.yaml_reader)
        except yaml.YAMLError as exc:
            c.add("error", vnode, f"{key}: {exc}", key=key, code="syntax")
            continue
        lines[key] = knode.start_mark.line + 1
        nodes[key] = (knode, vnode)

    cmd = command or guess_command(values, path)
    other = {v: load(v) for v in available_versions() if v != schema.version}
    for key, (knode, vnode) in nodes.items():
        arg = schema.args.get(key)
        if arg is None:
            _unknown_key(c, key, knode, schema, other)
            continue
        if not schema.applies(key, cmd):
            words = " / ".join(GROUP_WORDS[g] for g in arg.groups)
            suggest = "train" if "TrainingArguments" in arg.groups else "eval" if "EvaluationArguments" in \
                arg.groups else "train"
            c.add("error", knode, f"{key} is a {words} argument: `{cmd}` does not take it (LLaMA-Factory would "
                  "stop with 'Some keys are not used')", f"did you mean to open this with {suggest}?", key=key,
                  code="wrong-command")
            continue
        _check_value(c, arg, key, values[key], vnode, schema)

    _cross_field(c, values, nodes, cmd, schema)
    if cmd == "eval" and version_tuple(schema.version) >= (0, 9, 5):
        c.add("warning", None, f"llamafactory-cli eval raises NotImplementedError in LLaMA-Factory {schema.version}",
              "for predictions use train with do_predict: true and predict_with_generate: true", code="eval-gone")
    if check_files:
        for f in lfrefs.check(values, nodes, path=path, workdir=workdir, environ=environ, command=cmd):
            c.items.append(f)
    else:
        c.items.extend(lfrefs.secrets(values, nodes))
    order = {"error": 0, "warning": 1, "info": 2}
    found = sorted(c.items, key=lambda f: (order.get(f.severity, 3), f.line, f.col))
    return Report(cmd, schema.version, tuple(found), values, lines)


def _unknown_key(c: _Collector, key: str, node: yaml.Node, schema: Schema, other: dict[str, Schema]) -> None:
    elsewhere = [v for v, s in other.items() if key in s.args]
    near = difflib.get_close_matches(key, list(schema.args), n=3, cutoff=0.75)
    hint = f"did you mean {' or '.join(near)}?" if near else ""
    if elsewhere:
        hint = (f"{key} exists in LLaMA-Factory {', '.join(elsewhere)}, not in {schema.version} (the version in "
                "use)") + (f"; {hint}" if hint else "")
    c.add("error", node, f"unknown key {key} (LLaMA-Factory would stop with 'Some keys are not used')", hint,
          key=key, code="unknown-key")


def _truthy(values: Mapping[str, Any], key: str) -> bool:
    return values.get(key) is True


def _cross_field(c: _Collector, values: dict[str, Any], nodes: dict[str, tuple[yaml.Node, yaml.Node]],
                 cmd: str, schema: Schema) -> None:
    def at(key: str) -> yaml.Node | None:
        return nodes[key][0] if key in nodes else None

    ft = values.get("finetuning_type", schema.args["finetuning_type"].default if "finetuning_type" in
                    schema.args else "lora")
    if _truthy(values, "bf16") and _truthy(values, "fp16"):
        later = max(("bf16", "fp16"), key=lambda k: nodes[k][0].start_mark.line)
        c.add("error", at(later), "bf16 and fp16 are both true: pick one", "bf16 on Ampere or newer (A100, H100, "
              "H200), fp16 on older GPUs", key=later, code="bf16-fp16")
    if values.get("quantization_bit") is not None and ft not in ("lora", "oft"):
        c.add("error", at("quantization_bit"), f"quantization_bit with finetuning_type: {ft}: LLaMA-Factory only "
              "quantizes for LoRA (or OFT)", "use finetuning_type: lora, or remove quantization_bit",
              key="quantization_bit", code="quant-full")
    if values.get("adapter_name_or_path") and ft != "lora":
        c.add("error", at("adapter_name_or_path"), f"adapter_name_or_path with finetuning_type: {ft}: adapters "
              "are only valid for LoRA", "set finetuning_type: lora, or remove adapter_name_or_path",
              key="adapter_name_or_path", code="adapter-not-lora")
    if cmd != "train":
        return
    stage = values.get("stage", "sft")
    if stage != "sft" and _truthy(values, "predict_with_generate"):
        c.add("error", at("predict_with_generate"), f"predict_with_generate works with stage: sft only "
              f"(this is {stage})", key="predict_with_generate", code="predict-stage")
    if stage == "sft" and _truthy(values, "do_predict") and not _truthy(values, "predict_with_generate"):
        c.add("error", at("do_predict"), "do_predict needs predict_with_generate: true to save predictions",
              key="do_predict", code="predict-generate")
    if stage in ("rm", "ppo") and _truthy(values, "load_best_model_at_end"):
        c.add("error", at("load_best_model_at_end"), "RM and PPO stages do not support load_best_model_at_end",
              key="load_best_model_at_end", code="stage-best")
    if _truthy(values, "do_train") and not values.get("dataset"):
        c.add("error", at("do_train"), "do_train without a dataset", "add dataset: NAME (from dataset_info.json)",
              key="do_train", code="no-dataset")
    backend = values.get("infer_backend")
    if backend not in (None, "huggingface"):
        c.add("error", at("infer_backend"), f"infer_backend: {backend} is only for chat, webchat and api",
              "remove it from training configs", key="infer_backend", code="backend-train")
    if values.get("quantization_device_map") is not None and _truthy(values, "do_train"):
        c.add("error", at("quantization_device_map"), "quantization_device_map cannot be used for training",
              key="quantization_device_map", code="device-map-train")
