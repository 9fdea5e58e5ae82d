"""Profile the running app (cProfile) for N seconds under a pty; print the top functions.

    python bench/profile_app.py --seconds 20 [--cols 120 --rows 40] [-- --replay FILE]
"""

import argparse
import os
import pstats
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from ptyrun import measure  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--cols", type=int, default=120)
ap.add_argument("--rows", type=int, default=40)
ap.add_argument("--top", type=int, default=30)
ap.add_argument("args", nargs=argparse.REMAINDER)
a = ap.parse_args()
extra = a.args[1:] if a.args and a.args[0] == "--" else a.args
out = Path(tempfile.mkdtemp()) / "prof.out"
code = ("import cProfile, sys; from ftmllm_tui import cli; p = cProfile.Profile(); p.enable()\n"
        f"try: cli.main({['--interval', '1', *extra]!r})\n"
        f"finally: p.disable(); p.dump_stats({str(out)!r})")
r = measure([sys.executable, "-c", code], a.cols, a.rows, a.seconds, 3,
            env={"PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}, marker=b"Processes")
print(r)
st = pstats.Stats(str(out))
st.sort_stats("tottime").print_stats(a.top)
st.sort_stats("cumtime").print_stats(a.top)
