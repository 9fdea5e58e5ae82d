"""Models and data: the Models view's first paint with a 200-repo HF cache (the scan runs in the background),
the dataset browser's first rows of a 1 GB JSONL, row-check throughput. Prints a Markdown table and JSON lines.

    .venv/bin/python bench/bench_models.py [--repos 200] [--gb 1] [--rows 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ROW = {"messages": [{"role": "user", "content": "<image>Describe the picture. " + "q " * 60},
                    {"role": "assistant", "content": "It shows " + "a " * 80}], "images": ["img/a.png"]}


def make_jsonl(path: Path, size: int) -> int:
    row = json.dumps(ROW).encode() + b"\n"
    block = row * ((4 << 20) // len(row) + 1)
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
    return written // len(row)


def frames(app) -> list:
    """Times at which the app wrote a frame to its (headless) driver: what a terminal would get."""
    out: list = []
    real = app._display

    def display(screen, renderable):
        real(screen, renderable)
        if renderable is not None:
            out.append((time.perf_counter(), screen))
    app._display = display
    return out


async def first_frame_after(shown: list, t: float, screen) -> float:
    while not any(ts >= t and s is screen for ts, s in shown):
        await asyncio.sleep(0.001)
    return next(ts for ts, s in shown if ts >= t and s is screen)


async def models_first_paint(cache: Path) -> tuple[float, float]:
    """(ms from M to the view's first frame, ms until the 200 repos are on screen)."""
    from hfcache import make_cache  # noqa: F401  (the cache is made by the caller)
    from tests.conftest import FakeClock
    from tests.ui.conftest import make_app

    from ftmllm_tui.ui.screens.models import ModelsScreen

    app = make_app(FakeClock())
    async with app.run_test(size=(120, 40)) as pilot:
        shown = frames(app)
        await pilot.pause()
        t0 = time.perf_counter()
        app.action_models()
        while not (isinstance(app.screen, ModelsScreen) and app.screen.is_mounted):
            await asyncio.sleep(0.001)
        screen = app.screen
        first = await first_frame_after(shown, t0, screen) - t0
        while screen.report is None:
            await asyncio.sleep(0.001)
        full = await first_frame_after(shown, time.perf_counter(), screen) - t0
        assert screen.query_one("DataTable").row_count >= 200
    return first * 1000, full * 1000


async def rows_first_paint(data: Path) -> float:
    from tests.conftest import FakeClock
    from tests.ui.conftest import make_app

    from ftmllm_tui.core.models import datasets as ds
    from ftmllm_tui.ui.screens.datasets import RowsScreen

    entry = next(e for e in ds.entries(data)[0] if e.name == "big")
    app = make_app(FakeClock())
    async with app.run_test(size=(120, 40)) as pilot:
        shown = frames(app)
        await pilot.pause()
        t0 = time.perf_counter()
        screen = RowsScreen(entry, data / "big.jsonl", data)
        app.push_screen(screen)
        while screen.row is None:
            await asyncio.sleep(0.001)
        took = await first_frame_after(shown, time.perf_counter(), screen) - t0  # the frame with the row
    return took * 1000


def check_throughput(data: Path, rows: int) -> float:
    from ftmllm_tui.core.models import datasets as ds

    entry = next(e for e in ds.entries(data)[0] if e.name == "small")
    t0 = time.perf_counter()
    res = ds.check_entry(entry, data)
    took = time.perf_counter() - t0
    assert res[0].rows == rows
    return rows / took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=200)
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    from hfcache import make_cache

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_cache(tmp / "hub", repos=a.repos)
        os.environ["HF_HUB_CACHE"] = str(tmp / "hub")
        os.environ["XDG_STATE_HOME"] = str(tmp / "state")
        os.environ["XDG_CONFIG_HOME"] = str(tmp / "cfg")
        os.environ["FTMLLM_IMAGES"] = "halfblock"
        data = tmp / "data"
        (data / "img").mkdir(parents=True)
        n_big = make_jsonl(data / "big.jsonl", int(a.gb * (1 << 30)))
        row = json.dumps(ROW) + "\n"
        (data / "small.jsonl").write_text(row * a.rows)
        cols = {"messages": "messages", "images": "images"}
        tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
        (data / "dataset_info.json").write_text(json.dumps({
            "big": {"file_name": "big.jsonl", "formatting": "sharegpt", "columns": cols, "tags": tags},
            "small": {"file_name": "small.jsonl", "formatting": "sharegpt", "columns": cols, "tags": tags}}))
        paints = [asyncio.run(models_first_paint(tmp / "hub")) for _ in range(a.repeat)]
        rows = [asyncio.run(rows_first_paint(data)) for _ in range(a.repeat)]
        rate = statistics.median(check_throughput(data, a.rows) for _ in range(3))
    first = statistics.median(p[0] for p in paints)
    full = statistics.median(p[1] for p in paints)
    first_rows = statistics.median(rows)
    size = f"{a.gb:g} GB ({n_big:,} rows)"
    results = [
        {"name": f"models_first_paint_{a.repos}_repos_ms", "value": round(first, 1), "target": 300},
        {"name": f"models_scan_listed_{a.repos}_repos_ms", "value": round(full, 1), "target": None},
        {"name": "dataset_first_rows_ms", "value": round(first_rows, 1), "target": 300, "file": size},
        {"name": "row_checks_per_s", "value": round(rate), "target": None},
    ]
    for r in results:
        print(json.dumps(r))
    print()
    print("| figure | ours | target |")
    print("|---|---|---|")
    print(f"| Models view on screen after `M`, {a.repos}-repo cache (scan in the background), median of {a.repeat} "
          f"| {first:.0f} ms | ≤ 300 ms |")
    print(f"| … all {a.repos} repos listed (scan_cache_dir done) | {full:.0f} ms | - |")
    print(f"| dataset browser: first row of a {size} JSONL on screen, median of {a.repeat} | {first_rows:.0f} ms "
          "| ≤ 300 ms |")
    print(f"| row checks (sharegpt with an image, {a.rows:,} rows) | {rate:,.0f} rows/s | - |")


if __name__ == "__main__":
    main()
