from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftmllm_tui.core.configs import pickers
from ftmllm_tui.core.configs.pickers import (
    Choice,
    adapters,
    dataset_names,
    datasets,
    deepspeed_configs,
    hf_cache_dir,
    human_bytes,
    models,
    templates,
)

COMMIT = "3fa4c1e0" + "a" * 32
OLD_COMMIT = "0ld" + "b" * 37


def _hf_repo(cache: Path, folder: str, files: dict[str, bytes], commit: str = COMMIT, ref: str | None = "main"):
    """A repo laid out the way huggingface_hub writes it: blobs, refs/<ref>, snapshots/<commit>/<file> -> blob."""
    repo = cache / folder
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for i, (name, data) in enumerate(files.items()):
        blob = f"{commit[:8]}{i:032d}"
        (repo / "blobs" / blob).write_bytes(data)
        (snap / name).symlink_to(Path("..") / ".." / "blobs" / blob)
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return repo


@pytest.fixture
def hf_cache(tmp_path):
    cache = tmp_path / "hub"
    _hf_repo(cache, "models--Qwen--Qwen2.5-VL-7B-Instruct",
             {"config.json": b'{"architectures": ["Qwen2_5_VLForConditionalGeneration"]}',
              "model.safetensors": b"x" * 15_200})
    _hf_repo(cache, "models--tiny--gpt", {"config.json": b"{}"}, commit=OLD_COMMIT, ref=None)
    _hf_repo(cache, "datasets--x--y", {"data.json": b"[]"})
    (cache / "models--broken").mkdir()  # no snapshots folder: corrupted
    (cache / ".locks").mkdir()
    return cache


def _by_value(found):
    return {c.value: c for c in found.choices}


def test_hf_cache_dir_order(tmp_path):
    assert hf_cache_dir({"HF_HUB_CACHE": "/a", "HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c"}) == Path("/a")
    assert hf_cache_dir({"HUGGINGFACE_HUB_CACHE": "/b", "HF_HOME": "/c"}) == Path("/b")
    assert hf_cache_dir({"HF_HUB_CACHE": "", "HF_HOME": "/c"}) == Path("/c/hub")
    assert hf_cache_dir({}) == Path.home() / ".cache" / "huggingface" / "hub"
    assert hf_cache_dir({"HF_HOME": "~/hf"}) == Path.home() / "hf" / "hub"
    assert hf_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/huggingface/hub")


def test_models_from_hf_cache(hf_cache):
    found = models({"HF_HUB_CACHE": str(hf_cache)})
    assert [c.value for c in found.choices] == ["Qwen/Qwen2.5-VL-7B-Instruct", "tiny/gpt"]  # no dataset repo
    qwen = found.choices[0]
    assert (qwen.label, qwen.kind) == ("Qwen/Qwen2.5-VL-7B-Instruct", "hf-cache")
    snap = (hf_cache / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "snapshots" / COMMIT).resolve()
    assert qwen.get("snapshot") == str(snap)
    assert qwen.get("revision") == COMMIT
    size = 15_200 + len(b'{"architectures": ["Qwen2_5_VLForConditionalGeneration"]}')
    assert qwen.get("size") == str(size)
    assert qwen.detail == f"main · {COMMIT[:7]} · {human_bytes(size)} · {snap}"
    assert found.choices[1].detail.startswith(f"(no ref) · {OLD_COMMIT[:7]} · ")
    # the corrupted repo is a problem, not a crash; the corrupted-ness is said in words
    assert len(found.problems) == 1 and "models--broken" in found.problems[0]
    assert "Snapshots dir doesn't exist" in found.problems[0]


def test_models_newest_revision_wins(hf_cache):
    repo = hf_cache / "models--tiny--gpt"
    new = "f" * 40
    (repo / "snapshots" / new).mkdir()
    (repo / "snapshots" / new / "config.json").write_text("{}")
    os.utime(repo / "snapshots" / new / "config.json", (2e9, 2e9))
    os.utime(repo / "blobs" / os.listdir(repo / "blobs")[0], (1e9, 1e9))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(new)
    tiny = _by_value(models({"HF_HUB_CACHE": str(hf_cache)}))["tiny/gpt"]
    assert tiny.get("revision") == new and tiny.get("revisions") == "2"
    assert tiny.detail.startswith("main · fffffff (+1 older) · ")


def test_models_one_unreadable_repo_does_not_hide_the_rest(hf_cache):
    # a dangling refs file makes scan_cache_dir itself raise FileNotFoundError; we fall back to repo by repo
    bad = _hf_repo(hf_cache, "models--bad--ref", {"config.json": b"{}"}, ref=None)
    (bad / "refs").mkdir()
    (bad / "refs" / "main").symlink_to(bad / "nowhere")
    found = models({"HF_HUB_CACHE": str(hf_cache)})
    assert [c.value for c in found.choices] == ["Qwen/Qwen2.5-VL-7B-Instruct", "tiny/gpt"]
    assert any("models--bad--ref" in p and "does not exist" in p for p in found.problems)
    assert any("models--broken" in p for p in found.problems)


