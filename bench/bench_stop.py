"""Stop latency: from the decision to stop to "every process gone", on stand-in torchrun trees
(tests/standin/tree.py: launcher + workers in their own sessions, forwarding signals like torchrun).

* cooperative: 2 workers that exit on SIGINT — target ≤ 1.5 s (the real torchrun needed 1.0 s);
* stubborn: one worker ignores SIGINT — target ≤ grace + 1 s (grace = 2 s here).
Prints JSON lines: name, median_s, max_s, n, grace_s.
"""

import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ftmllm_tui.core.runs.kill import Audit, Stopper, make_plan  # noqa: E402
from ftmllm_tui.core.gpus.proctree import run_processes  # noqa: E402
from standin.helpers import StandIn  # noqa: E402


def one(tmp: Path, args: list[str], grace: float) -> float:
    rid = f"bench-{uuid.uuid4().hex[:8]}"
    s = StandIn(tmp, rid, *args)
    try:
        t0 = time.monotonic()
        plan = make_plan(run_processes(rid, None), run_id=rid)  # the snapshot is part of the cost
        report = Stopper(plan, audit=Audit(None), grace_int=grace, grace_term=5).run()
        took = time.monotonic() - t0
        assert report.all_gone, report.outcomes
        return took
    finally:
        s.cleanup()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, args, grace in (("stop, cooperative tree (2 workers)", ["--workers", "2"], 10.0),
                                  ("stop, a worker ignores SIGINT", ["--workers", "2", "--ignore-int", "1"], 2.0)):
            xs = [one(tmp, args, grace) for _ in range(n)]
            print(json.dumps({"name": name, "median_s": round(statistics.median(xs), 3),
                              "max_s": round(max(xs), 3), "n": n, "grace_s": grace}))


if __name__ == "__main__":
    main()
