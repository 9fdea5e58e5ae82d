"""Failure reasons: on the console logs of real failing LLaMA-Factory 0.9.5 runs (tests/data/failure_logs/, made by
tests/lf/make_failure_logs.py), on PyTorch's own messages for the GPU-only failures, and with the estimate's
advice for an out-of-memory run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftmllm_tui.core.runs.reasons import explain, explain_text, oom_advice_for, run_reason

LOGS = Path(__file__).parents[2] / "data" / "failure_logs"
TABLE = json.loads((Path(__file__).parents[2] / "data" / "memory_calibration_h200.json").read_text())

# PyTorch 2.x's messages (torch/csrc: CUDACachingAllocator.cpp, ProcessGroupNCCL.cpp), as they appear on GPU hosts
OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 9.27 GiB. GPU 0 has a total capacity of "
       "139.81 GiB of which 3.12 GiB is free. Including non-PyTorch memory, this process has 136.68 GiB memory in "
       "use. Of the allocated memory 120.53 GiB is allocated by PyTorch, and 15.51 GiB is reserved by PyTorch but "
       "unallocated.")
NCCL = ("[rank1]:[E1204 10:02:11.123456 ProcessGroupNCCL.cpp:616] [Rank 1] Watchdog caught collective operation "
        "timeout: WorkNCCL(SeqNum=5, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=1800000) ran for 1800083 "
        "milliseconds before timing out.")


@pytest.mark.parametrize("case,code,summary", [
    ("dataset_missing", "dataset_missing", "dataset tiny_v2 is not in dataset_info.json"),
    ("template_unknown", "template", "template qwen25 does not exist"),
    ("template_mismatch", "template", "template needs an image processor"),
    ("port_in_use", "port_in_use", "port already in use"),
    ("disk_full", "disk_full", "disk full while writing"),
    ("sigkill", "oom_killer", "killed by SIGKILL with no Python error"),
    ("cuda_oom_h200", "cuda_oom", "out of GPU memory"),   # a real OOM on the lent H200 (bench/calibrate_memory.py)
])
def test_real_failing_runs(case, code, summary):
    exit_code = int((LOGS / f"{case}.exit").read_text())
    r = explain(LOGS / f"{case}.log", exit_code)
    assert r is not None and r.code == code and r.summary.startswith(summary), r
    assert r.fix
    if r.line is not None:  # the line number points at the line shown
        lines = (LOGS / f"{case}.log").read_text(errors="replace").replace("\r", "\n").split("\n")
        assert lines[r.line - 1].strip()[:500] == r.text


def test_a_clean_exit_has_no_reason():
    assert explain(LOGS / "dataset_missing.log", 0) is None


def test_gpu_only_messages():
    log = "step 1\n" + "Traceback (most recent call last):\n  File x\n" + OOM + "\n"
    r = explain_text(log, 1)
    assert r.code == "cuda_oom" and r.line == 4
    r = explain_text("training\n" + NCCL + "\nRuntimeError: something after\n", 1)
    assert r.code == "nccl_timeout" and r.line == 2
    assert explain_text("x\n" + NCCL + "\n" + OOM + "\n", 1).code == "cuda_oom"   # the root cause first


def test_oom_gets_the_estimate_and_three_cheapest_changes(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(TABLE["models"]["7b"]))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"model_name_or_path: {model}\nstage: sft\ndo_train: true\nbf16: true\nfinetuning_type: lora\n"
                   "per_device_train_batch_size: 16\ncutoff_len: 8192\ngradient_accumulation_steps: 2\n")
    r = explain_text(OOM + "\n", 1, oom_advice=oom_advice_for(cfg, tmp_path, [0]))
    assert r.code == "cuda_oom"
    assert r.details[0].startswith("estimate: needs ~") and 3 <= len(r.details) <= 4
    assert "per_device_train_batch_size: " in r.details[1] and "gradient_accumulation_steps: " in r.details[1]
    assert all("would fit in 139.8 GiB" in d for d in r.details[1:])


def test_swanlab_prompt_on_a_running_run(tmp_path):
    (tmp_path / "console.log").write_text("loading\nswanlab: Using SwanLab to track your experiments.\n"
                                          "swanlab: (1) Create a SwanLab account.\nswanlab: (2) Use an existing "
                                          "SwanLab account.\nswanlab: (3) Don't visualize my results.\n"
                                          "swanlab: Enter your choice: ")
    r = run_reason(tmp_path, state="running", exit_code=None)
    assert r is not None and r.code == "swanlab_login"
    assert run_reason(tmp_path, state="stopped", exit_code=130) is None


def test_unknown_failure_names_the_last_exception():
    r = explain_text("a\nTraceback (most recent call last):\n  File x\nKeyError: 'labels'\n", 1)
    assert r.code == "error" and r.summary == "KeyError: 'labels'" and r.line == 4
    assert explain_text("nothing useful\n", 3).summary == "exit code 3, no error message in the log"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LINES = st.lists(st.one_of(st.text(max_size=80), st.sampled_from([OOM, NCCL, "Traceback (most recent call last):",
                                                                    "ValueError: x", "EADDRINUSE", "\r"])),
                  max_size=30)


@given(_LINES, st.sampled_from([None, 1, 137, 143, -9]))
@settings(max_examples=200, deadline=None)
def test_any_log_gives_one_line_and_a_line_number_inside_it(lines, code):
    text = "\n".join(lines)
    r = explain_text(text, code, first_line=7)
    if r is None:
        return
    assert "\n" not in r.summary and r.summary
    if r.line is not None:
        assert 7 <= r.line < 7 + len(text.split("\n"))
