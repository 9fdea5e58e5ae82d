"""The memory estimate: against the real H200 table, on the example configs, on broken inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from ftmllm_tui.core.estimate import GiB, EstimateError, estimate_file, estimate_values, fit_line, kind_of
from ftmllm_tui.core.estimate.model import arch_from_config

REPO = Path(__file__).resolve().parents[3]
TABLE = json.loads((REPO / "tests/data/memory_calibration_h200.json").read_text())
VL7B = REPO / "tests/data/model_configs/qwen2.5-vl-7b-instruct.config.json"
TOLERANCE = 0.15


def _model_dir(tmp_path: Path, shape: str) -> Path:
    d = tmp_path / f"model-{shape}"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps(TABLE["models"][shape]))
    return d


MEASURED = [r for r in TABLE["rows"] if r["ok"]]


@pytest.mark.parametrize("row", MEASURED, ids=[r["id"] for r in MEASURED])
def test_within_15_percent_of_the_measured_h200_peak(row, tmp_path):
    cfg = dict(row["config"], model_name_or_path=str(_model_dir(tmp_path, row["shape"])))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    est = estimate_file(path, kind="train")  # as `ftmllm-tui estimate` would (predict rows: do_predict)
    measured = row["peak_process_bytes"]
    err = (est.per_gpu_bytes - measured) / measured
    assert abs(err) <= TOLERANCE, f"{row['id']}: estimated {est.per_gpu_bytes / GiB:.2f} GiB, measured " \
                                  f"{measured / GiB:.2f} GiB ({err:+.1%})"
    assert est.kind == ("predict" if row["method"] == "predict" else "train")
    assert est.per_gpu_bytes == sum(est.parts.values())


# Parameter counts printed by LLaMA-Factory in the calibration runs' logs ("all params: …").
@pytest.mark.parametrize("shape,params", [("0.5b", 494_032_768), ("1.5b", 1_543_714_304),
                                          ("3b", 3_085_938_688), ("7b", 7_614_699_008)])
def test_parameter_count_matches_llamafactory(shape, params):
    arch = arch_from_config(TABLE["models"][shape])
    assert arch.total_params == params


def test_lora_trainable_count_matches_llamafactory():
    arch = arch_from_config(TABLE["models"]["7b"])
    assert arch.lora_params(8, None) == 20_185_088          # "trainable params: 20,185,088"
    assert arch_from_config(TABLE["models"]["1.5b"]).lora_params(64, None) == 73_859_072


def test_vl_7b_parameters_include_the_vision_tower():
    arch = arch_from_config(json.loads(VL7B.read_text()))
    assert arch.total_params == 8_292_166_656               # Qwen2.5-VL-7B-Instruct's published size
    assert arch.vision is not None and arch.vision.params == arch.total_params - arch.text_params


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A Hugging Face cache holding Qwen/Qwen2.5-VL-7B-Instruct's config.json only (no weights: none needed)."""
    cache = tmp_path / "hub"
    snap = cache / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    shutil.copy(VL7B, snap / "config.json")
    (cache / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "refs").mkdir()
    (cache / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "refs" / "main").write_text("abc123")
    return {"HUGGINGFACE_HUB_CACHE": str(cache), "HOME": str(tmp_path)}


def _est(name: str, env, **kw):
    return estimate_file(REPO / "configs" / name, environ=env, workdir=REPO / "configs", **kw)


def test_example_configs_have_sane_figures(hub):
    sft = _est("qwen2.5vl_lora_sft.yaml", hub, gpus=2)
    assert 17 * GiB < sft.per_gpu_bytes < 60 * GiB          # 8.3B bf16 weights + a 2048-token step
    assert sft.parts["weights"] > 15 * GiB and sft.parts["logits"] > 0
    assert sft.inputs["model_type"] == "qwen2_5_vl"
    ds3 = _est("qwen2.5vl_lora_sft_ds3.yaml", hub, gpus=4)
    assert ds3.per_gpu_bytes < sft.per_gpu_bytes and ds3.inputs["zero_stage"] == 3
    assert any("ZeRO-3" in a for a in ds3.assumptions)
    e4 = _est("qwen2.5vl_eval_4bit.yaml", hub)
    e8 = _est("qwen2.5vl_eval_8bit.yaml", hub)
    assert e4.kind == e8.kind == "predict"
    assert e4.parts["weights"] < e8.parts["weights"] < 17.5 * GiB
    assert e4.parts["kv_cache"] == e8.parts["kv_cache"] > 0
    assert _est("qwen2.5vl_export_merge.yaml", hub).per_gpu_bytes == 0   # export_device: cpu
    vllm = _est("qwen2.5vl_chat_vllm.yaml", hub, gpu_total_bytes=140 * GiB)
    assert vllm.per_gpu_bytes == int(0.9 * 140 * GiB)                     # vllm_gpu_util: 0.9 of the GPU
    hf = _est("qwen2.5vl_chat_hf.yaml", hub)
    assert 15 * GiB < hf.per_gpu_bytes < vllm.per_gpu_bytes


