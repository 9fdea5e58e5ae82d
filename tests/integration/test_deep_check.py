"""The deep check: LLaMA-Factory's own parser (get_train_args) run on a config in the training environment
(`.venv-lf`: LLaMA-Factory 0.9.5, CPU torch; `make test` creates it), on the tiny model's real config built
offline by tests/lf/build_tiny.py. Also: finding that environment's Python and version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftmllm_tui.core.configs.lfenv import (
    choose_schema,
    deep_check,
    detect_version,
    env_python,
    is_machine,
)
from ftmllm_tui.core.configs.lfschema import load
from ftmllm_tui.core.configs.lfvalidate import validate

ROOT = Path(__file__).resolve().parents[2]
LF_BIN = ROOT / ".venv-lf" / "bin"
LF_CLI = LF_BIN / "llamafactory-cli"
BUILD = ROOT / "tests" / "lf" / "build_tiny.py"

needs_lf = pytest.mark.skipif(not LF_CLI.exists(), reason="the LLaMA-Factory test environment .venv-lf is "
                              "missing: run `make lf-env` (make test creates it)")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """OUTDIR/tiny_lora_sft.yaml with its model and data (4 s, once for this module)."""
    if not LF_CLI.exists():
        pytest.skip("the LLaMA-Factory test environment .venv-lf is missing: run `make lf-env`")
    ws = tmp_path_factory.mktemp("tiny")
    r = subprocess.run([str(LF_BIN / "python"), str(BUILD), str(ws)], check=False, capture_output=True, text=True,
                       timeout=110, cwd=ws, env=dict(os.environ, HF_HUB_OFFLINE="1", MPLCONFIGDIR=str(ws / "mpl")))
    assert r.returncode == 0, r.stderr[-2000:]
    return Path(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def python() -> list[str]:
    found = env_python(str(LF_CLI), os.environ)
    assert found is not None
    return found


def deep(text: str, cfg: Path, python: list[str], command: str = "train"):
    return deep_check(text, command, python, workdir=cfg.parent, name=cfg.name,
                      environ=dict(os.environ, HF_HUB_OFFLINE="1", MPLCONFIGDIR=str(cfg.parent / "mpl")))


# ---- finding the training environment ---------------------------------------------------------------

@needs_lf
def test_env_python_from_the_console_script_shebang():
    found = env_python(str(LF_CLI), os.environ)
    first = LF_CLI.read_text().splitlines()[0]
    assert found == [first[2:].strip()]                      # pip writes the venv's python into the shebang
    assert Path(found[0]).parent.resolve() == LF_BIN.resolve() and Path(found[0]).name.startswith("python")


@needs_lf
def test_env_python_by_name_on_path():
    env = dict(os.environ, PATH=f"{LF_BIN}{os.pathsep}/usr/bin:/bin")
    found = env_python("llamafactory-cli", env)
    assert found is not None and Path(found[0]).parent.resolve() == LF_BIN.resolve()


def test_env_python_for_a_prefix():
    assert env_python("env llamafactory-cli") == ["env", "python"]
    assert env_python("conda run --no-capture-output -n lf llamafactory-cli") == [
        "conda", "run", "--no-capture-output", "-n", "lf", "python"]


def test_env_python_setting_wins():
    assert env_python(str(LF_CLI), setting="/opt/envs/lf/bin/python -X utf8") == ["/opt/envs/lf/bin/python",
                                                                                "-X", "utf8"]


def test_env_python_from_an_env_shebang_and_from_beside(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_py = bin_dir / "python3"
    fake_py.symlink_to(sys.executable)
    cli = bin_dir / "llamafactory-cli"
    cli.write_text("#!/usr/bin/env python3\nprint('hi')\n")
    cli.chmod(0o755)
    env = {"PATH": str(bin_dir)}
    assert env_python("llamafactory-cli", env) == [str(fake_py)]
    cli.write_text("echo a binary launcher without a python shebang\n")   # then: the python beside it
    (bin_dir / "python").symlink_to(sys.executable)
    assert env_python("llamafactory-cli", env) == [str(bin_dir / "python")]
    assert env_python("no-such-llamafactory-cli", env) is None


@needs_lf
def test_detect_version(python):
    assert detect_version(python) == "0.9.5"
    assert detect_version(None) is None
    assert detect_version(["/nonexistent/python"]) is None
    schema, why = choose_schema("auto", python)
    assert schema.version == "0.9.5" and "training environment" in why
    schema, why = choose_schema("0.9.2", python)                 # the setting wins
    assert schema.version == "0.9.2" and "configs.llamafactory_version" in why


# ---- which errors are the machine's ------------------------------------------------------------------

@pytest.mark.parametrize(("message", "error_type", "machine"), [
    # messages as LLaMA-Factory 0.9.5 / transformers 5.6 raise them
    ("Your setup doesn't support bf16/gpu. You need to assign use_cpu if you want to train the model on CPU.",
     "ValueError", True),
    ("This device does not support `pure_bf16`.", "ValueError", True),
    ("Please launch distributed training with `llamafactory-cli` or `torchrun`.", "ValueError", True),
    ("Please use `FORCE_TORCHRUN=1` to launch DeepSpeed training.", "ValueError", True),
    (("No package metadata was found for The 'deepspeed>=0.9.3' distribution was not found and is required by "
      "this application. To fix: run `pip install deepspeed>=0.9.3`."), "PackageNotFoundError", True),
    ("No module named 'vllm'", "ModuleNotFoundError", True),
    ("At most one of fp16 and bf16 can be True, but not both", "ValueError", False),
    ("`predict_with_generate` is incompatible with DeepSpeed ZeRO-3.", "ValueError", False),
    ("Unsloth is incompatible with DeepSpeed ZeRO-3.", "ValueError", False),
    ("vLLM/SGLang backend is only available for API, CLI and Web.", "ValueError", False),
    ("RM and PPO stages do not support `load_best_model_at_end`.", "ValueError", False),
    ("Some specified arguments are not used by the HfArgumentParser: ['lerning_rate']", "ValueError", False),
    ("found duplicate key seed", "ConstructorError", False),
])
def test_is_machine(message, error_type, machine):
    assert is_machine(message, error_type) is machine


# ---- LLaMA-Factory's own parser on the tiny model's config ------------------------------------------

@needs_lf
@pytest.mark.timeout(180)
def test_clean_config_passes_both_checks(tiny, python):
    text = tiny.read_text()
    assert validate(text, schema=load("0.9.5"), path=tiny, workdir=tiny.parent).findings == ()
    r = deep(text, tiny, python)
    assert r.ok is True, r.message + "\n" + r.detail
    assert r.version == "0.9.5" and r.error_type == "" and r.seconds > 0
    assert not (tiny.parent / "saves").exists()               # parsing only: nothing trained, nothing written


@needs_lf
@pytest.mark.timeout(180)
def test_merge_key_is_accepted_by_both(tiny, python):
    text = tiny.read_text() + "<<: {lora_alpha: 16, lora_dropout: 0.05}\n"
    assert validate(text, schema=load("0.9.5"), path=tiny, workdir=tiny.parent).findings == ()
    r = deep(text, tiny, python)
    assert r.ok is True, r.message


@needs_lf
@pytest.mark.timeout(180)
def test_unknown_key_is_a_file_error(tiny, python):
    text = tiny.read_text().replace("learning_rate:", "lerning_rate:")
    r = deep(text, tiny, python)
    assert (r.ok, r.machine, r.error_type) == (False, False, "ValueError")
    assert "lerning_rate" in r.message and "not used by the HfArgumentParser" in r.message


@needs_lf
@pytest.mark.timeout(180)
def test_bf16_on_this_cpu_machine_is_a_machine_error(tiny, python):
    text = tiny.read_text().replace("use_cpu: true\n", "") + "bf16: true\n"
    assert validate(text, schema=load("0.9.5"), path=tiny, workdir=tiny.parent).findings == ()
    r = deep(text, tiny, python)
    assert (r.ok, r.machine) == (False, True), r.message
    assert "bf16" in r.message


@needs_lf
@pytest.mark.timeout(180)
@pytest.mark.parametrize(("old", "new", "words", "rule"), [
    # GPU words in the message, but the file is at fault
    ("use_cpu: true\n", "use_cpu: true\nbf16: true\nfp16: true\n", "At most one of fp16 and bf16", "bf16-fp16"),
    ("stage: sft\n", "stage: dpo\npredict_with_generate: true\n", "except SFT", "predict-stage"),
    ("seed: 0\n", "seed: 0\nseed: 1\n", "found duplicate key", "duplicate"),   # 0.9.5 reads YAML with OmegaConf
    ("lr_scheduler_type: cosine", "lr_scheduler_type: cosin", "not a valid SchedulerType", "choice"),
    ("use_cpu: true\n", "use_cpu: true\neval_strategy: steps\neval_steps: 10\n", "Please make sure eval_dataset",
     "eval-data"),                                            # transformers turns do_eval on; no eval data
    ("use_cpu: true\n", "use_cpu: true\nval_size: 0.1\neval_dataset: tiny\n", "Cannot specify `val_size`",
     "val-size"),
])
def test_file_errors_agree_with_the_offline_validator(tiny, python, old, new, words, rule):
    text = tiny.read_text()
    assert old in text
    text = text.replace(old, new)
    r = deep(text, tiny, python)
    assert (r.ok, r.machine) == (False, False), r.message
    assert words in r.message
    offline = validate(text, schema=load("0.9.5"), path=tiny, workdir=tiny.parent)
    assert rule in {f.code for f in offline.errors}


# ---- `ftmllm-tui validate --deep` -------------------------------------------------------------------

def cli(tiny: Path, cfg: Path, *args):
    env = dict(os.environ, FTMLLM_LLAMAFACTORY_CLI=str(LF_CLI), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT),
               XDG_CONFIG_HOME=str(tiny.parent / "xdg-config"), XDG_STATE_HOME=str(tiny.parent / "xdg-state"),
               MPLCONFIGDIR=str(tiny.parent / "mpl"))
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "validate", str(cfg), "--deep", *args],
                          check=False, capture_output=True, text=True, env=env, cwd=tiny.parent, timeout=170)


@needs_lf
@pytest.mark.timeout(180)
def test_cli_deep_clean_exits_0(tiny):
    r = cli(tiny, tiny)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deep check: LLaMA-Factory 0.9.5 accepts it" in r.stdout
    assert "LLaMA-Factory 0.9.5 (training environment)" in r.stdout      # the schema came from .venv-lf


@needs_lf
@pytest.mark.timeout(180)
def test_cli_deep_machine_error_exits_0(tiny):
    cfg = tiny.with_name("bf16.yaml")
    cfg.write_text(tiny.read_text().replace("use_cpu: true\n", "") + "bf16: true\n")
    r = cli(tiny, cfg, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True and out["findings"] == []
    assert out["deep"]["ok"] is False and out["deep"]["machine"] is True and out["deep"]["version"] == "0.9.5"


@needs_lf
@pytest.mark.timeout(180)
def test_cli_deep_file_error_exits_1(tiny):
    # a rule only LLaMA-Factory's parser knows (DataArguments): the deep check alone fails the file
    cfg = tiny.with_name("history.yaml")
    cfg.write_text(tiny.read_text() + "train_on_prompt: true\nmask_history: true\n")
    r = cli(tiny, cfg, "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False
    assert out["deep"]["ok"] is False and out["deep"]["machine"] is False
    assert "mask_history" in out["deep"]["message"]
    r = cli(tiny, cfg)
    assert r.returncode == 1 and "deep check (error): ValueError" in r.stdout
