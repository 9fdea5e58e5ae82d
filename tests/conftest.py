from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording

DATA = Path(__file__).parent / "data"

# The suite may be started where SIGINT / SIGHUP are ignored (a background job, nohup, some CI
# runners), and ignored signals are inherited by every child: the apps under test would then never
# see the ctrl+c or the hang-up the tests send. Run them as a terminal would.
import signal as _signal  # noqa: E402

_signal.signal(_signal.SIGINT, _signal.default_int_handler)
_signal.signal(_signal.SIGHUP, _signal.SIG_DFL)
sys.path.insert(0, str(Path(__file__).parent))


class FakeClock:
    """Wall clock for deterministic tests: starts at a fixed instant, moves only when told."""

    def __init__(self, t: float = 1_796_024_200.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, dt: float = 1.0) -> float:
        self.t += dt
        return self.t


@pytest.fixture
def recording() -> Path:
    return bundled_recording()


@pytest.fixture
def sweeps(recording) -> list[dict]:
    lines = [json.loads(l) for l in recording.read_text().splitlines() if l.strip()]
    return [l for l in lines if "devices" in l]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def replay(recording, clock) -> ReplaySampler:
    return ReplaySampler(recording, me="root", clock=clock)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Settings and state never touch the user's real dirs."""
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    monkeypatch.setenv("FTMLLM_TERM_DIFF", os.environ.get("FTMLLM_TERM_DIFF", "1"))