def test_models_missing_cache_is_not_an_error(tmp_path):
    found = models({"HF_HUB_CACHE": str(tmp_path / "nope")})
    assert found.choices == () and found.problems == (f"no Hugging Face cache at {tmp_path / 'nope'}",)
    (tmp_path / "file").write_text("")
    assert models({"HF_HUB_CACHE": str(tmp_path / "file")}).problems[0].startswith("no Hugging Face cache")


def test_local_models(tmp_path):
    root = tmp_path / "models"
    for rel, weights in (("a", "model.safetensors"), ("org/b", "pytorch_model.bin"),
                         ("org/c", "model.safetensors.index.json"), ("deep/er/d", "model.safetensors"),
                         ("noweights", None), (".hidden", "model.safetensors")):
        d = root / rel
        d.mkdir(parents=True)
        (d / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
        if weights:
            (d / weights).write_bytes(b"w" * 4000)
    (root / "cfgonly").mkdir()
    (root / "cfgonly" / "model.safetensors").write_bytes(b"")
    found = models({"HF_HUB_CACHE": str(tmp_path / "nocache")}, extra_dirs=[root, tmp_path / "missing"])
    local = [c for c in found.choices if c.kind == "local-model"]
    assert sorted(c.value for c in local) == [str(root / "a"), str(root / "org/b"), str(root / "org/c")]
    a = _by_value(found)[str(root / "a")]
    assert (a.label, a.detail) == ("a", f"LlamaForCausalLM · 4.0 KB · {root / 'a'}")
    assert f"{tmp_path / 'missing'}: does not exist" in found.problems


def _adapter(d: Path, mtime: float, **cfg):
    d.mkdir(parents=True, exist_ok=True)
    (d / "adapter_config.json").write_text(json.dumps(cfg))
    (d / "adapter_model.safetensors").write_bytes(b"0")
    for f in d.iterdir():
        os.utime(f, (mtime, mtime))


def test_adapters_nested_checkpoints_newest_first(tmp_path):
    saves = tmp_path / "saves"
    run = saves / "qwen2_5vl-7b" / "lora" / "sft"
    _adapter(run, 1_700_000_300, base_model_name_or_path="Qwen/Qwen2.5-VL-7B-Instruct", r=8, lora_alpha=16)
    _adapter(run / "checkpoint-100", 1_700_000_100, base_model_name_or_path="Qwen/Qwen2.5-VL-7B-Instruct", r=8)
    _adapter(run / "checkpoint-200", 1_700_000_200, base_model_name_or_path="Qwen/Qwen2.5-VL-7B-Instruct", r=8)
    _adapter(saves / "wandb" / "x", 1_700_000_400)  # skipped tree
    _adapter(saves / ".trash" / "x", 1_700_000_400)  # hidden
    _adapter(saves / "a" / "b" / "c" / "d" / "e", 1_700_000_400)  # too deep for max_depth=4
    (saves / "loop").symlink_to(saves)  # a symlink loop back to the root
    (saves / "self").symlink_to(saves / "self")  # ELOOP itself
    found = adapters([saves])
    labels = [c.label for c in found.choices]
    assert labels == ["qwen2_5vl-7b/lora/sft", "qwen2_5vl-7b/lora/sft/checkpoint-200",
                      "qwen2_5vl-7b/lora/sft/checkpoint-100"]
    top = found.choices[0]
    assert top.value == str(run) and top.kind == "adapter"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(1_700_000_300))
    assert top.detail == f"Qwen/Qwen2.5-VL-7B-Instruct · r=8 · lora_alpha=16 · {when}"
    assert found.choices[2].get("r") == "8" and found.choices[2].get("lora_alpha") == ""
    assert found.problems == ()
    assert adapters([saves], max_depth=5).choices[0].label == "a/b/c/d/e"


