"""A stand-in for `llamafactory-cli -> torchrun -> N workers`, with the same shape as the real one
(DESIGN.md §4): the launcher forwards SIGINT/SIGTERM/SIGHUP to each worker's process group and
each worker starts its own session, so a process-group signal or a tmux kill does not reach them.

    python tree.py launcher --workers 2 [--ignore-int 1] [--early-exit 0] [--ready FILE]
    python tree.py worker [--ignore-int] [--exit-after S]

Workers print a line per second; a worker that ignores SIGINT needs SIGTERM. The launcher writes
the worker PIDs to --ready FILE once they are all up.
"""

import argparse
import os
import signal
import subprocess
import sys
import time


def worker(a) -> int:
    if a.ignore_int:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    if a.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    state = {"step": 0}
    if a.save_dir:  # like LLaMA-Factory with LLAMABOARD_ENABLED: SIGABRT = save at this step, then exit 0
        def save(*_):
            os.makedirs(a.save_dir, exist_ok=True)
            with open(os.path.join(a.save_dir, "trainer_log.jsonl"), "a") as f:
                f.write('{"current_steps": %d, "total_steps": 4000, "loss": 1.5}\n' % (1100 + state["step"]))
            with open(os.path.join(a.save_dir, "adapter_model.safetensors"), "wb") as f:
                f.write(b"weights")
            sys.exit(0)

        signal.signal(signal.SIGABRT, save)
    if a.ready:  # handlers are installed: tell the launcher
        open(f"{a.ready}.{os.getpid()}", "w").close()
    end = time.time() + a.exit_after if a.exit_after else None
    i = 0
    while end is None or time.time() < end:
        print(f"worker {os.getpid()} step {i}", flush=True)
        i += 1
        state["step"] = i
        time.sleep(0.5)
    return 0


def launcher(a) -> int:
    kids = []
    for i in range(a.workers):
        args = [sys.executable, __file__, "worker"] + (["--ready", a.ready] if a.ready else [])
        if a.save_dir and i == 0:  # rank 0 saves
            args += ["--save-dir", a.save_dir]
        elif a.save_dir:
            args += ["--save-dir", a.save_dir + f".rank{i}"]
        if a.ignore_int is not None and i == a.ignore_int:
            args.append("--ignore-int")
        if a.ignore_term is not None and i == a.ignore_term:
            args += ["--ignore-int", "--ignore-term"]
        if a.early_exit is not None and i == a.early_exit:
            args += ["--exit-after", "0.3"]
        kids.append(subprocess.Popen(args, start_new_session=True))  # like torchrun's workers

    def forward(sig, _frame):
        for k in kids:
            try:
                os.killpg(k.pid, sig)
            except ProcessLookupError:
                pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, forward)
    if a.ready:  # ready once every worker has its signal handlers in place
        while not all(os.path.exists(f"{a.ready}.{k.pid}") or k.poll() is not None for k in kids):
            time.sleep(0.01)
        with open(a.ready + ".tmp", "w") as f:
            f.write(" ".join(str(k.pid) for k in kids))
        os.replace(a.ready + ".tmp", a.ready)
    codes = [k.wait() for k in kids]
    return max(abs(c) for c in codes) if codes else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["launcher", "worker"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ignore-int", type=int, nargs="?", const=-1, default=None)
    ap.add_argument("--ignore-term", type=int, nargs="?", const=-1, default=None)
    ap.add_argument("--early-exit", type=int, default=None)
    ap.add_argument("--exit-after", type=float, default=None)
    ap.add_argument("--ready")
    ap.add_argument("--save-dir")
    a = ap.parse_args()
    if a.role == "worker":
        a.ignore_int = a.ignore_int is not None
        a.ignore_term = a.ignore_term is not None
        sys.exit(worker(a))
    sys.exit(launcher(a))
