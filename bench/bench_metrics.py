"""Metrics and plot costs (issue: follow a run):

* a 1,000,000-line trainer_log.jsonl (generated, LLaMA-Factory's keys): full parse — target ≤ 2 s;
* appending 100 lines to it and updating (TrainerLog.poll) — target ≤ 5 ms (median of 20);
* a chart of 1,000,000 points at 200 columns (render) — target ≤ 50 ms (median of 10).
Prints JSON lines: name, value, unit, target.
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftmllm_tui.core.follow.metrics import TrainerLog  # noqa: E402
from ftmllm_tui.core.follow.plot import Line, render  # noqa: E402


def line(step: int, total: int) -> str:
    return json.dumps({"current_steps": step, "total_steps": total, "loss": 5.0 / (1 + step * 1e-5),
                       "lr": 1e-4, "epoch": step / 1000, "percentage": round(100 * step / total, 2),
                       "elapsed_time": "1:00:00", "remaining_time": "0:10:00"}) + "\n"


def main() -> None:
    n = 1_000_000
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "trainer_log.jsonl"
        with open(p, "w") as f:
            for start in range(1, n + 1, 10_000):
                f.write("".join(line(s, n + 2000) for s in range(start, min(n, start + 9_999) + 1)))
        size_mb = p.stat().st_size / 1e6
        t0 = time.perf_counter()
        t = TrainerLog(p)
        t.poll()
        full = time.perf_counter() - t0
        assert len(t.metrics.series["loss"]) == n
        print(json.dumps({"name": f"parse a {n:,}-line trainer_log.jsonl ({size_mb:.0f} MB)",
                          "value": round(full, 3), "unit": "s", "target": "≤ 2 s"}))
        times = []
        step = n
        for _ in range(20):
            with open(p, "a") as f:
                f.write("".join(line(step + i, n + 2000) for i in range(1, 101)))
            step += 100
            t0 = time.perf_counter()
            t.poll()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"name": "append 100 lines and update", "value": round(statistics.median(times) * 1000, 3),
                          "unit": "ms", "target": "≤ 5 ms"}))
        s = t.metrics.series["loss"]
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            render([Line("loss", s.x, s.y)], 200, 30)
            times.append(time.perf_counter() - t0)
        print(json.dumps({"name": f"plot {len(s):,} points at 200 columns", "value": round(statistics.median(times) * 1000, 2),
                          "unit": "ms", "target": "≤ 50 ms"}))


if __name__ == "__main__":
    main()
