"""Config validation costs: what typing in the editor and `ftmllm-tui validate` pay.

Prints JSON lines {"name", "value", "unit", "target"} like the other benches (run_all.py tabulates them).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "configs" / "qwen2.5vl_lora_sft.yaml"


def row(name: str, value: float, unit: str, target: str) -> None:
    print(json.dumps({"name": name, "value": value, "unit": unit, "target": target}), flush=True)


def schema_cold_ms() -> float:
    code = ("import time; t=time.perf_counter(); from ftmllm_tui.core.configs.lfschema import load; "
            "load('0.9.5'); print((time.perf_counter()-t)*1000)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return float(out.stdout)


def validate_ms(text: str, n: int = 300) -> float:
    from ftmllm_tui.core.configs.lfschema import load
    from ftmllm_tui.core.configs.lfvalidate import validate

    schema = load("0.9.5")
    validate(text, schema=schema, path=EXAMPLE)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        validate(text, schema=schema, path=EXAMPLE, workdir=EXAMPLE.parent)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def cli_s(n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "validate", str(EXAMPLE), "--lf-version", "0.9.5"],
                       capture_output=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=EXAMPLE.parent)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def editor_latency(n: int = 10) -> tuple[float, float]:
    """Last key press → the problem on screen (debounce 0.3 s included), and the longest UI-thread stall."""
    from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
    from ftmllm_tui.settings import Settings
    from ftmllm_tui.ui.app import FtmApp
    from ftmllm_tui.ui.screens.editor import EditorScreen

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = tmp
        os.environ["FTMLLM_LLAMAFACTORY_CLI"] = str(Path(tmp) / "none")
        cfg = Path(tmp) / "sft.yaml"
        cfg.write_text(EXAMPLE.read_text())
        app = FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False, edit_path=str(cfg),
                     settings=Settings())
        lat, stalls = [], []
        async with app.run_test(size=(120, 40)) as pilot:
            while not (isinstance(app.screen, EditorScreen) and app.screen.report is not None):
                await pilot.pause(0.05)
            scr = app.screen
            ed = scr.query_one("#ed")

            async def ticker():
                last = time.perf_counter()
                while True:
                    await asyncio.sleep(0.005)
                    now = time.perf_counter()
                    stalls.append(now - last - 0.005)
                    last = now

            tick = asyncio.create_task(ticker())
            for i in range(n):
                ed.move_cursor((ed.document.line_count - 1, 0))
                word = f"bogus_key_{i}"
                await pilot.press(*f"{word}: 1", "enter")
                t0 = time.perf_counter()  # from the last key
                while not any(f.key == word for f in scr.report.findings):
                    await pilot.pause(0.01)
                lat.append(time.perf_counter() - t0)
            tick.cancel()
        stalls.sort()
        return statistics.median(lat) * 1000, stalls[int(len(stalls) * 0.99)] * 1000, stalls[-1] * 1000


def main() -> None:
    text = EXAMPLE.read_text()
    row("config schema load, cold (LLaMA-Factory 0.9.5, 353 keys)", round(schema_cold_ms(), 1), "ms", "≤ 50 ms")
    row(f"validate a {len(text.splitlines())}-line SFT config, files checked (median)", round(validate_ms(text), 2),
        "ms", "≤ 20 ms")
    row("`ftmllm-tui validate CONFIG`, whole command (median of 5)", round(cli_s(), 2), "s", "≤ 1 s")
    lat, p99, worst = asyncio.run(editor_latency())
    row("editor: last key of a bad key → its problem on screen (0.3 s debounce included)", round(lat, 0), "ms",
        "≤ 500 ms")
    row("editor: UI-thread stall while typing with validation on, p99", round(p99, 1), "ms", "≤ 16 ms")
    row("editor: UI-thread stall while typing with validation on, max", round(worst, 1), "ms", "≤ 100 ms")


if __name__ == "__main__":
    main()
