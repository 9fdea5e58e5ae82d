"""The dataset browser's token-length histogram with the config's own tokenizer, counted in the training
environment (.venv-lf has transformers; the app's env need not), cutoff_len marked with the rows it cuts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ftmllm_tui.core.models import datasets as ds

ROOT = Path(__file__).resolve().parents[2]
LF_PYTHON = ROOT / ".venv-lf" / "bin" / "python"
BUILD = ROOT / "tests" / "lf" / "build_tiny.py"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    if not LF_PYTHON.exists():
        pytest.skip("the LLaMA-Factory test environment .venv-lf is missing: run `make lf-env`")
    ws = tmp_path_factory.mktemp("tok") / "tiny"
    r = subprocess.run([str(LF_PYTHON), str(BUILD), str(ws), "--epochs", "1"], capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return ws


def test_token_lengths_with_the_models_tokenizer_in_the_training_env(tiny):
    entry = next(e for e in ds.entries(tiny / "data")[0] if e.name == "tiny")
    src = ds.RowSource(entry.files()[0])
    lengths = ds.token_lengths_in_env([str(LF_PYTHON)], tiny / "model", src, entry)
    assert len(lengths) == src.count() and all(n > 0 for n in lengths)
    # the byte-level BPE of the tiny model: "hello world" pairs are short, the fox sentence is long
    first = ds.normalise(entry, src.row(0)).text()
    assert lengths[0] > lengths[1] and lengths[0] >= len(first.split())
    cutoff = sorted(lengths)[len(lengths) // 2]
    bins, cut = ds.histogram(lengths, cutoff)
    assert sum(c for *_, c in bins) == len(lengths) and cut == sum(1 for n in lengths if n > cutoff) and cut > 0
    with pytest.raises(ds.DatasetError, match="could not be loaded"):
        ds.token_lengths_in_env([str(LF_PYTHON)], tiny / "data", src, entry)  # not a model folder


async def test_t_in_the_rows_view_from_the_editor(tiny, tmp_path, monkeypatch):
    from tests.conftest import FakeClock
    from tests.ui.conftest import make_app, screen_text, until

    from ftmllm_tui.settings import Settings
    from ftmllm_tui.ui.screens.datasets import RowsScreen

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(f"model_name_or_path: {tiny / 'model'}\nstage: sft\ndataset_dir: {tiny / 'data'}\n"
                   "dataset: tiny\ncutoff_len: 24\n")
    app = make_app(FakeClock(), settings=Settings(lf_python=str(LF_PYTHON)))
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_editor(cfg)
        await until(pilot, lambda: getattr(app.screen, "report", None) is not None)
        app.screen.query_one("YamlEditor").move_cursor((3, 10))
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.screen, RowsScreen) and app.screen.row is not None)
        await pilot.press("t")
        await until(pilot, lambda: app.screen.histogram is not None, timeout=60)
        bins, cut, cutoff, n = app.screen.histogram
        assert cutoff == 24 and n == app.screen.src.count() and 0 < cut < n  # 15 of 40 rows are longer
        await pilot.pause()
        text = "\n".join(screen_text(app))
        assert "← cutoff_len" in text and f"cutoff_len 24: {cut} of {n} rows are cut" in text
