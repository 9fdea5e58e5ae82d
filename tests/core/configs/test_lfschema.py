"""The shipped LLaMA-Factory schemas: generated from LLaMA-Factory's own argument dataclasses.

The reference dumps in tests/data/lfconfigs/ are copies of the team's reference dumps (0.9.5 with
transformers 5.6, and the pinned commit 142fd7e of 0.9.2 with transformers 4.49); their help texts are cut
at 300 characters. The test against the installed LLaMA-Factory needs `.venv-lf` (`make lf-env`; `make test`
creates it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ftmllm_tui.core.configs.lfschema import (
    available_versions,
    load,
    normalize,
    pick_version,
    type_kinds,
    version_tuple,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "lfconfigs"
SHIPPED = ROOT / "ftmllm_tui" / "data" / "lf_schema"
LF_PYTHON = ROOT / ".venv-lf" / "bin" / "python"
REF_095 = DATA / "llamafactory_args_v0.9.5_tf5.6.json"
REF_092 = DATA / "llamafactory_args_pinned_142fd7e_tf4.49.json"
HELP_CUT = 300  # the reference dumps keep the first 300 characters of each help text

needs_lf = pytest.mark.skipif(not LF_PYTHON.exists(), reason="the LLaMA-Factory test environment .venv-lf is "
                              "missing: run `make lf-env` (make test creates it)")


def _gen_module():
    spec = importlib.util.spec_from_file_location("gen_lf_schema", ROOT / "scripts" / "gen_lf_schema.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _lf_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLCONFIGDIR=str(tmp / "mpl"))
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def installed_dump(tmp_path_factory) -> dict:
    """scripts/lf_dump_args.py run by the training environment's Python (LLaMA-Factory 0.9.5)."""
    if not LF_PYTHON.exists():
        pytest.skip("the LLaMA-Factory test environment .venv-lf is missing: run `make lf-env` "
                    "(make test creates it)")
    tmp = tmp_path_factory.mktemp("dump")
    r = subprocess.run([str(LF_PYTHON), str(ROOT / "scripts" / "lf_dump_args.py")], check=False, capture_output=True,
                       text=True, timeout=110, cwd=tmp, env=_lf_env(tmp))
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


# ---- (a) the generator against the installed LLaMA-Factory ---------------------------------------

@needs_lf
@pytest.mark.timeout(240)
def test_normalized_dump_of_installed_llamafactory_equals_shipped_095(installed_dump):
    assert installed_dump["llamafactory"] == "0.9.5"
    shipped = json.loads((SHIPPED / "0.9.5.json").read_text())
    fresh = normalize(installed_dump)
    assert fresh.keys() == shipped.keys()
    assert fresh["templates"] == shipped["templates"] and len(fresh["templates"]) > 50
    changed = sorted(n for n in fresh["args"].keys() | shipped["args"].keys()
                     if fresh["args"].get(n) != shipped["args"].get(n))
    assert changed == [], f"regenerate: .venv/bin/python scripts/gen_lf_schema.py --python {LF_PYTHON}"
    assert fresh == shipped


