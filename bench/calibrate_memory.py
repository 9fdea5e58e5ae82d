"""Calibrate the memory estimate: real LLaMA-Factory 0.9.5 runs on a real GPU, NVML peak per run.

On the GPU machine (the lent H200; see ../shared/device/README.md for the wheels LLaMA-Factory 0.9.5
needs there):

    python3 bench/calibrate_memory.py --out $OUT/calib.json [--shapes 0.5b,1.5b] [--lanes 2]

For each shape it builds a random-initialised Qwen2ForCausalLM of the real Qwen2.5 shape on the GPU
(no download; bf16, saved with a tiny byte-level tokenizer whose ids stay below the vocab), then for
each grid row writes a LLaMA-Factory YAML + a data set whose samples are longer than cutoff_len (so a
step really is cutoff_len long), runs `llamafactory-cli train` and records the row's NVML peak: a
sampler thread polls nvmlDeviceGetComputeRunningProcesses (per-process used memory, CUDA context
included) and nvmlDeviceGetMemoryInfo every 50 ms. Training rows are stopped once trainer_log.jsonl
shows the last step (the peak is in the steps, not in the final save); prediction rows run to the
end. Rows may run side by side (--lanes) when NVML reports per-process memory; each process is
matched to its row by the CALIB_ROW variable in its environment.

The table (JSON, rewritten after every row so a cut-off call still returns what it measured) holds,
per row: the YAML config, the model's config.json, the measured peak (per process and device), the
wall time, and the exit status. tests/data/memory_calibration_h200.json is such a table; the
estimator is checked against it by tests/core/estimate/test_calibration.py.

    python3 bench/calibrate_memory.py --cpu-smoke DIR   # here, under .venv-lf: one tiny row on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import string
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lf"))

# Public Qwen2.5 shapes (config.json of Qwen/Qwen2.5-*-Instruct).
SHAPES = {
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                 num_attention_heads=12, num_key_value_heads=2, tie_word_embeddings=True),
    "3b": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
               num_attention_heads=16, num_key_value_heads=2, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
               num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True),
}
VOCAB = 151936

# The grid: (id, shape, method, batch, cutoff_len, gradient checkpointing, reserve GiB for lanes)
# method: lora | full | freeze | predict (do_predict + predict_with_generate, max_new_tokens).
GRID: list[dict] = []


def _row(rid, shape, method, batch, cutoff, gc=True, reserve=40, new_tokens=0, rank=8):
    GRID.append(dict(id=rid, shape=shape, method=method, batch=batch, cutoff_len=cutoff, gc=gc,
                     reserve_gib=reserve, max_new_tokens=new_tokens, lora_rank=rank))


_row("0.5b-lora-b1-512", "0.5b", "lora", 1, 512, reserve=8)
_row("0.5b-lora-b4-2048", "0.5b", "lora", 4, 2048, reserve=20)
_row("0.5b-lora-b4-2048-nogc", "0.5b", "lora", 4, 2048, gc=False, reserve=40)
_row("0.5b-full-b2-1024", "0.5b", "full", 2, 1024, reserve=20)
_row("0.5b-freeze-b2-1024", "0.5b", "freeze", 2, 1024, reserve=15)
_row("0.5b-lora-b8-4096", "0.5b", "lora", 8, 4096, reserve=60)
_row("1.5b-lora-b2-1024", "1.5b", "lora", 2, 1024, reserve=15)
_row("1.5b-lora-b2-1024-nogc", "1.5b", "lora", 2, 1024, gc=False, reserve=30)
_row("1.5b-full-b2-1024", "1.5b", "full", 2, 1024, reserve=45)
_row("1.5b-freeze-b4-2048", "1.5b", "freeze", 4, 2048, reserve=35)
_row("1.5b-lora-b8-2048-r64", "1.5b", "lora", 8, 2048, reserve=50, rank=64)
_row("1.5b-predict-b8-512+256", "1.5b", "predict", 8, 512, reserve=15, new_tokens=256)
_row("3b-lora-b1-2048", "3b", "lora", 1, 2048, reserve=20)
_row("3b-lora-b4-4096", "3b", "lora", 4, 4096, reserve=60)
_row("3b-full-b1-1024", "3b", "full", 1, 1024, reserve=70)
_row("3b-lora-b2-2048-nogc", "3b", "lora", 2, 2048, gc=False, reserve=70)
_row("3b-predict-b4-1024+256", "3b", "predict", 4, 1024, reserve=20, new_tokens=256)
_row("7b-lora-b1-1024", "7b", "lora", 1, 1024, reserve=30)
_row("7b-lora-b4-4096", "7b", "lora", 4, 4096, reserve=70)
_row("7b-lora-b2-2048-nogc", "7b", "lora", 2, 2048, gc=False, reserve=100)
_row("7b-freeze-b2-2048", "7b", "freeze", 2, 2048, reserve=70)
_row("7b-predict-b8-1024+512", "7b", "predict", 8, 1024, reserve=40, new_tokens=512)

# Held out: measured after the coefficients were fitted on the rows above (an out-of-sample check), and one row
# that must run out of memory (its console log is the real CUDA OOM message the failure reasons are tested on).
HOLDOUT_FROM = len(GRID)
_row("h-1.5b-full-b4-2048", "1.5b", "full", 4, 2048, reserve=60)
_row("h-7b-lora-r32-b2-8192", "7b", "lora", 2, 8192, reserve=70, rank=32)
_row("h-0.5b-freeze-b8-4096", "0.5b", "freeze", 8, 4096, reserve=75)
_row("h-3b-lora-b8-1024-nogc", "3b", "lora", 8, 1024, gc=False, reserve=70)
_row("h-7b-predict-b16-2048+256", "7b", "predict", 16, 2048, reserve=40, new_tokens=256)
_row("oom-3b-full-b16-4096", "3b", "full", 16, 4096, reserve=139)

TRAIN_STEPS = 3
TOTAL_GIB = 130.0  # what lanes may reserve together on a 139 GiB card


# ---------------------------------------------------------------------------------------- build
def build_model(shape: str, root: Path, device: str) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from build_tiny import _build_tokenizer  # noqa: PLC0415  (tests/lf, stdlib-only import)

    out = root / f"qwen2.5-{shape}-random"
    if (out / "config.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    corpus = ["".join(random.Random(i).choices(string.ascii_lowercase + " ", k=200))
              for i in range(200)]
    tok = _build_tokenizer(corpus)
    tok.model_max_length = 131072
    cfg = Qwen2Config(vocab_size=VOCAB, max_position_embeddings=32768, rope_theta=1000000.0,
                      rms_norm_eps=1e-6, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, bos_token_id=None, **SHAPES[shape])
    cfg.torch_dtype = "bfloat16"
    t0 = time.time()
    with torch.device(device):
        torch.manual_seed(0)
        model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    print(f"built {shape} in {time.time() - t0:.1f}s", flush=True)
    return out


def write_data(root: Path, cutoff: int, n: int, predict: bool) -> str:
    """Samples longer than cutoff_len (~1 token per random letter with the byte-level tokenizer)."""
    name = f"calib_{'p' if predict else 't'}{cutoff}_{n}"
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    rng = random.Random(cutoff * 1000 + n)
    rows = []
    for _ in range(n):
        long = "".join(rng.choices(string.ascii_lowercase, k=cutoff * 3))
        if predict:  # a long prompt, a short answer: the prompt fills cutoff_len
            rows.append({"instruction": long, "input": "", "output": "ok"})
        else:
            rows.append({"instruction": "repeat", "input": "", "output": long})
    (data / f"{name}.json").write_text(json.dumps(rows))
    info_path = data / "dataset_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info[name] = {"file_name": f"{name}.json"}
    info_path.write_text(json.dumps(info, indent=1))
    return name


def row_config(row: dict, model: Path, root: Path, cpu: bool) -> dict:
    predict = row["method"] == "predict"
    n = max(row["batch"] * (TRAIN_STEPS + 1), 8)
    ds = write_data(root, row["cutoff_len"], n, predict)
    cfg: dict = {
        "model_name_or_path": str(model),
        "trust_remote_code": True,
        "stage": "sft",
        "template": "qwen",
        "cutoff_len": row["cutoff_len"],
        "dataset_dir": str(root / "data"),
        "overwrite_cache": True,
        "preprocessing_num_workers": 4,
        "output_dir": str(root / "out" / row["id"]),
        "overwrite_output_dir": True,
        "report_to": "none",
        "logging_steps": 1,
        "seed": 0,
    }
    if cpu:
        cfg["use_cpu"] = True
    else:
        cfg["bf16"] = True
    if predict:
        cfg.update({"do_predict": True, "predict_with_generate": True, "eval_dataset": ds,
                    "per_device_eval_batch_size": row["batch"],
                    "max_new_tokens": row["max_new_tokens"], "finetuning_type": "lora",
                    "max_samples": row["batch"] * 2})
        return cfg
    cfg.update({"do_train": True, "dataset": ds, "finetuning_type": row["method"],
                "per_device_train_batch_size": row["batch"], "gradient_accumulation_steps": 1,
                "learning_rate": 1.0e-4, "max_steps": TRAIN_STEPS, "save_strategy": "no",
                "plot_loss": False})
    if row["method"] == "lora":
        cfg.update({"lora_rank": row["lora_rank"], "lora_target": "all"})
    if row["method"] == "freeze":
        cfg.update({"freeze_trainable_layers": 2, "freeze_trainable_modules": "all"})
    if not row["gc"]:
        cfg["disable_gradient_checkpointing"] = True
    return cfg


# -------------------------------------------------------------------------------------- sampling
class Sampler(threading.Thread):
    """Polls NVML every 50 ms: per-row peak (processes tagged CALIB_ROW) and the device peak."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import pynvml

        self.nv = pynvml
        pynvml.nvmlInit()
        self.h = pynvml.nvmlDeviceGetHandleByIndex(0)
        self.lock = threading.Lock()
        self.peak_proc: dict[str, int] = {}
        self.peak_dev = 0
        self.pid_row: dict[int, str | None] = {}
        self.per_process_seen = False
        self.stop_ev = threading.Event()
        self.baseline = self.nv.nvmlDeviceGetMemoryInfo(self.h).used

    def _row_of(self, pid: int) -> str | None:
        if pid not in self.pid_row:
            tag = None
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                for kv in env:
                    if kv.startswith(b"CALIB_ROW="):
                        tag = kv.split(b"=", 1)[1].decode()
            except OSError:
                return None
            self.pid_row[pid] = tag
        return self.pid_row[pid]

    def run(self) -> None:
        nv = self.nv
        while not self.stop_ev.wait(0.05):
            try:
                used = nv.nvmlDeviceGetMemoryInfo(self.h).used
                procs = nv.nvmlDeviceGetComputeRunningProcesses(self.h)
            except nv.NVMLError:
                continue
            per_row: dict[str, int] = {}
            for p in procs:
                mem = p.usedGpuMemory
                if mem is None:
                    continue
                self.per_process_seen = True
                tag = self._row_of(p.pid)
                if tag:
                    per_row[tag] = per_row.get(tag, 0) + mem
            with self.lock:
                self.peak_dev = max(self.peak_dev, used)
                for tag, mem in per_row.items():
                    self.peak_proc[tag] = max(self.peak_proc.get(tag, 0), mem)

    def take(self, tag: str) -> int | None:
        with self.lock:
            return self.peak_proc.pop(tag, None)

    def reset_device_peak(self) -> int:
        with self.lock:
            peak, self.peak_dev = self.peak_dev, 0
        return peak