def test_more_batch_or_length_needs_more_and_checkpointing_saves(tmp_path):
    base = {"model_name_or_path": str(_model_dir(tmp_path, "3b")), "do_train": True, "stage": "sft",
            "finetuning_type": "lora", "bf16": True, "per_device_train_batch_size": 2, "cutoff_len": 2048}
    e = estimate_values(base).per_gpu_bytes
    assert estimate_values({**base, "per_device_train_batch_size": 4}).per_gpu_bytes > e
    assert estimate_values({**base, "cutoff_len": 4096}).per_gpu_bytes > e
    assert estimate_values({**base, "disable_gradient_checkpointing": True}).per_gpu_bytes > e
    assert estimate_values({**base, "finetuning_type": "full"}).per_gpu_bytes > e
    assert estimate_values({**base, "quantization_bit": 4}).parts["weights"] < estimate_values(base).parts["weights"]


def test_kind_of_a_prediction_config():
    assert kind_of({"do_predict": True, "predict_with_generate": True}, "train") == "predict"
    assert kind_of({"do_train": True}) == "train"
    assert kind_of({"export_dir": "x"}) == "export"


def test_fit_line():
    class E:
        per_gpu_bytes = int(41.2 * GiB)

        def summary(self):
            return "needs ~41.2 GiB per GPU"

    ok, line = fit_line(E(), 12 * GiB, 3)
    assert not ok and line == "needs ~41.2 GiB per GPU, GPU 3 has 12.0 free → will not fit"


def test_missing_config_json(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(EstimateError, match=r"cannot estimate: model folder .* has no config.json, missing config.json"):
        estimate_values({"model_name_or_path": str(tmp_path / "m"), "do_train": True})


def test_hub_id_not_in_cache(tmp_path):
    with pytest.raises(EstimateError, match="not in the Hugging Face cache.*nothing is downloaded"):
        estimate_values({"model_name_or_path": "org/nothing"}, environ={"HF_HOME": str(tmp_path)})


def test_no_model(tmp_path):
    with pytest.raises(EstimateError, match="missing model_name_or_path"):
        estimate_values({"do_train": True})


def test_unknown_model_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mamba9", "hidden_size": 8}))
    with pytest.raises(EstimateError, match="unknown model_type 'mamba9'.*missing a supported architecture"):
        estimate_values({"model_name_or_path": str(tmp_path)})


def test_unreadable_deepspeed_json(tmp_path):
    m = _model_dir(tmp_path, "0.5b")
    (tmp_path / "ds.json").write_text("{ not json")
    with pytest.raises(EstimateError, match="DeepSpeed config .*ds.json is unreadable.*missing a valid DeepSpeed"):
        estimate_values({"model_name_or_path": str(m), "do_train": True, "deepspeed": str(tmp_path / "ds.json")})


def test_the_row_that_ran_out_of_memory_is_estimated_above_the_h200(tmp_path):
    row = next(r for r in TABLE["rows"] if r["id"].startswith("oom-"))
    assert not row["ok"] and any("OutOfMemoryError" in ln for ln in row["log_tail"])
    cfg = dict(row["config"], model_name_or_path=str(_model_dir(tmp_path, row["shape"])))
    assert estimate_values(cfg).per_gpu_bytes > TABLE["total_bytes"]


def test_table_has_holdout_rows_and_every_kind():
    rows = TABLE["rows"]
    assert len([r for r in rows if r.get("holdout") and r["ok"]]) >= 5
    assert {r["method"] for r in rows} == {"lora", "full", "freeze", "predict"}
    assert any(not r["gc"] for r in rows) and {r["shape"] for r in rows} == {"0.5b", "1.5b", "3b", "7b"}
