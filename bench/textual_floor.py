"""The floor for a Textual GPU monitor: the smallest Textual app that reads NVML once a second.

A peer for the idle figures (RSS, CPU): what any Textual app costs before it shows anything of its
own. One Static with each GPU's memory and utilisation, a Footer, 1 s refresh. On a host without
NVML it shows that and still refreshes.
    python bench/ptyrun.py --marker FLOOR -- python bench/textual_floor.py
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Static


def _reader():
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception as e:  # noqa: BLE001 - no GPU here: the floor without NVML
        note = f"no NVML ({type(e).__name__})"
        return lambda: note

    def read() -> str:
        parts = []
        for i, h in enumerate(handles):
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            util = pynvml.nvmlDeviceGetUtilizationRates(h)
            parts.append(f"GPU {i}: {util.gpu:3d}%  {mem.used / 2**30:6.1f}/{mem.total / 2**30:.0f} GiB")
        return "\n".join(parts)

    return read


class Floor(App):
    def compose(self) -> ComposeResult:
        yield Static("FLOOR", id="title")
        yield Static(id="gpus")
        yield Footer()

    def on_mount(self) -> None:
        self.read = _reader()
        self.tick()
        self.set_interval(1.0, self.tick)

    def tick(self) -> None:
        self.query_one("#gpus", Static).update(self.read())


if __name__ == "__main__":
    Floor().run()
