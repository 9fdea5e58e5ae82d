"""The offline validator on real files: a clean LLaMA-Factory SFT config, then broken copies of it, each
breaking one rule, which must fire exactly once, at the right line and column, with a useful hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftmllm_tui.core.configs.lfschema import load
from ftmllm_tui.core.configs.lfvalidate import guess_command, validate

CLEAN = """\
### model
model_name_or_path: models/qwen2.5-0.5b
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
deepspeed: ds_z2_config.json

### dataset
dataset: alpaca_en_demo
dataset_dir: data
template: qwen
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16

### output
output_dir: saves/qwen2.5-0.5b/lora/sft
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
report_to: none  # choices: [none, wandb, tensorboard, swanlab, mlflow]

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000

### eval
val_size: 0.1
per_device_eval_batch_size: 1
eval_strategy: steps
eval_steps: 500
"""

CHAT = """\
model_name_or_path: models/qwen2.5-0.5b
adapter_name_or_path: saves/lora-adapter
template: qwen
infer_backend: huggingface  # choices: [huggingface, vllm, sglang]
finetuning_type: lora
"""

DS_Z2 = {"train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
         "bf16": {"enabled": "auto"}, "zero_optimization": {"stage": 2, "overlap_comm": False,
                                                             "contiguous_gradients": True}}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A working directory as LLaMA-Factory's examples expect it: data/, a model folder, DeepSpeed configs."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dataset_info.json").write_text(json.dumps({
        "alpaca_en_demo": {"file_name": "alpaca_en_demo.json"},
        "identity": {"file_name": "identity.json"},
        "dpo_en_demo": {"file_name": "dpo_en_demo.json", "ranking": True, "formatting": "sharegpt",
                        "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}},
    }, indent=2))
    model = tmp_path / "models" / "qwen2.5-0.5b"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"model_type": "qwen2", "hidden_size": 896}\n')
    (model / "model.safetensors").write_bytes(b"")
    (tmp_path / "models" / "no-config").mkdir()
    (tmp_path / "models" / "config-only").mkdir()
    (tmp_path / "models" / "config-only" / "config.json").write_text('{"model_type": "qwen2"}\n')
    (tmp_path / "ds_z2_config.json").write_text(json.dumps(DS_Z2, indent=2))
    z3 = dict(DS_Z2, zero_optimization={"stage": 3, "stage3_gather_16bit_weights_on_model_save": True})
    (tmp_path / "ds_z3_config.json").write_text(json.dumps(z3, indent=2))
    (tmp_path / "ds_broken.json").write_text('{\n  "zero_optimization": {\n    "stage": 2,\n  }\n}\n')
    adapter = tmp_path / "saves" / "lora-adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"r": 8}\n')
    (tmp_path / "saves" / "a-file").write_text("not a folder\n")
    return tmp_path


def check(ws: Path, text: str, version: str = "0.9.5", **kw):
    cfg = ws / "qwen_lora_sft.yaml"
    cfg.write_text(text)
    return validate(cfg.read_text(), schema=load(version), path=cfg, workdir=ws, **kw)


def edit(old: str, new: str, text: str = CLEAN) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """The 1-based line that starts with needle (else the one that holds it)."""
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines, 1) if line.startswith(needle)] or \
        [i for i, line in enumerate(lines, 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def col_of(text: str, needle: str, within: str) -> int:
    line = text.splitlines()[line_of(text, within) - 1]
    return line.index(needle) + 1


def one(report, code: str):
    """The report has exactly one finding, with rule `code`."""
    assert [(f.code, f.severity, f.line, f.message) for f in report.findings if f.code == code], report.findings
    assert len(report.findings) == 1, report.findings
    return report.findings[0]


# ---- clean ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["0.9.2", "0.9.5"])
def test_clean_config_has_no_findings(ws, version):
    r = check(ws, CLEAN, version)
    assert r.findings == () and r.ok and r.syntax_ok
    assert r.command == "train" and r.version == version
    assert r.values["learning_rate"] == 1.0e-4 and r.values["report_to"] == "none"
    assert r.lines["learning_rate"] == line_of(CLEAN, "learning_rate:")


@pytest.mark.parametrize("version", ["0.9.2", "0.9.5"])
def test_clean_chat_config_has_no_findings(ws, version):
    r = check(ws, CHAT, version)
    assert r.command == "chat" and r.findings == ()


def test_clean_with_windows_line_endings_keeps_lines(ws):
    text = edit("lora_rank: 8", "lora_rank: 8\nlerning_rate: 1").replace("\n", "\r\n")
    f = one(check(ws, text), "unknown-key")
    assert (f.line, f.col) == (10, 1)


# ---- YAML itself ----------------------------------------------------------------------------------

def test_syntax_error_unclosed_bracket(ws):
    text = edit("lora_rank: 8", "lora_rank: [8")
    r = check(ws, text)
    f = one(r, "syntax")
    assert r.syntax_ok is False and f.severity == "error"
    # PyYAML notices on the next line; the message points back at the bracket
    assert (f.line, f.col) == (line_of(text, "lora_target"), len("lora_target") + 1)
    assert f"starts on line {line_of(text, 'lora_rank')}, column 12" in f.message
    assert "fix the YAML" in f.hint


def test_syntax_error_at_the_spot(ws):
    text = edit("cutoff_len: 2048", "cutoff_len: 2048: 4096")
    r = check(ws, text)
    f = one(r, "syntax")
    assert (f.line, f.col) == (line_of(text, "cutoff_len"), len("cutoff_len: 2048") + 1)
    assert "mapping values are not allowed here" in f.message and not r.syntax_ok


def test_syntax_error_tab_indent(ws):
    text = edit("### dataset\n", "### dataset\n\tdataset: x\n")
    f = one(check(ws, text), "syntax")
    assert (f.line, f.col) == (line_of(text, "\tdataset: x"), 1) and "tabs" in f.hint


@pytest.mark.parametrize(("version", "severity", "words"), [
    ("0.9.5", "error", "stops with 'found duplicate key'"),   # OmegaConf refuses the file
    ("0.9.2", "warning", "uses the last one"),                  # PyYAML: the last one wins
])
def test_duplicate_key(ws, version, severity, words):
    text = edit("lora_rank: 8\n", "lora_rank: 8\nlora_rank: 16\n")
    f = one(check(ws, text, version), "duplicate")
    assert (f.severity, f.line, f.col, f.key) == (severity, line_of(CLEAN, "lora_rank") + 1, 1, "lora_rank")
    assert f"first on line {line_of(CLEAN, 'lora_rank')}" in f.message and words in f.message
    assert f.hint == "remove one of them"


def test_merge_key_is_read_like_yaml_does(ws):
    merged = "<<: {lora_alpha: 16, lora_dropout: 0.05}\n"
    r = check(ws, edit("lora_rank: 8\n", "lora_rank: 8\n" + merged))
    assert r.findings == () and r.values["lora_alpha"] == 16
    # an explicit key beside a merged one is not a duplicate; a bad key inside the merge is still found
    r = check(ws, edit("lora_rank: 8\n", "lora_rank: 8\n<<: {lora_rank: 4, lerning_rate: 1}\n"))
    assert one(r, "unknown-key").key == "lerning_rate" and r.values["lora_rank"] == 8


@pytest.mark.parametrize(("text", "severity", "code", "line"), [
    ("", "warning", "empty", 0),
    ("# only comments\n### model\n", "warning", "empty", 0),
    ("- model_name_or_path: x\n- stage: sft\n", "error", "not-mapping", 1),
    ("just some text\n", "error", "not-mapping", 1),
])
def test_empty_and_not_a_mapping(ws, text, severity, code, line):
    f = one(check(ws, text), code)
    assert (f.severity, f.line) == (severity, line) and f.hint


def test_a_key_that_is_not_a_name(ws):
    text = edit("lora_rank: 8", "8: lora_rank")
    f = one(check(ws, text), "key-type")
    assert (f.line, f.col) == (line_of(text, "8: lora_rank"), 1)


# ---- keys -----------------------------------------------------------------------------------------

def test_unknown_key_did_you_mean(ws):
    text = edit("learning_rate:", "lerning_rate:")
    f = one(check(ws, text), "unknown-key")
    assert (f.severity, f.line, f.col, f.key) == ("error", line_of(text, "lerning_rate"), 1, "lerning_rate")
    assert f.hint == "did you mean learning_rate?"
    assert "Some keys are not used" in f.message


@pytest.mark.parametrize(("version", "line", "other", "suggest"), [
    ("0.9.2", "enable_thinking: false", "0.9.5", ""),
    ("0.9.5", "evaluation_strategy: steps", "0.9.2", "eval_strategy"),
])
def test_key_of_the_other_version(ws, version, line, other, suggest):
    text = edit("eval_strategy: steps\n", "" if "evaluation" in line else "eval_strategy: steps\n") + line + "\n"
    f = one(check(ws, text, version), "unknown-key")
    assert f.line == line_of(text, line)
    assert f"exists in LLaMA-Factory {other}, not in {version}" in f.hint
    assert suggest in f.hint


def test_training_key_in_a_chat_config(ws):
    text = CHAT + "learning_rate: 1.0e-4\n"
    r = check(ws, text, command="chat")
    f = one(r, "wrong-command")
    assert r.command == "chat"
    assert (f.line, f.col, f.key) == (line_of(text, "learning_rate"), 1, "learning_rate")
    assert "`chat` does not take it" in f.message and "training argument" in f.message
    assert "open this with train" in f.hint


def test_evaluation_key_in_a_training_config_points_at_eval(ws):
    text = CLEAN + "task: mmlu_test\n"
    f = one(check(ws, text), "wrong-command")
    assert "open this with eval" in f.hint and f.line == line_of(text, "task:")


# ---- types ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "severity", "message", "hint"), [
    ("per_device_train_batch_size: 1", "per_device_train_batch_size: abc", "error",
     "per_device_train_batch_size takes a whole number, not text (abc)", "write a whole number"),
    # HfArgumentParser does not convert: 2.0 reaches torch's DataLoader and the run crashes there
    ("per_device_train_batch_size: 1", "per_device_train_batch_size: 2.0", "error",
     "takes a whole number, not 2.0", "write 2"),
    ("bf16: true", 'bf16: "true"', "error", "quoted string", "write true without quotes"),
    ("bf16: true", "bf16: 1", "error", "bf16 takes true or false, not a number (1)", "bf16: true or bf16: false"),
    ("learning_rate: 1.0e-4", 'learning_rate: "1.0e-4"', "error", "it is a string, not a number",
     "remove the quotes"),
    ("lora_rank: 8", "lora_rank: [8, 16]", "error", "lora_rank takes a whole number, not a list", ""),
    ("cutoff_len: 2048", "cutoff_len: null", "error", "cutoff_len takes a whole number, not null", ""),
])
def test_wrong_type(ws, old, new, severity, message, hint):
    text = edit(old, new)
    f = one(check(ws, text), "type")
    key = old.split(":")[0]
    assert (f.severity, f.line, f.key) == (severity, line_of(text, key + ":"), key)
    assert f.col == len(key) + 3                                   # the value
    assert message in f.message and hint in f.hint


def test_exponent_without_dot_on_092_is_a_string(ws):
    text = edit("learning_rate: 1.0e-4", "learning_rate: 1e-4")
    f = one(check(ws, text, "0.9.2"), "float-as-string")
    assert (f.severity, f.line, f.col) == ("error", line_of(text, "learning_rate"), len("learning_rate: ") + 1)
    assert f.hint == "write 1.0e-4" and "0.9.2" in f.message
    r = check(ws, text, "0.9.5")                     # OmegaConf (0.9.3+) reads 1e-4 as a float
    assert r.findings == () and r.values["learning_rate"] == 1e-4


def test_yaml11_bool_for_a_choice(ws):
    text = edit("eval_strategy: steps", "eval_strategy: no")
    f = one(check(ws, text), "choice")
    assert (f.line, f.col) == (line_of(text, "eval_strategy"), len("eval_strategy: ") + 1)
    assert "reads no as false" in f.message and f.hint == 'quote it: eval_strategy: "no"'


# ---- choices --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "version", "hint"), [
    ("stage: sft", "stage: sfx", "0.9.5", "did you mean sft?"),
    ("finetuning_type: lora", "finetuning_type: qlora", "0.9.5", "did you mean lora?"),
    ("finetuning_type: lora", "finetuning_type: oft", "0.9.2", "one of: lora, freeze, full"),
    ("lr_scheduler_type: cosine", "lr_scheduler_type: cosin", "0.9.5", "did you mean cosine"),
    ("template: qwen", "template: qwen3", "0.9.2", "qwen3 is a template of LLaMA-Factory 0.9.5"),
    ("template: qwen", "template: no_such_template", "0.9.5", "Ctrl+Space lists them"),
    ("report_to: none", "report_to: none\nswanlab_mode: offline", "0.9.5", "one of: cloud, local"),
])
def test_invalid_choice(ws, old, new, version, hint):
    text = edit(old, new)
    key = new.splitlines()[-1].split(":")[0]
    f = one(check(ws, text, version), "choice")
    assert (f.severity, f.line, f.key) == ("error", line_of(text, key + ":"), key)
    assert f.col == len(key) + 3
    assert hint in f.hint
    assert "not a valid choice" in f.message or "not a template of LLaMA-Factory" in f.message


def test_choice_message_says_when_llamafactory_notices(ws):
    literal = one(check(ws, edit("stage: sft", "stage: sfx")), "choice")
    enum = one(check(ws, edit("lr_scheduler_type: cosine", "lr_scheduler_type: cosin")), "choice")
    assert "the run fails later" in literal.message     # Literal: not checked when the YAML is read
    assert "stops at start" in enum.message             # enum: transformers converts it at start


# ---- rules across keys (LLaMA-Factory's parser) ----------------------------------------------------

CROSS = [
    # (id, old, new, code, key the finding is on, on the key (True) or on the value (False), hint words)
    ("bf16+fp16", "bf16: true", "bf16: true\nfp16: true", "bf16-fp16", "fp16", True, "fp16 on older GPUs"),
    ("dpo-needs-ranking", "stage: sft", "stage: dpo", "ranking", "dataset", False, "preference dataset"),
    ("sft-with-ranking", "dataset: alpaca_en_demo", "dataset: dpo_en_demo", "ranking", "dataset", False,
     "use stage: dpo or rm"),
    ("quant-full", "finetuning_type: lora", "finetuning_type: full\nquantization_bit: 4", "quant-full",
     "quantization_bit", True, "finetuning_type: lora"),
    ("adapter-full", "finetuning_type: lora", "finetuning_type: full\nadapter_name_or_path: saves/lora-adapter",
     "adapter-not-lora", "adapter_name_or_path", True, "finetuning_type: lora"),
    ("predict-dpo", "stage: sft\n", "stage: dpo\npredict_with_generate: true\n", "predict-stage",
     "predict_with_generate", True, "stage: sft"),
    ("predict-no-generate", "do_train: true", "do_train: true\ndo_predict: true", "predict-generate",
     "do_predict", True, "predict_with_generate: true"),
    ("predict-zero3", "deepspeed: ds_z2_config.json", "deepspeed: ds_z3_config.json\npredict_with_generate: true",
     "predict-zero3", "predict_with_generate", True, "ZeRO-2"),
    ("val-size-and-eval-dataset", "val_size: 0.1", "val_size: 0.1\neval_dataset: identity", "val-size",
     "val_size", True, "remove val_size"),
    ("eval-without-data", "val_size: 0.1\n", "", "eval-data", "eval_strategy", True, "val_size: 0.1"),
    ("rm-best-model", "stage: sft", "stage: rm\nload_best_model_at_end: true", "stage-best",
     "load_best_model_at_end", True, "remove"),
    ("train-without-dataset", "dataset: alpaca_en_demo\n", "", "no-dataset", "do_train", True, "dataset: NAME"),
]


@pytest.mark.parametrize(("old", "new", "code", "key", "on_key", "hint"), [c[1:] for c in CROSS],
                         ids=[c[0] for c in CROSS])
def test_cross_field_rule(ws, old, new, code, key, on_key, hint):
    text = edit(old, new)
    if code != "ranking" and ("stage: dpo" in new or "stage: rm" in new):   # or the ranking rule fires too
        text = edit("dataset: alpaca_en_demo", "dataset: dpo_en_demo", text)
    if code == "no-dataset":                          # val_size needs a dataset too
        text = edit("val_size: 0.1\n", "", text).replace("eval_strategy: steps", "eval_strategy: \"no\"")
    f = one(check(ws, text), code)
    assert (f.severity, f.key, f.line) == ("error", key, line_of(text, key + ":"))
    assert f.col == (1 if on_key else len(key) + 3)
    assert hint in f.hint


def test_dpo_with_a_ranking_dataset_is_clean(ws):
    text = edit("dataset: alpaca_en_demo", "dataset: dpo_en_demo", edit("stage: sft", "stage: dpo"))
    assert check(ws, text).findings == ()


def test_ranking_rule_names_the_dataset_of_a_list(ws):
    text = edit("dataset: alpaca_en_demo", "dataset: alpaca_en_demo, dpo_en_demo")
    f = one(check(ws, text), "ranking")
    assert "dpo_en_demo is a ranking" in f.message


def test_predict_with_generate_on_092_needs_eval_dataset(ws):
    text = edit("do_train: true", "do_train: true\npredict_with_generate: true")
    f = one(check(ws, text, "0.9.2"), "eval-data")
    assert f.key == "predict_with_generate" and "val_size is not enough" in f.message
    assert check(ws, text, "0.9.5").findings == ()              # 0.9.5: val_size is enough


def test_quantization_on_092_is_lora_only(ws):
    text = edit("finetuning_type: lora", "finetuning_type: freeze\nquantization_bit: 4")
    assert "only quantizes for LoRA" in one(check(ws, text, "0.9.2"), "quant-full").message
    assert "LoRA or OFT" in one(check(ws, text, "0.9.5"), "quant-full").message


def test_adapter_with_full_in_a_chat_config(ws):
    text = edit("finetuning_type: lora", "finetuning_type: full", CHAT)
    f = one(check(ws, text, command="chat"), "adapter-not-lora")
    assert f.line == line_of(text, "adapter_name_or_path")


# ---- referenced files ------------------------------------------------------------------------------

REFS = [
    ("deepspeed-missing", "deepspeed: ds_z2_config.json", "deepspeed: ds_z9_config.json", "deepspeed-json",
     "error", "deepspeed config ds_z9_config.json does not exist", "picker"),
    ("deepspeed-bad-json", "deepspeed: ds_z2_config.json", "deepspeed: ds_broken.json", "deepspeed-json",
     "error", "is not valid JSON: line 4 column 3", "trailing commas"),
    ("unknown-dataset", "dataset: alpaca_en_demo", "dataset: alpaca_en_dem", "dataset-name", "error",
     "dataset alpaca_en_dem is not in", "did you mean alpaca_en_demo"),
    ("model-folder-missing", "model_name_or_path: models/qwen2.5-0.5b", "model_name_or_path: models/qwen2.5-7b",
     "model-path", "error", "model folder models/qwen2.5-7b does not exist", "picker"),
    ("model-without-config", "model_name_or_path: models/qwen2.5-0.5b", "model_name_or_path: models/no-config",
     "model-path", "warning", "has no config.json", "snapshots"),
    ("model-without-weights", "model_name_or_path: models/qwen2.5-0.5b", "model_name_or_path: models/config-only",
     "model-weights", "error", "has config.json but no weights", "copy the weights"),
    ("output-dir-is-a-file", "output_dir: saves/qwen2.5-0.5b/lora/sft", "output_dir: saves/a-file",
     "output-dir", "error", "output_dir saves/a-file is a file", "name a folder"),
    ("dataset-dir-missing", "dataset_dir: data", "dataset_dir: datasets", "dataset-dir", "warning",
     "dataset_dir datasets not found", "absolute path"),
]


@pytest.mark.parametrize(("old", "new", "code", "severity", "message", "hint"), [c[1:] for c in REFS],
                         ids=[c[0] for c in REFS])
def test_referenced_files(ws, old, new, code, severity, message, hint):
    text = edit(old, new)
    key = old.split(":")[0]
    f = one(check(ws, text), code)
    assert (f.severity, f.key, f.line, f.col) == (severity, key, line_of(text, key + ":"), len(key) + 3)
    assert message in f.message and hint in f.hint


def test_missing_absolute_model_folder(ws):
    text = edit("models/qwen2.5-0.5b", str(ws / "models" / "gone"))
    assert "does not exist" in one(check(ws, text), "model-path").message


def test_hub_id_is_accepted(ws):
    assert check(ws, edit("models/qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct")).findings == ()


def test_files_are_not_checked_when_told(ws):
    text = edit("deepspeed: ds_z2_config.json", "deepspeed: ds_z9_config.json")
    assert check(ws, text, check_files=False).findings == ()


def test_relative_paths_found_next_to_the_config_only(ws, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere")            # launched from another folder
    cfg = ws / "qwen_lora_sft.yaml"
    cfg.write_text(CLEAN)
    r = validate(CLEAN, schema=load("0.9.5"), path=cfg, workdir=other)
    assert r.errors == [] and r.warnings == []
    notes = [f for f in r.findings if f.code == "relative"]
    assert {f.key for f in notes} == {"model_name_or_path", "deepspeed"}
    assert all("working directory" in f.message and f.severity == "info" for f in notes)


# ---- secrets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "env"), [
    ("swanlab_api_key: abc", "SWANLAB_API_KEY"),
    ("hf_hub_token: hf_abcdef", "HF_TOKEN"),
])
def test_secret_in_the_file(ws, line, env):
    text = CLEAN + line + "\n"
    r = check(ws, text)
    f = one(r, "secret")
    key = line.split(":")[0]
    assert (f.severity, f.key, f.line, f.col) == ("warning", key, line_of(text, key), len(key) + 3)
    assert f"export {env}" in f.hint and "plain text" in f.message
    assert r.ok                                          # a warning alone does not fail the file


# ---- which llamafactory-cli command the file is for -------------------------------------------------

@pytest.mark.parametrize(("values", "name", "command"), [
    ({"model_name_or_path": "m", "export_dir": "out", "template": "qwen"}, None, "export"),
    ({"model_name_or_path": "m", "do_train": True}, None, "train"),
    ({"model_name_or_path": "m", "output_dir": "saves/x"}, None, "train"),
    ({"model_name_or_path": "m", "template": "qwen", "infer_backend": "vllm"}, None, "chat"),
    ({"model_name_or_path": "m", "task": "mmlu_test", "save_dir": "saves/eval"}, None, "eval"),
    ({"model_name_or_path": "m", "template": "qwen"}, "qwen_merge_lora.yaml", "export"),
    ({"model_name_or_path": "m", "template": "qwen"}, "qwen_eval.yaml", "eval"),
    ({}, None, "train"),
])
def test_guess_command(values, name, command):
    assert guess_command(values, Path(name) if name else None) == command


def test_the_guess_is_used_when_no_command_is_given(ws):
    r = check(ws, CHAT)
    assert r.command == "chat"
    r = check(ws, CHAT + "export_dir: saves/merged\n")
    assert r.command == "export" and r.findings == ()


@pytest.mark.parametrize("dataset_dir", ["ONLINE", "REMOTE:llamafactory/demo_data"])
def test_dataset_names_from_the_hub_are_not_checked(ws, dataset_dir):
    text = edit("dataset_dir: data", f"dataset_dir: {dataset_dir}", edit("alpaca_en_demo", "org/some_dataset"))
    assert check(ws, text).findings == ()


def test_missing_adapter_is_a_warning_not_yet_trained(ws):
    chat = """\
model_name_or_path: models/qwen2.5-0.5b
adapter_name_or_path: saves/not-trained-yet
template: qwen
finetuning_type: lora
"""
    f = one(check(ws, chat, command="chat"), "adapter-path")
    assert f.severity == "warning" and f.line == 2 and "does not exist (yet)" in f.message
    f = one(check(ws, chat.replace("not-trained-yet", "a-file"), command="chat"), "adapter-path")
    assert f.severity == "warning" and "adapter_config.json" in f.message


def test_a_model_without_weights_is_a_warning_for_chat(ws):
    text = "model_name_or_path: models/config-only\ntemplate: qwen\n"
    f = one(check(ws, text, command="chat"), "model-weights")
    assert f.severity == "warning"
    for name in ("model-00001-of-00002.safetensors", "pytorch_model.bin", "model.safetensors.index.json"):
        folder = ws / "models" / name.replace(".", "-")
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        (folder / name).write_bytes(b"")
        assert not [x for x in check(ws, f"model_name_or_path: {folder}\n").findings if x.code == "model-weights"]