def test_adapters_limit_broken_config_and_missing_root(tmp_path):
    for i in range(5):
        _adapter(tmp_path / "out" / f"run{i}", 1_700_000_000 + i, r=i)
    (tmp_path / "out" / "run3" / "adapter_config.json").write_text("{nope")
    os.utime(tmp_path / "out" / "run3" / "adapter_config.json", (1_700_000_003, 1_700_000_003))
    found = adapters([tmp_path / "out", tmp_path / "gone"], limit=3)
    assert len(found.choices) == 3
    assert any("stopped after 3 adapters" in p for p in found.problems)
    everything = adapters([tmp_path / "gone", tmp_path / "out"])
    assert [c.label for c in everything.choices] == ["run4", "run3", "run2", "run1", "run0"]
    assert everything.choices[1].detail.startswith("base model ? · 20")
    assert f"{tmp_path / 'gone'}: does not exist" in everything.problems
    assert any("run3/adapter_config.json: line 1 column 2" in p for p in everything.problems)
    root_itself = adapters([tmp_path / "out" / "run0"])
    assert [c.label for c in root_itself.choices] == ["run0"]


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    (d / "parts").mkdir(parents=True)
    (d / "alpaca_en_demo.json").write_text(json.dumps([{"instruction": "hi", "output": "yo"}] * 3))
    (d / "mllm_demo.json").write_text(json.dumps([{"messages": []}] * 1200))
    (d / "dpo.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n   \n{"a": 3}')
    (d / "parts" / "0.jsonl").write_text("{}\n{}\n")
    (d / "parts" / "1.json").write_text("[{}, {}, {}]")
    (d / "table.parquet").write_bytes(b"PAR1")
    (d / "dataset_info.json").write_text(json.dumps({
        "alpaca_en_demo": {"file_name": "alpaca_en_demo.json"},
        "mllm_demo": {"file_name": "mllm_demo.json", "formatting": "sharegpt", "ranking": True,
                      "columns": {"messages": "conversations", "images": "images"},
                      "tags": {"role_tag": "from"}},
        "dpo": {"file_name": "dpo.jsonl", "ranking": True},
        "parts": {"file_name": "parts"},
        "table": {"file_name": "table.parquet"},
        "gone": {"file_name": "gone.json"},
        "hub": {"hf_hub_url": "llamafactory/alpaca_en", "ms_hub_url": "llamafactory/alpaca_en"},
        "ms": {"ms_hub_url": "AI-ModelScope/x", "formatting": "sharegpt"},
        "nothing": {"formatting": "alpaca"},
        "odd": ["not", "an", "object"],
    }, indent=2))
    return d


def test_datasets(data_dir):
    found = datasets(data_dir)
    by = _by_value(found)
    assert list(by) == sorted(by) and "odd" not in by
    mllm = by["mllm_demo"]
    assert mllm.detail == "sharegpt · ranking · 1,200 rows · mllm_demo.json"
    assert dict(mllm.extra) == {"formatting": "sharegpt", "ranking": "yes", "source": "file", "file": "mllm_demo.json",
                                "rows": "1200", "columns": "messages=conversations, images=images",
                                "tags": "role_tag=from"}
    assert by["alpaca_en_demo"].detail == "alpaca · 3 rows · alpaca_en_demo.json"
    assert by["dpo"].get("rows") == "3" and by["dpo"].get("ranking") == "yes"
    assert by["parts"].get("rows") == "5"
    assert by["table"].detail == "alpaca · ? rows · table.parquet"
    assert by["gone"].detail == "alpaca · file missing · gone.json"
    assert (by["hub"].get("source"), by["hub"].detail) == ("hf", "alpaca · hf: llamafactory/alpaca_en")
    assert by["ms"].detail == "sharegpt · ms: AI-ModelScope/x"
    assert by["nothing"].detail == "alpaca · no source"
    assert f"gone: gone.json not found in {data_dir}" in found.problems
    assert "dataset_info.json: 'odd' is not an object" in found.problems
    assert any(p.startswith("nothing: no file_name") for p in found.problems)
    assert len(found.problems) == 3
    assert datasets(data_dir, max_bytes_for_rows=100).choices  # still listed
    assert _by_value(datasets(data_dir, max_bytes_for_rows=100))["mllm_demo"].get("rows") == "?"
    assert _by_value(datasets(data_dir, count_rows=False))["dpo"].get("rows") == "?"


def test_datasets_broken_data_file(data_dir):
    (data_dir / "mllm_demo.json").write_text('[{"a": 1},\n {"a": }]')
    found = datasets(data_dir)
    assert _by_value(found)["mllm_demo"].get("rows") == "?"
    assert any(p.startswith("mllm_demo: mllm_demo.json: line 2 column") for p in found.problems)


def test_dataset_info_broken_missing_unreadable(tmp_path, data_dir):
    (data_dir / "dataset_info.json").write_text('{\n  "a": {"file_name": "x.json"}\n  "b": {}\n}')
    found = datasets(data_dir)
    assert found == pickers.Found((), ("dataset_info.json: line 3 column 3: Expecting ',' delimiter",))
    assert dataset_names(data_dir) is None
    assert datasets(tmp_path / "empty").problems == (
        f"no dataset_info.json in {tmp_path / 'empty'} (the folder does not exist or cannot be read)",)
    (tmp_path / "empty").mkdir()
    assert datasets(tmp_path / "empty").problems == (f"no dataset_info.json in {tmp_path / 'empty'}",)
    # unreadable without needing a permission bit (works as root too): dataset_info.json is a folder
    (tmp_path / "dirinfo" / "dataset_info.json").mkdir(parents=True)
    assert datasets(tmp_path / "dirinfo").problems == ("dataset_info.json: is a folder, not a file",)
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "dataset_info.json").write_text("[]")
    assert "expected an object" in datasets(tmp_path / "list").problems[0]
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "dataset_info.json").write_bytes(b'{"\xff": 1}')
    assert datasets(tmp_path / "bin").problems == ("dataset_info.json: not UTF-8 text",)


