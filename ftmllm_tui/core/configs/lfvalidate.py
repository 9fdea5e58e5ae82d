"""Validate a LLaMA-Factory YAML config offline, against the shipped schema, with line and column.

Reads the text the way the LLaMA-Factory version in use does (0.9.2: PyYAML, where `1e-4` is a string;
from 0.9.3: OmegaConf, where it is a float), then checks keys, types, choices, the sub-command the file is
for, cross-field rules from LLaMA-Factory's own parser, referenced files and secrets (`lfrefs`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ftmllm_tui.core.configs import lfrefs, textenc
from ftmllm_tui.core.configs.lfschema import (
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
        # HfArgumentParser.parse_dict does not convert: the float reaches the trainer as it is
        # (per_device_train_batch_size: 2.0 -> "batch_size should be a positive integer value").
        fix = f"write {int(value)}" if value.is_integer() else "write a whole number"
        c.add("error", node, f"{key} takes a whole number, not {raw}: LLaMA-Factory passes the float on as it "
              "is and the run crashes later", fix, key=key, code="type")
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
        shown = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "text",
                 list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
        c.add("error", node, f"{key} takes {arg.type_words()}, not {shown}" + (f" ({raw})" if raw else ""),
              _type_hint(arg, key, value), key=key, code="type")
        return
    is_template = key == "template" and bool(schema.templates)
    choices = schema.templates if is_template else arg.choices
    strict = True if is_template else arg.strict
    valid = [str(x) for x in choices or ()]
    if choices and strict and value is not None and not isinstance(value, (list, dict)) \
            and value not in choices and str(value) not in valid:
        near = difflib.get_close_matches(str(value), valid, n=3, cutoff=0.6)
        shown = ", ".join(valid) if len(valid) <= 12 else f"{len(valid)} choices, Ctrl+Space lists them"
        hint = f"did you mean {' or '.join(near)}?" if near else f"one of: {shown}"
        if is_template:
            elsewhere = [v for v in available_versions() if v != schema.version and str(value) in load(v).templates]
            if elsewhere:
                hint = f"{value} is a template of LLaMA-Factory {', '.join(elsewhere)}; " + hint
            c.add("error", node, f"template: {value!r} is not a template of LLaMA-Factory {schema.version} "
                  "(it stops with 'Template does not exist' after loading the model)", hint, key=key,
                  code="choice")
            return
        # Literal choices are not checked when LLaMA-Factory reads a YAML file; enum ones (lr_scheduler_type,
        # eval_strategy, ...) are, by transformers, at start.
        when = "it is not checked at start: the run fails later" if arg.type_text.lstrip().startswith(
            ("Literal", "Optional[Literal")) else "LLaMA-Factory stops at start"
        c.add("error", node, f"{key}: {value!r} is not a valid choice ({when})", hint, key=key, code="choice")


def _type_hint(arg: Arg, key: str, value: Any) -> str:
    example = arg.default if arg.default is not None and not isinstance(arg.default, bool) else None
    if "any" in arg.accepts:
        return ""
    if "int" in arg.accepts and "float" not in arg.accepts:
        return f"write a whole number, e.g. {key}: {example if isinstance(example, int) else 1}"
    if "float" in arg.accepts:
        return f"write a number, e.g. {key}: {example if isinstance(example, (int, float)) else '1.0e-4'}"
    if "bool" in arg.accepts:
        return f"write {key}: true or {key}: false"
    if "str" in arg.accepts and isinstance(value, (int, float, bool)):
        return f'quote it: {key}: "{value if not isinstance(value, bool) else str(value).lower()}"'
    if "list" in arg.accepts:
        return f"write a list: {key}: [a, b]"
    if "dict" in arg.accepts:
        return "write a mapping (key: value lines indented under it), or a file path"
    if "null" in arg.accepts and value is None:
        return ""
    return f"delete the line to use the default ({arg.default!r})" if arg.default is not None else ""


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
    enc = textenc.scan(text)     # bytes that are not UTF-8 (kept as surrogate escapes), control chars, binary
    if not enc.ok:
        found = tuple(Finding("error", p.line, p.col, p.message, p.hint, code=p.code) for p in enc.problems)
        if enc.binary:
            return Report(command or "train", schema.version, found, syntax_ok=False)
        report = validate(enc.clean, schema=schema, path=path, command=command, workdir=workdir, environ=environ,
                          check_files=check_files)
        return replace(report, findings=found + report.findings)
    c = _Collector()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        cmark = getattr(exc, "context_mark", None)
        if context and cmark is not None and mark is not None and cmark.line != mark.line:
            context += f" that starts on line {cmark.line + 1}, column {cmark.column + 1}"
        if context and problem.startswith("but "):      # "expected a single document ..., but found another"
            msg = f"YAML syntax error: {context}, {problem}"
        else:
            msg = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        hint = "fix the YAML; nothing else is checked until then"
        if "'\\t'" in problem:
            hint = "YAML does not allow tabs for indentation: use spaces"
        return Report(command or "train", schema.version, (Finding("error", line, col, msg, hint, code="syntax"),),
                      syntax_ok=False)
    if root is None:
        return Report(command or "train", schema.version,
                      (Finding("warning", 0, 0, "the file is empty: no keys", "write one key: value per line, e.g. "
                               "model_name_or_path: Qwen/Qwen2.5-0.5B-Instruct", code="empty"),))
    if not isinstance(root, yaml.MappingNode):
        return Report(command or "train", schema.version,
                      (Finding("error", root.start_mark.line + 1, root.start_mark.column + 1,
                               "a LLaMA-Factory config is a mapping of keys to values, not "
                               f"{'a list' if isinstance(root, yaml.SequenceNode) else 'a single value'}",
                               "write one key: value per line, e.g. stage: sft", code="not-mapping"),))
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    nodes: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    explicit = {id(k) for k, _ in root.value}
    try:
        yaml.SafeLoader("").flatten_mapping(root)      # `<<: *anchor` merge keys, as both readers do
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or root.start_mark
        return Report(command or "train", schema.version,
                      (Finding("error", mark.line + 1, mark.column + 1, f"YAML merge key: {exc.problem}",
                               "fix the YAML; nothing else is checked until then", code="syntax"),),
                      syntax_ok=False)
    for knode, vnode in root.value:
        key = knode.value if isinstance(knode, yaml.ScalarNode) else None
        if not isinstance(key, str) or knode.tag != "tag:yaml.org,2002:str":
            shown = knode.value if isinstance(knode, yaml.ScalarNode) else knode.tag.rsplit(":", 1)[-1]
            c.add("error", knode, f"key {shown} is not a name: LLaMA-Factory's keys are words such as "
                  "learning_rate", "fix or delete this key", code="key-type")
            continue
        if key in nodes and id(knode) in explicit and id(nodes[key][0]) in explicit:
            if schema.yaml_reader == "omegaconf":
                c.add("error", knode, f"{key} is set twice (first on line {lines[key]}): LLaMA-Factory "
                      f"{schema.version} stops with 'found duplicate key'", "remove one of them", key=key,
                      code="duplicate")
            else:
                c.add("warning", knode, f"{key} is set twice (first on line {lines[key]}); LLaMA-Factory "
                      f"{schema.version} uses the last one", "remove one of them", key=key, code="duplicate")
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
    """The checks of LLaMA-Factory's own parser (hparams/parser.py, data_args.py) that need no machine."""
    def at(key: str) -> yaml.Node | None:
        return nodes[key][0] if key in nodes else None

    ft_arg = schema.args.get("finetuning_type")
    ft = values.get("finetuning_type", ft_arg.default if ft_arg else "lora")
    if _truthy(values, "bf16") and _truthy(values, "fp16"):
        later = max(("bf16", "fp16"), key=lambda k: nodes[k][0].start_mark.line)
        c.add("error", at(later), "bf16 and fp16 are both true: pick one", "bf16 on Ampere or newer (A100, H100, "
              "H200), fp16 on older GPUs", key=later, code="bf16-fp16")
    quant_ok = tuple(t for t in ("lora", "oft") if ft_arg is None or t in (ft_arg.choices or ("lora",)))
    if values.get("quantization_bit") is not None and ft not in quant_ok:
        c.add("error", at("quantization_bit"), f"quantization_bit with finetuning_type: {ft}: LLaMA-Factory "
              f"{schema.version} only quantizes for {' or '.join({'lora': 'LoRA', 'oft': 'OFT'}[t] for t in quant_ok)}",
              "use finetuning_type: lora, or remove quantization_bit", key="quantization_bit", code="quant-full")
    if values.get("adapter_name_or_path") and ft != "lora":
        c.add("error", at("adapter_name_or_path"), f"adapter_name_or_path with finetuning_type: {ft}: adapters "
              "are only valid for LoRA", "set finetuning_type: lora, or remove adapter_name_or_path",
              key="adapter_name_or_path", code="adapter-not-lora")
    val_size = values.get("val_size")
    has_val = isinstance(val_size, (int, float)) and not isinstance(val_size, bool) and val_size > 1e-6
    if has_val and values.get("eval_dataset"):
        c.add("error", at("val_size"), "val_size and eval_dataset together: LLaMA-Factory takes one or the other",
              "keep eval_dataset and remove val_size, or the other way round", key="val_size", code="val-size")
    elif has_val and not values.get("dataset"):
        c.add("error", at("val_size"), "val_size without a dataset: there is nothing to split",
              "add dataset: NAME, or remove val_size", key="val_size", code="val-size")
    if cmd != "train":
        return
    stage = values.get("stage", "sft")
    if stage != "sft" and _truthy(values, "predict_with_generate"):
        c.add("error", at("predict_with_generate"), f"predict_with_generate works with stage: sft only "
              f"(this is {stage})", "remove predict_with_generate; to predict, run a separate config with stage: sft",
              key="predict_with_generate", code="predict-stage")
    if stage == "sft" and _truthy(values, "do_predict") and not _truthy(values, "predict_with_generate"):
        c.add("error", at("do_predict"), "do_predict needs predict_with_generate: true to save predictions",
              "add predict_with_generate: true", key="do_predict", code="predict-generate")
    _eval_data(c, values, at, schema, has_val)
    if stage in ("rm", "ppo") and _truthy(values, "load_best_model_at_end"):
        c.add("error", at("load_best_model_at_end"), "RM and PPO stages do not support load_best_model_at_end",
              "remove load_best_model_at_end", key="load_best_model_at_end", code="stage-best")
    if _truthy(values, "do_train") and not values.get("dataset"):
        c.add("error", at("do_train"), "do_train without a dataset", "add dataset: NAME (from dataset_info.json)",
              key="do_train", code="no-dataset")
    backend = values.get("infer_backend")
    if backend not in (None, "huggingface"):
        c.add("error", at("infer_backend"), f"infer_backend: {backend} is only for chat, webchat and api",
              "remove it from training configs", key="infer_backend", code="backend-train")
    if values.get("quantization_device_map") is not None and _truthy(values, "do_train"):
        c.add("error", at("quantization_device_map"), "quantization_device_map cannot be used for training",
              "remove quantization_device_map", key="quantization_device_map", code="device-map-train")