@needs_lf
@pytest.mark.timeout(240)
def test_gen_lf_schema_script_writes_the_shipped_file(tmp_path):
    out = tmp_path / "0.9.5.json"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_lf_schema.py"), "--python", str(LF_PYTHON),
                        "--out", str(out)], check=False, capture_output=True, text=True, timeout=200, cwd=tmp_path,
                       env=_lf_env(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "353 arguments" in r.stdout and "llamafactory 0.9.5" in r.stdout
    assert out.read_text() == (SHIPPED / "0.9.5.json").read_text()


@needs_lf
@pytest.mark.timeout(240)
def test_installed_dump_matches_the_reference_dump(installed_dump):
    ref = json.loads(REF_095.read_text())
    assert (installed_dump["llamafactory"], installed_dump["transformers"]) == (ref["llamafactory"],
                                                                             ref["transformers"])
    assert list(installed_dump["groups"]) == list(ref["groups"])
    cut = 0
    for group, ref_entries in ref["groups"].items():
        mine = installed_dump["groups"][group]
        assert [e["name"] for e in mine] == [e["name"] for e in ref_entries], group
        for m, r in zip(mine, ref_entries, strict=True):
            where = f"{group}.{r['name']}"
            assert m["type"] == r["type"], where
            assert m["default"] == r["default"], where
            assert m["choices"] == r["choices"], where
            ref_help, my_help = r["help"] or "", m["help"] or ""
            if len(ref_help) == HELP_CUT:
                assert my_help.startswith(ref_help), where
                cut += len(my_help) > HELP_CUT
            else:
                assert my_help == ref_help, where
    assert cut == 3   # log_level / trackio help texts longer than the reference keeps


# ---- (b) type strings -> accepted YAML kinds ------------------------------------------------------

@pytest.mark.parametrize(("text", "kinds"), [
    ("str | None", {"str", "null"}),
    ("Optional[List[str]]", {"list", "null"}),
    ("<class 'float'>", {"float", "int"}),                 # 2 is a fine learning rate multiplier
    ("<class 'int'>", {"int"}),
    ("<class 'bool'>", {"bool"}),
    ("Union[str, NoneType, Literal[False]]", {"str", "null", "bool"}),
    ("<enum 'EngineName'>", {"str"}),
    ("transformers.trainer_utils.SchedulerType | str", {"str"}),
    ("Union[transformers.trainer_utils.IntervalStrategy, str]", {"str"}),
    ("dict[str, Any] | str | None", {"dict", "str", "null"}),
    ("Optional[Literal['auto']]", {"str", "null"}),
    ("Literal[4, 8]", {"int"}),
    ("list[str] | None", {"list", "null"}),
    ("Any", {"any"}),
    ("transformers.generation.configuration_utils.GenerationConfig | None", {"dict", "str", "null"}),
])
def test_type_kinds(text, kinds):
    assert type_kinds(text) == kinds


def _dump(*entries, group="ModelArguments"):
    return {"llamafactory": "9.9.9", "transformers": "1.0", "groups": {group: list(entries)},
            "templates": ["qwen", "llama3", "default"]}


def test_normalize_adds_null_for_a_none_default_and_sorts_templates():
    s = normalize(_dump({"name": "cache_dir", "type": "<class 'str'>", "default": None, "choices": None,
                         "help": "Where to store"}))
    assert s["args"]["cache_dir"] == {"groups": ["ModelArguments"], "accepts": ["null", "str"], "choices": None,
                                      "strict": False, "default": None, "help": "Where to store",
                                      "type": "<class 'str'>"}
    assert s["templates"] == ["default", "llama3", "qwen"] and s["llamafactory"] == "9.9.9"


def test_normalize_choices_strict_unless_literal_false_beside_any_string():
    s = normalize(_dump(
        {"name": "stage", "type": "Literal['pt', 'sft']", "default": "sft", "choices": ["pt", "sft"], "help": ""},
        {"name": "use_reentrant_gc", "type": "Union[str, NoneType, Literal[False]]", "default": None,
         "choices": [False], "help": ""},
        {"name": "log_level", "type": "str", "default": "passive", "choices": None, "help": "",
         "metadata_choices": ["debug", "info", "passive"]}))["args"]
    assert s["stage"]["strict"] is True and s["stage"]["choices"] == ["pt", "sft"]
    assert s["use_reentrant_gc"]["strict"] is False                 # False or any string
    assert s["log_level"]["choices"] == ["debug", "info", "passive"] and s["log_level"]["strict"] is True


def test_normalize_keeps_every_group_of_a_name():
    entry = {"name": "seed", "type": "<class 'int'>", "default": 42, "choices": None, "help": "seed"}
    dump = _dump(entry)
    dump["groups"]["EvaluationArguments"] = [dict(entry)]
    assert normalize(dump)["args"]["seed"]["groups"] == ["ModelArguments", "EvaluationArguments"]


def test_type_words_reads_as_english():
    s = load("0.9.5")
    assert s.args["per_device_train_batch_size"].type_words() == "a whole number"
    assert s.args["learning_rate"].type_words() == "a number"
    assert s.args["quantization_bit"].type_words() == "a whole number or null"
    assert s.args["bf16"].type_words() == "true or false"


# ---- (c) which shipped schema for a version -------------------------------------------------------

def test_shipped_versions():
    assert available_versions() == ["0.9.2", "0.9.5"]
    assert version_tuple("0.9.5.dev0+g1234") == (0, 9, 5)


@pytest.mark.parametrize(("found", "setting", "picked"), [
    ("0.9.2", None, "0.9.2"),
    ("0.9.3", None, "0.9.2"),          # the newest shipped one not newer than what is installed
    ("0.9.4.dev0", None, "0.9.2"),
    ("0.9.5", None, "0.9.5"),
    ("0.10.0", None, "0.9.5"),
    ("0.9.1", None, "0.9.2"),          # older than all: the oldest
    (None, None, "0.9.5"),             # nothing found: the newest
    (None, "auto", "0.9.5"),
    ("0.9.5", "0.9.2", "0.9.2"),       # the setting wins
    ("0.9.2", "0.9.5", "0.9.5"),
    ("0.9.5", "auto", "0.9.5"),
])
def test_pick_version(found, setting, picked):
    assert pick_version(found, setting) == picked


# ---- (d) the 0.9.2 schema (pinned commit; not installable here) -----------------------------------

def test_shipped_092_is_the_normalized_pinned_reference_dump():
    shipped = json.loads((SHIPPED / "0.9.2.json").read_text())
    dump = json.loads(REF_092.read_text())
    assert dump["llamafactory"] == "0.9.2" and "templates" not in dump
    dump["templates"] = shipped["templates"]       # read from the 0.9.2 wheel by gen_lf_schema --templates
    assert normalize(dump) == shipped
    assert "qwen" in shipped["templates"] and "qwen3" not in shipped["templates"]
    assert len(shipped["templates"]) == 83


def test_092_and_095_differ_where_llamafactory_did():
    old, new = load("0.9.2"), load("0.9.5")
    assert old.yaml_reader == "pyyaml" and new.yaml_reader == "omegaconf"
    assert "enable_thinking" in new.args and "enable_thinking" not in old.args
    assert "evaluation_strategy" in old.args and "evaluation_strategy" not in new.args
    assert old.args["finetuning_type"].choices == ("lora", "freeze", "full")
    assert new.args["finetuning_type"].choices == ("lora", "oft", "freeze", "full")


TEMPLATE_PY = '''
from .formatter import EmptyFormatter

def register_template(name, format_user=None, **kwargs):
    TEMPLATES[name] = kwargs

register_template(
    name="qwen",
    format_user=StringFormatter(slots=["<|im_start|>user\\n{{content}}<|im_end|>\\n"]),
)
register_template(name="llama3", format_user=None)
register_template(name="qwen")            # registered twice: listed once
other_call(name="not_a_template")
register_template(name=dynamic_name)      # not a literal: skipped
'''


def test_templates_from_source():
    gen = _gen_module()
    assert gen.templates_from_source(TEMPLATE_PY) == ["llama3", "qwen"]


def test_templates_from_a_wheel(tmp_path):
    gen = _gen_module()
    wheel = tmp_path / "llamafactory-0.9.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llamafactory/data/template.py", TEMPLATE_PY)
    assert gen.templates_from(wheel) == ["llama3", "qwen"]
    src = tmp_path / "template.py"
    src.write_text(TEMPLATE_PY)
    assert gen.templates_from(src) == ["llama3", "qwen"]


def test_gen_lf_schema_from_a_dump_with_templates(tmp_path):
    wheel = tmp_path / "llamafactory-0.9.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llamafactory/data/template.py", TEMPLATE_PY)
    out = tmp_path / "schema.json"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_lf_schema.py"), "--dump", str(REF_092),
                        "--templates", str(wheel), "--out", str(out)], check=False, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["templates"] == ["llama3", "qwen"] and data["llamafactory"] == "0.9.2"
    assert data["args"] == json.loads((SHIPPED / "0.9.2.json").read_text())["args"]
