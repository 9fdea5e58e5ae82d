"""`make bench`: every performance figure of the project in one table, with targets and peers.

Writes the raw outputs to bench/results/<date>-<machine>/ and prints a Markdown table.
Peers measured on this machine in the same run where they can run here; otherwise the peer figure
recorded on the 2×H200 host (DESIGN.md §4, fixtures/nvml/peers_h200x2.jsonl) is shown and marked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import json
import platform
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ptyrun import measure  # noqa: E402

# nvitop 1.7.2 at idle under a pty, 1 s refresh, on the 2×H200 host (DESIGN.md §4)
NVITOP_H200 = {
    (120, 40): {"bytes_per_s": 945.4, "cpu_pct": 1.57, "rss_mb": 56.0, "first_s": 0.42},
    (80, 24): {"bytes_per_s": 392.8, "cpu_pct": 1.34, "rss_mb": 55.8, "first_s": 0.31},
}
NVITOP_SNAPSHOT_MS_H200 = 104.6


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{socket.gethostname()} ({os.cpu_count()} CPUs, {cpu})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40.0, help="idle run length per size")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    today = dt.date.today().isoformat()
    out = a.out or ROOT / "bench" / "results" / f"{today}-{socket.gethostname()}"
    out.mkdir(parents=True, exist_ok=True)

    sampling = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_sampling.py"), "--n", "300"],
                              capture_output=True, text=True, check=True).stdout
    (out / "sampling.jsonl").write_text(sampling)
    samp = {r["name"]: r for r in map(json.loads, sampling.splitlines())}

    met = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_metrics.py")],
                         capture_output=True, text=True, check=True).stdout
    (out / "metrics.jsonl").write_text(met)
    val = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_validate.py")],
                         capture_output=True, text=True, check=True).stdout
    (out / "validate.jsonl").write_text(val)
    met += val
    est = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_estimate.py")],
                         capture_output=True, text=True, check=True).stdout
    (out / "estimate.jsonl").write_text(est)
    met += est
    tl = ROOT / ".venv-toolong" / "bin" / "tl"
    if not tl.exists():  # the peer for the 1 GB log: Toolong pins an old Textual, so its own venv
        subprocess.run([sys.executable, "-m", "venv", str(tl.parents[1])], check=True)
        subprocess.run([str(tl.parent / "pip"), "install", "-q", "toolong==1.5.0"], check=False)
    logs = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_logs.py")],
                          capture_output=True, text=True, check=True).stdout
    (out / "logs.jsonl").write_text(logs)
    stop = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_stop.py"), "5"],
                          capture_output=True, text=True, check=True).stdout
    (out / "stop.jsonl").write_text(stop)
    stops = [json.loads(line) for line in stop.splitlines()]
    ssh = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_ssh.py"), "--no-local", "--seconds",
                          str(min(a.seconds, 30))], capture_output=True, text=True).stdout  # needs sshd
    (out / "ssh.jsonl").write_text(ssh)
    slurm_json = out / "slurm.json"  # a throwaway one-node Slurm (needs root and Debian's Slurm; skipped else)
    subprocess.run([sys.executable, str(ROOT / "bench" / "bench_slurm.py"), "--json", str(slurm_json)],
                   capture_output=True, text=True)

    idle = {}
    exe = [sys.executable, "-m", "ftmllm_tui.cli", "--interval", "1"]
    for size in ((120, 40), (80, 24)):
        r = measure(exe, size[0], size[1], seconds=a.seconds, warmup=5, marker=b"Processes",
                    ui_marker=b"Filter", env={"PYTHONPATH": str(ROOT)})
        idle[size] = r
    (out / "idle.jsonl").write_text("".join(json.dumps(r) + "\n" for r in idle.values()))

    rows = []  # figure, ours, peer, ratio, target
    live = samp.get("live", {})
    if "median_ms" in live:
        peer = samp.get("nvitop", {}).get("median_ms")
        rows.append(("sampling per refresh, live NVML (median)", f"{live['median_ms']:.2f} ms",
                     f"{peer:.1f} ms (nvitop)" if peer else "-",
                     f"{live['median_ms'] / peer:.3f}×" if peer else "-", "≤ 10 ms, ≤ 0.1× nvitop"))
    rows.append(("sampling per refresh, replay (median)", f"{samp['replay']['median_ms']:.3f} ms", "-", "-",
                 "≤ 10 ms"))
    rows.append(("sampling per refresh, our NVML code on recorded answers",
                 f"{samp['live-recorded']['median_ms']:.3f} ms",
                 f"{NVITOP_SNAPSHOT_MS_H200} ms (nvitop, 2×H200, recorded)", "-", "≤ 10 ms"))
    for size, r in idle.items():
        p = NVITOP_H200[size]
        tag = f"{size[0]}×{size[1]}"
        rows.append((f"idle bytes/s to the terminal {tag} (replay)", f"{r['bytes_per_s_steady']:.0f}",
                     f"{p['bytes_per_s']:.0f} (nvitop, 2×H200, recorded)",
                     f"{r['bytes_per_s_steady'] / p['bytes_per_s']:.2f}×", f"≤ {p['bytes_per_s']:.0f}"))
        rows.append((f"idle CPU % of a core {tag} (replay)", f"{r['cpu_pct_steady']:.2f}",
                     f"{p['cpu_pct']:.2f} (nvitop, 2×H200, recorded)",
                     f"{r['cpu_pct_steady'] / p['cpu_pct']:.2f}×", f"≤ {p['cpu_pct']:.2f}"))
        rows.append((f"peak RSS {tag}", f"{r['rss_peak_mb']:.0f} MB", f"{p['rss_mb']:.0f} MB (nvitop)",
                     f"{r['rss_peak_mb'] / p['rss_mb']:.2f}×", "-"))
        rows.append((f"time to first frame with data {tag}", f"{r['first_frame_s']:.2f} s",
                     f"{p['first_s']:.2f} s (nvitop)", f"{r['first_frame_s'] / p['first_s']:.2f}×",
                     f"≤ {p['first_s']:.2f} s"))
        rows.append((f"time to the full UI {tag}", f"{r['ui_frame_s']:.2f} s",
                     f"{p['first_s']:.2f} s (nvitop)", f"{r['ui_frame_s'] / p['first_s']:.2f}×", "-"))
        rows.append((f"quit after q {tag}", f"{r['quit_s']:.2f} s", "-", "-", "< 1 s"))

    for r in map(json.loads, ssh.splitlines()):
        rows.append((f"idle bytes/s over SSH {r['cols']}×{r['rows']} (replay): terminal, wire",
                     f"{r['bytes_per_s']:.0f}, {r['wire_bytes_per_s']:.0f}", "-", "-", "-"))
    for r in map(json.loads, (met + logs).splitlines()):
        if r.get("value") is None or r["name"].startswith(("generate", "toolong:", "same small")):
            continue
        peer = r.get("peer")
        rows.append((r["name"], f"{r['value']} {r['unit']}",
                     f"{peer} {r['unit']} (Toolong 1.5.0)" if peer is not None else "-",
                     f"{peer / r['value']:.0f}× better" if peer and r["value"] else "-",
                     (r.get("target") or "-").replace("<=", "≤")))
    for r in json.loads(slurm_json.read_text()) if slurm_json.exists() else []:
        rows.append((f"one Slurm refresh, {r['jobs']} jobs queued (squeue --json alone beside it)",
                     f"{r['refresh_ms']:.0f} ms", f"{r['squeue_json_ms']:.0f} ms (squeue --json)", "-", "≤ 300 ms"))
    for st in stops:
        target = "≤ 1.5 s" if "cooperative" in st["name"] else f"≤ {st['grace_s'] + 1:g} s (grace + 1 s)"
        rows.append((f"{st['name']} (median of {st['n']})", f"{st['median_s']:.2f} s",
                     "1.0 s (real torchrun after SIGINT, recorded)" if "cooperative" in st["name"] else "-",
                     "-", target))

    short = f"{socket.gethostname()} ({os.cpu_count()} CPUs)"
    lines = [f"machine: {machine()}, date: {today}, python {platform.python_version()}", "",
             "| figure | ours | peer | ratio | target | machine | date |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} | {short} | {today} |" for r in rows]
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    print(table)
    print(f"\nraw outputs: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
