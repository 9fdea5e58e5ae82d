"""Memory estimate costs (the launch dialog and the editor show it as you type) and its error against the real
H200 table (tests/data/memory_calibration_h200.json, made by bench/calibrate_memory.py).

Prints JSON lines {"name", "value", "unit", "target"} like the other benches (run_all.py tabulates them);
--table prints the calibration table (measured vs estimated, error per row) as Markdown for README.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "configs" / "qwen2.5vl_lora_sft.yaml"
VL7B = ROOT / "tests" / "data" / "model_configs" / "qwen2.5-vl-7b-instruct.config.json"
TABLE = ROOT / "tests" / "data" / "memory_calibration_h200.json"


def row(name: str, value: float, unit: str, target: str) -> None:
    print(json.dumps({"name": name, "value": value, "unit": unit, "target": target}), flush=True)


def hub(tmp: Path) -> dict[str, str]:
    snap = tmp / "hub" / "models--Qwen--Qwen2.5-VL-7B-Instruct" / "snapshots" / "r"
    snap.mkdir(parents=True)
    shutil.copy(VL7B, snap / "config.json")
    return {**os.environ, "HUGGINGFACE_HUB_CACHE": str(tmp / "hub")}


def timed(fn, n: int) -> float:
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def calibration_rows() -> list[tuple[dict, int]]:
    from ftmllm_tui.core.estimate import estimate_values

    t = json.loads(TABLE.read_text())
    out = []
    with tempfile.TemporaryDirectory() as d:
        for r in t["rows"]:
            m = Path(d) / r["shape"]
            m.mkdir(exist_ok=True)
            (m / "config.json").write_text(json.dumps(t["models"][r["shape"]]))
            est = estimate_values(dict(r["config"], model_name_or_path=str(m)), kind="train")
            out.append((r, est.per_gpu_bytes))
    return out


def markdown_table() -> str:
    lines = ["| row | method | batch × cutoff_len | checkpointing | measured GiB | estimated GiB | error |",
             "|---|---|---|---|---:|---:|---:|"]
    for r, est in calibration_rows():
        if r["ok"]:
            m = r["peak_process_bytes"]
            err = f"{(est - m) / m * 100:+.1f} %"
            meas = f"{m / 2**30:.2f}"
        else:
            meas, err = "out of memory", "(estimate > 139.8)"
        size = f"{r['batch']} × {r['cutoff_len']}" + (f" + {r['max_new_tokens']} new" if r["max_new_tokens"] else "")
        rid = r["id"] + (" (held out)" if r.get("holdout") else "")
        method = r["method"] + (f" r{r['lora_rank']}" if r["method"] == "lora" else "")
        gc = "-" if r["method"] == "predict" else ("on" if r["gc"] else "off")
        lines.append(f"| {rid} | {method} | {size} | {gc} | {meas} | {est / 2**30:.2f} | {err} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", action="store_true")
    a = ap.parse_args()
    if a.table:
        print(markdown_table())
        return
    from ftmllm_tui.core.estimate import estimate_file
    from ftmllm_tui.core.runs.reasons import explain_text, oom_advice_for

    with tempfile.TemporaryDirectory() as d:
        env = hub(Path(d))
        row("estimate of a config, model config.json in the HF cache (median of 200)",
            round(timed(lambda: estimate_file(EXAMPLE, environ=env, workdir=EXAMPLE.parent), 200), 3), "ms",
            "<= 50 ms")
        code = ("import time,sys; t=time.perf_counter(); from ftmllm_tui.core.estimate import estimate_file; "
                f"estimate_file({str(EXAMPLE)!r}); print((time.perf_counter()-t)*1000)")
        cold = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                     env={**env, "PYTHONPATH": str(ROOT)}, cwd=EXAMPLE.parent).stdout)
                for _ in range(5)]
        row("estimate, cold (import + first estimate, median of 5 processes)", round(statistics.median(cold), 1),
            "ms", "-")
        model = Path(d) / "m"
        model.mkdir()
        model_cfg = json.loads(TABLE.read_text())["models"]["7b"]
        (model / "config.json").write_text(json.dumps(model_cfg))
        cfg = Path(d) / "c.yaml"
        cfg.write_text(f"model_name_or_path: {model}\nstage: sft\ndo_train: true\nbf16: true\n"
                       "per_device_train_batch_size: 16\ncutoff_len: 8192\n")
        oom = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 9.27 GiB. GPU 0 has a total "
               "capacity of 139.81 GiB of which 3.12 GiB is free.")
        row("OOM reason with the estimate and the cheapest changes that fit (median of 50)",
            round(timed(lambda: explain_text(oom, 1, oom_advice=oom_advice_for(cfg, Path(d), [0])), 50), 2), "ms",
            "-")
    rows = calibration_rows()
    errs = [abs(est - r["peak_process_bytes"]) / r["peak_process_bytes"] * 100 for r, est in rows if r["ok"]]
    held = [abs(est - r["peak_process_bytes"]) / r["peak_process_bytes"] * 100 for r, est in rows
            if r["ok"] and r.get("holdout")]
    row(f"memory estimate vs real H200 peak: largest error over {len(errs)} rows", round(max(errs), 1), "%",
        "<= 15 %")
    row(f"… over the {len(held)} held-out rows", round(max(held), 1), "%", "<= 15 %")


if __name__ == "__main__":
    main()
