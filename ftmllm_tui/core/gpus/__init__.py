"""GPUs and processes: NVML and replay samplers, psutil process table and trees, snapshots, history, per-user summary, host line, the snapshot report."""