def _eval_data(c: _Collector, values: dict[str, Any], at, schema: Schema, has_val: bool) -> None:
    """Evaluation and prediction need eval data: eval_dataset, or val_size to split some off the dataset
    (0.9.2: predict_with_generate needs eval_dataset itself). transformers turns do_eval on when
    eval_strategy is not "no"."""
    if values.get("eval_dataset"):
        return
    strategy = values.get("eval_strategy", "no")
    evaluates = _truthy(values, "do_eval") or strategy not in ("no", None, False)
    new = version_tuple(schema.version) >= (0, 9, 3)
    wants = [k for k, on in (("do_eval", _truthy(values, "do_eval")), ("eval_strategy", evaluates),
                             ("do_predict", _truthy(values, "do_predict")),
                             ("predict_with_generate", new and _truthy(values, "predict_with_generate"))) if on]
    if wants and not has_val:
        c.add("error", at(wants[0]), f"{wants[0]} needs evaluation data, and there is no eval_dataset or val_size",
              "add eval_dataset: NAME, or val_size: 0.1 to hold out 10% of the dataset", key=wants[0],
              code="eval-data")
    elif not new and _truthy(values, "predict_with_generate"):
        c.add("error", at("predict_with_generate"), f"predict_with_generate needs eval_dataset in LLaMA-Factory "
              f"{schema.version} (val_size is not enough)", "add eval_dataset: NAME and remove val_size",
              key="predict_with_generate", code="eval-data")
