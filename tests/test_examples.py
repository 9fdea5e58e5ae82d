"""The curated configs in configs/: each validates clean with both shipped LLaMA-Factory schemas (once the
SFT adapter the chat/eval/export examples point at exists), holds no secret and no machine path."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ftmllm_tui.core.configs.lfschema import available_versions, load
from ftmllm_tui.core.configs.lfvalidate import validate

CONFIGS = Path(__file__).parents[1] / "configs"
EXAMPLES = sorted(CONFIGS.glob("*.yaml"))


def test_the_workflows_are_there():
    names = {p.name for p in EXAMPLES}
    assert {"qwen2.5vl_lora_sft.yaml", "qwen2.5vl_lora_sft_ds3.yaml", "qwen2.5vl_lora_dpo.yaml",
            "qwen2.5vl_chat_vllm.yaml", "qwen2.5vl_chat_hf.yaml", "qwen2.5vl_eval_4bit.yaml",
            "qwen2.5vl_eval_8bit.yaml", "qwen2.5vl_export_merge.yaml"} <= names
    assert (CONFIGS / "deepspeed" / "ds_z3_config.json").is_file()
    assert (CONFIGS / "data" / "dataset_info.json").is_file()


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of configs/ where the SFT run has produced its adapter (what chat/eval/export load)."""
    root = tmp_path_factory.mktemp("ex") / "configs"
    shutil.copytree(CONFIGS, root)
    adapter = root / "saves" / "qwen2.5vl-7b" / "lora" / "sft"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"r": 8, "base_model_name_or_path": "Qwen/Qwen2.5-VL-7B-Instruct"}')
    return root


@pytest.mark.parametrize("version", available_versions())
@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_example_validates_clean(tree, name, version):
    path = tree / name
    report = validate(path.read_text(), schema=load(version), path=path, workdir=tree)
    assert [(f.severity, f.line, f.message) for f in report.findings if f.severity != "info"] == []


def test_without_the_adapter_only_a_warning(tmp_path):
    path = CONFIGS / "qwen2.5vl_chat_hf.yaml"
    report = validate(path.read_text(), schema=load("0.9.5"), path=path, workdir=CONFIGS)
    assert report.ok and [f.code for f in report.warnings] == ["adapter-path"]


@pytest.mark.parametrize("path", [p for p in CONFIGS.rglob("*") if p.is_file()], ids=lambda p: p.name)
def test_no_secrets_and_no_machine_paths(path):
    text = path.read_text()
    assert not re.search(r"(api_key|token|secret)\s*:\s*\S", text, re.I), "a secret in an example"
    assert not re.search(r"/(home|data|root|mnt|Users)/", text), "a machine-specific path"
    code = "\n".join(line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"(?<![\d.])\d+[eE][-+]?\d", code), "write floats as 1.0e-4 (LLaMA-Factory 0.9.2 reads 1e-4 as text)"
