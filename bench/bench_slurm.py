"""Cost of one Slurm refresh of the app against a real local controller (a throwaway one-node Slurm,
tests/integration/slurmcluster.py; needs Debian's slurmctld, slurmd, munge and root), as the queue
grows: 0, 50 and 200 jobs (8 running with a GPU each, the rest submitted held, `sbatch --hold`).

A refresh is ``core.slurm.query.read_cluster()``: scontrol -d -o show node, squeue -O, sinfo -O, run
at the same time, parsed into frozen dataclasses. Beside it: the same three commands one after the
other, ``squeue --json`` alone (what other tools read; target of the issue's remark that it is
slower), and the Runs view's own call (squeue for the app's Slurm runs). Median of repeats.

    python bench/bench_slurm.py [--jobs 0,50,200] [--repeats 15] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from slurmcluster import SlurmCluster, unavailable  # noqa: E402

from ftmllm_tui.core.slurm import query  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def fill(c: SlurmCluster, tmp: Path, total: int, have: int) -> int:
    """Submit jobs until ``total`` are queued: the first 8 run (one GPU each), the rest are held."""
    for i in range(have, total):
        args = ["--gres=gpu:1"] if i < 8 else ["--hold", "--gres=gpu:2"]
        c.run("sbatch", "-o", "/dev/null", "-J", f"bench-{i}", *args, "--wrap", "sleep 3600")
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="0,50,200")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", help="write the figures here (JSON)")
    a = ap.parse_args(argv)
    why = unavailable()
    if why:
        print(f"bench_slurm: skipped: {why}", file=sys.stderr)
        return 0
    counts = sorted(int(x) for x in a.jobs.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ftm-bench-slurm-") as tmp, SlurmCluster(Path(tmp)) as c:
        env = c.env
        query.version(env)  # read once per process, as the app does
        have = 0
        for n in counts:
            have = fill(c, Path(tmp), n, have)
            state = query.read_cluster(env=env)
            assert len(state.jobs) == n, (len(state.jobs), n)
            refresh = median_ms(lambda: query.read_cluster(env=env), a.repeats)

            def sequential():
                for argv in (query.NODE_ARGV, query.job_argv(), query.PART_ARGV):
                    query.run(argv, env=env)

            seq = median_ms(sequential, a.repeats)
            sq_json = median_ms(lambda: subprocess.run(["squeue", "--json"], env=env, capture_output=True),
                                a.repeats)
            sq_text = median_ms(lambda: query.run(query.job_argv(), env=env), a.repeats)
            ids = [j.id for j in state.jobs][:5]
            runs_call = median_ms(lambda: query.read_jobs(ids, env=env), a.repeats)
            rows.append({"jobs": n, "refresh_ms": round(refresh, 1), "sequential_ms": round(seq, 1),
                         "squeue_text_ms": round(sq_text, 1), "squeue_json_ms": round(sq_json, 1),
                         "runs_view_ms": round(runs_call, 1), "gpus_alloc": state.gpus_alloc})
        c.cancel_all()
    print("| jobs in the queue | one refresh (3 calls at once) | the 3 calls in a row | squeue -O | "
          "squeue --json | Runs view's squeue -j |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['jobs']} | {r['refresh_ms']:.0f} ms | {r['sequential_ms']:.0f} ms | {r['squeue_text_ms']:.0f} ms "
              f"| {r['squeue_json_ms']:.0f} ms | {r['runs_view_ms']:.0f} ms |")
    print("target: ≤ 300 ms per refresh (never on the UI thread)")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
