"""Produce real failing LLaMA-Factory 0.9.5 runs on CPU with the tiny model and keep their console logs.

    .venv-lf/bin/python tests/lf/make_failure_logs.py OUTDIR [--tmpfs /mnt/small]

Writes OUTDIR/<case>.log (stdout+stderr as a run's console.log has them) and OUTDIR/<case>.exit (the exit
status as the runner records it: 128+N for a signal). Cases: dataset_missing, template_unknown,
template_mismatch, port_in_use (torchrun's MASTER_PORT taken), disk_full (output_dir on a small tmpfs: give
--tmpfs, a mounted one), sigkill (SIGKILL to the launcher mid-training: exit 137, no Python error).
tests/data/failure_logs/ holds such logs; tests/core/runs/test_reasons.py reads them.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_tiny  # noqa: E402


def run(case: str, cfg_text: str, out: Path, work: Path, env: dict, kill_after: float | None = None) -> int:
    cfg = work / f"{case}.yaml"
    cfg.write_text(cfg_text)
    log = out / f"{case}.log"
    with open(log, "wb") as fh:
        p = subprocess.Popen([str(build_tiny.LF_CLI), "train", str(cfg)], stdout=fh, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True, cwd=work)
        if kill_after is not None:
            time.sleep(kill_after)
            os.kill(p.pid, signal.SIGKILL)
        rc = p.wait(timeout=600)
    code = 128 - rc if rc < 0 else rc  # as a shell reports a signal
    (out / f"{case}.exit").write_text(f"{code}\n")
    text = log.read_text(errors="replace")
    log.write_text(text.replace(str(work), "/work/run"))  # no machine paths in the kept logs
    print(f"{case}: exit {code}, {len(text.splitlines())} lines", flush=True)
    return code


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--tmpfs", help="a mounted small tmpfs for disk_full")
    ap.add_argument("--work", default="/tmp/ftm-failures")
    a = ap.parse_args()
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(a.work)
    cfg_path = build_tiny.build(work, epochs=1)
    base = cfg_path.read_text()
    env = build_tiny.train_env(work)

    run("dataset_missing", base.replace("dataset: tiny", "dataset: tiny_v2"), out, work, env)
    run("template_unknown", base.replace("template: qwen", "template: qwen25"), out, work, env)
    run("template_mismatch", base.replace("template: qwen", "template: qwen2_vl"), out, work, env)
    with socket.socket() as s:  # torchrun's rendezvous port, taken
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        penv = dict(build_tiny.train_env(work, nproc=2), MASTER_PORT=str(port), MASTER_ADDR="127.0.0.1")
        run("port_in_use", base, out, work, penv)
    if a.tmpfs:
        full = base.replace("finetuning_type: lora", "finetuning_type: full")
        full = full.replace(f"output_dir: {work / 'saves' / 'tiny-lora-sft'}", f"output_dir: {a.tmpfs}/out")
        full = full.replace("save_steps: 20", "save_steps: 2")
        run("disk_full", full, out, work, env)
    run("sigkill", base.replace("num_train_epochs: 1.0", "num_train_epochs: 50.0"), out, work, env,
        kill_after=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