def test_dataset_names(data_dir):
    names = dataset_names(data_dir)
    assert names is not None and "odd" not in names
    assert names["mllm_demo"] is True and names["dpo"] is True and names["alpaca_en_demo"] is False
    assert dataset_names(data_dir / "nowhere") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_permission_denied(tmp_path, data_dir):
    os.chmod(data_dir / "dataset_info.json", 0)
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0)
    try:
        assert datasets(data_dir).problems == ("dataset_info.json: permission denied",)
        assert dataset_names(data_dir) is None
        assert adapters([locked]).problems == (f"{locked}: permission denied",)
    finally:
        os.chmod(locked, 0o755)
        os.chmod(data_dir / "dataset_info.json", 0o644)


DS_Z2 = {"train_batch_size": "auto", "zero_optimization": {"stage": 2, "overlap_comm": False},
         "bf16": {"enabled": "auto"}, "fp16": {"enabled": "auto"}}
DS_Z3 = {"zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": True},
                               "offload_param": {"device": "cpu"}}, "bf16": {"enabled": "auto"}}


def test_deepspeed_configs(tmp_path):
    lf = tmp_path / "LLaMA-Factory"
    ds = lf / "examples" / "deepspeed"
    ds.mkdir(parents=True)
    (ds / "ds_z2_config.json").write_text(json.dumps(DS_Z2))
    (ds / "ds_z3_offload_config.json").write_text(json.dumps(DS_Z3))
    (ds / "ds_z0_config.json").write_text("{broken")
    (lf / "examples" / "tokenizer.json").write_text('{"vocab": {}}')  # not DeepSpeed: ignored silently
    (lf / "examples" / "junk.json").write_text("{not json at all")  # broken but not DeepSpeed-named: silent
    (lf / "my_cfg.json").write_text(json.dumps({"zero_optimization": {"stage": 1}, "fp16": {"enabled": True}}))
    (lf / "too" / "deep" / "er").mkdir(parents=True)
    (lf / "too" / "deep" / "er" / "ds_deep.json").write_text(json.dumps(DS_Z2))
    (tmp_path / "link").symlink_to(ds)
    found = deepspeed_configs([lf / "examples", lf / "train.yaml"], extra_dirs=[tmp_path / "link", ds])
    assert [c.label for c in found.choices] == ["ds_z2_config.json", "ds_z3_offload_config.json", "my_cfg.json"]
    by = {c.label: c for c in found.choices}
    assert by["ds_z3_offload_config.json"].detail == (
        f"ZeRO-3 · offload optimizer: cpu · offload params: cpu · bf16: auto · {ds}")
    assert by["ds_z3_offload_config.json"].value == str(ds / "ds_z3_offload_config.json")
    assert by["ds_z2_config.json"].get("summary") == "ZeRO-2 · bf16: auto"
    assert by["my_cfg.json"].get("summary") == "ZeRO-1 · fp16: True"
    assert all(c.kind == "deepspeed" for c in found.choices)
    broken = f"{ds / 'ds_z0_config.json'}: line 1 column 2: Expecting property name enclosed in double quotes"
    assert found.problems == (broken,)
    assert deepspeed_configs([tmp_path / "nope"]).problems == (f"{tmp_path / 'nope'}: does not exist",)


def test_templates_and_human_bytes():
    found = templates(["qwen2_vl", "llama3", "qwen2_vl", "", "default"])
    assert [c.value for c in found.choices] == ["default", "llama3", "qwen2_vl"]
    assert found.choices[0] == Choice("default", "default", "", "template")
    assert [human_bytes(n) for n in (0, 999, 4000, 812_000_000, 15_200_000_000, 999_960, 2 * 10**18)] == [
        "0 B", "999 B", "4.0 KB", "812 MB", "15.2 GB", "1.0 MB", "2000 PB"]
    assert human_bytes(-1) == "?" and human_bytes("x") == "?"  # type: ignore[arg-type]


def test_import_is_light():
    code = ("import sys; from ftmllm_tui.core.configs import pickers; "
            "bad = [m for m in ('huggingface_hub', 'textual', 'orjson') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[3])
    assert out.stdout.strip() == "[]"
