"""Print, every 0.1 s, each GPU's used memory and compute PIDs as JSON lines (for stop timelines)."""

import json
import sys
import time

import pynvml

pynvml.nvmlInit()
handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
end = time.time() + float(sys.argv[1] if len(sys.argv) > 1 else 60)
while time.time() < end:
    row = {"t": round(time.time(), 3), "gpus": []}
    for h in handles:
        mem = pynvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
        pids = [p.pid for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h)]
        row["gpus"].append({"used_mib": mem.used // 2**20, "pids": pids})
    print(json.dumps(row), flush=True)
    time.sleep(0.1)
