"""A stand-in GPU job: hold N GB and keep the GPU busy with matmuls at a duty cycle.

Under torchrun (LOCAL_RANK set) each rank takes GPU LOCAL_RANK % device_count and joins an NCCL
group with an all-reduce every second, like a DDP training job.
    torchrun --nproc_per_node=2 bench/gpu_burn.py --gb 8 --seconds 300
    python bench/gpu_burn.py --gpu 0 --gb 3 --duty 0.3
"""

import argparse
import os
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--gpu", type=int, default=None)
ap.add_argument("--gb", type=float, default=4)
ap.add_argument("--seconds", type=float, default=300)
ap.add_argument("--duty", type=float, default=1.0)
ap.add_argument("--output-dir", default=None,
                help="rank 0 writes trainer_log.jsonl there, like LLaMA-Factory (one line per step)")
ap.add_argument("--steps", type=int, default=600)
a = ap.parse_args()

rank = os.environ.get("LOCAL_RANK")
dev = a.gpu if a.gpu is not None else (int(rank) % torch.cuda.device_count() if rank else 0)
torch.cuda.set_device(dev)
if rank is not None:
    import torch.distributed as dist

    dist.init_process_group("nccl")
hold = torch.empty(int(a.gb * 2**30), dtype=torch.uint8, device="cuda")
x = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
end = time.time() + a.seconds
last = 0.0
start = time.time()
step = 0
log = None
if a.output_dir and (rank in (None, "0")):
    import json
    import math
    import os as _os
    import random

    _os.makedirs(a.output_dir, exist_ok=True)
    log = open(_os.path.join(a.output_dir, "trainer_log.jsonl"), "w")
while time.time() < end:
    t0 = time.time()
    while time.time() - t0 < a.duty * 0.5:
        x = (x @ x).clamp_(-1, 1)
    torch.cuda.synchronize()
    if rank is not None and time.time() - last > 1:
        t = torch.ones(1, device="cuda")
        dist.all_reduce(t)
        last = time.time()
    time.sleep(max(0.0, (1 - a.duty) * 0.5))
    step += 1
    if log is not None and step <= a.steps:
        el = time.time() - start
        rem = el / step * (a.steps - step)
        rec = {"current_steps": step, "total_steps": a.steps,
               "loss": 2.0 * math.exp(-step / 150) + 0.4 + random.random() * 0.05,
               "lr": 1e-4 * min(1.0, step / 30), "epoch": step / 200, "percentage": round(100 * step / a.steps, 2),
               "elapsed_time": "%d:%02d:%02d" % (el // 3600, el % 3600 // 60, el % 60),
               "remaining_time": "%d:%02d:%02d" % (rem // 3600, rem % 3600 // 60, rem % 60)}
        if step % 25 == 0:
            log.write(json.dumps(dict(rec, eval_loss=rec["loss"] + 0.05)) + "\n")
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(f"{{'loss': {rec['loss']:.4f}, 'learning_rate': {rec['lr']:.2e}, 'epoch': {rec['epoch']:.2f}}}",
              flush=True)