def probe_per_process() -> bool:
    """Does NVML report per-process memory here? (a 1 GiB allocation in a child process)"""
    s = Sampler()
    s.start()
    env = dict(os.environ, CALIB_ROW="probe")
    subprocess.run([sys.executable, "-c", "import torch,time; x=torch.empty(2**30,dtype=torch.uint8,"
                    "device='cuda'); time.sleep(1.5)"], env=env, check=False)
    s.stop_ev.set()
    s.join()
    got = s.take("probe")
    print(f"probe: per-process peak {got} bytes", flush=True)
    s.nv.nvmlShutdown()
    return bool(got and got >= 2**30)


# ------------------------------------------------------------------------------------------- run
def kill_tree(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_row(row: dict, cfg: dict, root: Path, sampler: Sampler | None, timeout: float) -> dict:
    import yaml

    cfg_path = root / "configs" / f"{row['id']}.yaml"
    cfg_path.parent.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    log_path = root / "logs" / f"{row['id']}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out_dir = Path(cfg["output_dir"])
    shutil.rmtree(out_dir, ignore_errors=True)
    env = dict(os.environ, CALIB_ROW=row["id"], HF_HUB_OFFLINE="1", DISABLE_VERSION_CHECK="1",
               TOKENIZERS_PARALLELISM="false")
    exe = shutil.which("llamafactory-cli")
    cli = [exe] if exe else [sys.executable, "-c", "import sys; from llamafactory.cli import main; "
                                 "sys.argv[0] = 'llamafactory-cli'; sys.exit(main())"]
    t0 = time.time()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*cli, "train", str(cfg_path)], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        status = "timeout"
        while time.time() - t0 < timeout:
            rc = proc.poll()
            if rc is not None:
                status = "exit" if rc == 0 else f"exit {rc}"
                break
            if row["method"] != "predict":
                tl = out_dir / "trainer_log.jsonl"
                if tl.exists():
                    lines = [ln for ln in tl.read_text().splitlines() if ln.strip()]
                    steps = []
                    for ln in lines[-2:]:
                        try:  # the last line may be half written
                            steps.append(json.loads(ln).get("current_steps", 0))
                        except ValueError:
                            pass
                    if steps and max(steps) >= TRAIN_STEPS:
                        time.sleep(0.5)
                        status = "steps done"
                        break
            time.sleep(0.2)
        kill_tree(proc)
        proc.wait()
    wall = time.time() - t0
    peak = sampler.take(row["id"]) if sampler else None
    tail = log_path.read_text(errors="replace").splitlines()[-25:]
    ok = status in ("exit", "steps done")
    return dict(row, status=status, ok=ok, wall_s=round(wall, 1), peak_process_bytes=peak,
                config=cfg, log_tail=None if ok else tail)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="calib.json")
    ap.add_argument("--root", default="/tmp/calib")
    ap.add_argument("--shapes", default="0.5b,1.5b,3b,7b")
    ap.add_argument("--rows", default="", help="comma-separated row ids (default: all of --shapes)")
    ap.add_argument("--lanes", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--deadline", type=float, default=0, help="stop starting rows after S seconds")
    ap.add_argument("--cpu-smoke", metavar="DIR", help="one tiny row on CPU (checks the plumbing)")
    a = ap.parse_args(argv)
    started = time.time()

    if a.cpu_smoke:
        root = Path(a.cpu_smoke)
        model = build_model("tiny", root, "cpu")
        results = []
        for row in (dict(GRID[0], id="tiny-lora", shape="tiny", cutoff_len=64),
                    dict(GRID[11], id="tiny-predict", shape="tiny", cutoff_len=64,
                         max_new_tokens=8, batch=2)):
            res = run_row(row, row_config(row, model, root, cpu=True), root, None, 300)
            print(json.dumps({k: res[k] for k in ("id", "status", "wall_s", "log_tail")}), flush=True)
            results.append(res)
        return 0 if all(r["ok"] for r in results) else 1

    import torch

    shapes = [s for s in a.shapes.split(",") if s]
    wanted = set(filter(None, a.rows.split(",")))
    rows = [r for r in (GRID if wanted else GRID[:HOLDOUT_FROM]) if r["shape"] in shapes
            and (not wanted or r["id"] in wanted)]
    per_process = probe_per_process()
    lanes = a.lanes if per_process else 1
    sampler = Sampler()
    sampler.start()
    out = Path(a.out)
    table: dict = {
        "machine": torch.cuda.get_device_name(0),
        "total_bytes": torch.cuda.get_device_properties(0).total_memory,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "per_process_nvml": per_process, "lanes": lanes, "train_steps": TRAIN_STEPS,
        "idle_device_bytes": sampler.baseline, "rows": [], "models": {},
    }
    try:
        import transformers

        import llamafactory

        table["transformers"] = transformers.__version__
        table["llamafactory"] = llamafactory.__version__
    except Exception as exc:  # noqa: BLE001
        table["import_error"] = repr(exc)

    def save() -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(table, indent=1))
        tmp.replace(out)

    root = Path(a.root)
    lock = threading.Lock()
    reserved = [0.0]
    pending = list(rows)

    for shape in shapes:
        if not any(r["shape"] == shape for r in rows):
            continue
        model = build_model(shape, root / "models", "cuda")
        table["models"][shape] = json.loads((model / "config.json").read_text())
        save()
        todo = [r for r in pending if r["shape"] == shape]

        def lane() -> None:
            while True:
                with lock:
                    if not todo or (a.deadline and time.time() - started > a.deadline):
                        return
                    pick = next((r for r in todo if reserved[0] + r["reserve_gib"] <= TOTAL_GIB
                                 or reserved[0] == 0), None)
                    if pick is None:
                        pass
                    else:
                        todo.remove(pick)
                        reserved[0] += pick["reserve_gib"]
                if pick is None:
                    time.sleep(0.5)
                    continue
                cfg = row_config(pick, model, root, cpu=False)
                res = run_row(pick, cfg, root, sampler, a.timeout)
                if lanes == 1:
                    res["peak_device_bytes"] = sampler.reset_device_peak()
                with lock:
                    reserved[0] -= pick["reserve_gib"]
                    table["rows"].append(res)
                    save()
                print(f"{res['id']}: {res['status']} peak {res['peak_process_bytes']} "
                      f"({res['wall_s']}s)", flush=True)

        threads = [threading.Thread(target=lane) for _ in range(lanes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if shape == "7b" or shape == shapes[-1]:
            continue
    sampler.stop_ev.set()
    table["wall_s"] = round(time.time() - started, 1)
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
