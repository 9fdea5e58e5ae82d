"""dataset_info.json entries, rows as LLaMA-Factory reads them, and the row checks (`ftmllm-tui dataset check`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftmllm_tui.core.models import datasets as ds

BUNDLED = Path(__file__).parents[3] / "ftmllm_tui" / "configs" / "data"
FIXTURES = Path("/work/shared/fixtures/configs")


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def write_info(folder: Path, info: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset_info.json").write_text(json.dumps(info))


SHAREGPT_MM = {"file_name": "mm.jsonl", "formatting": "sharegpt",
               "columns": {"messages": "messages", "images": "images"},
               "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}
RANKING = {"file_name": "dpo.json", "formatting": "sharegpt", "ranking": True,
           "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected", "images": "images"}}


def msg(role, content):
    return {"role": role, "content": content}


@pytest.fixture
def broken(tmp_path) -> Path:
    d = tmp_path / "data"
    write_info(d, {"mm": SHAREGPT_MM, "dpo": RANKING,
                   "alp": {"file_name": "alp.json", "columns": {"prompt": "instruction", "query": "input",
                                                                  "response": "output"}}})
    (d / "img").mkdir()
    (d / "img" / "ok.png").write_bytes(b"\x89PNG")
    rows = [
        {"messages": [msg("user", "<image>what?"), msg("assistant", "a cat")], "images": ["img/ok.png"]},  # 1 clean
        {"messages": [msg("user", "<image>what?"), msg("assistant", "x")], "images": ["img/gone.png"]},  # 2 missing
        {"messages": [msg("user", "<image><image>two?"), msg("assistant", "x")], "images": ["img/ok.png"]},  # 3 count
        {"messages": [msg("assistant", "hi"), msg("user", "x")]},  # 4 role order
        {"messages": [msg("user", "q"), msg("assistant", "")]},  # 5 empty turn
    ]
    lines = [json.dumps(r) for r in rows]
    lines.insert(3, '{"messages": [ {"role": "user", "content": "oops"} ')  # row 4 (line 4): JSON error
    lines.insert(1, "")  # a blank line: not a row, but it shifts line numbers
    (d / "mm.jsonl").write_text("\n".join(lines) + "\n")
    (d / "dpo.json").write_text(json.dumps([
        {"conversations": [{"from": "human", "value": "<image>better?"}], "images": ["img/ok.png"],
         "chosen": {"from": "gpt", "value": "yes"}, "rejected": {"from": "gpt", "value": "no"}},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
         "chosen": {"from": "gpt", "value": "yes"}},
    ]))
    (d / "alp.json").write_text(json.dumps([{"instruction": "hi", "input": "", "output": "hello"}]))
    return d


def test_entries_of_the_teams_dataset_info(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(FIXTURES / "dataset_info.json", d / "dataset_info.json")
    ents, problems = ds.entries(d)
    by = {e.name: e for e in ents}
    assert by["rlhf_v"].ranking and by["rlhf_v"].source == "hf" and by["rlhf_v"].cached is False
    assert by["rlhf_v"].column("messages") == "conversations" and by["rlhf_v"].tag("role_tag") == "from"
    assert by["mllm_demo"].formatting == "sharegpt" and by["mllm_demo"].tag("user_tag") == "user"
    assert any("mllm_demo.json not found" in p for p in problems)


def test_rows_are_read_as_llamafactory_does(broken):
    ents = {e.name: e for e in ds.entries(broken)[0]}
    src = ds.RowSource(broken / "dpo.json")
    row = ds.normalise(ents["dpo"], src.row(0))
    assert [t.role for t in row.turns] == ["user"] and row.chosen.role == "assistant"
    assert row.chosen.content == "yes" and row.rejected.content == "no" and row.images == ["img/ok.png"]
    alp = ds.normalise(ents["alp"], ds.RowSource(broken / "alp.json").row(0))
    assert [(t.role, t.content) for t in alp.turns] == [("user", "hi"), ("assistant", "hello")]
    mm = ds.RowSource(broken / "mm.jsonl")
    r = ds.normalise(ents["mm"], mm.row(1))
    assert r.line == 3 and r.images == ["img/gone.png"]  # the blank line 2 is not a row


def test_every_kind_of_broken_row_is_found_with_its_row(broken):
    res = {r.name: r for r in ds.check_dataset_dir(broken)}
    mm = res["mm"]
    assert mm.rows == 6
    got = {(f.row, f.kind) for f in mm.findings}
    assert got == {(2, "image-missing"), (3, "image-count"), (4, "json"), (5, "role-order"), (6, "empty-turn")}
    json_err = next(f for f in mm.findings if f.kind == "json")
    assert json_err.line == 5 and "not valid JSON" in json_err.message
    dpo = res["dpo"]
    assert {(f.row, f.kind) for f in dpo.findings} == {(2, "role-order"), (2, "ranking")}
    assert res["alp"].findings == [] and res["alp"].summary() == "clean"
    assert "image-missing 1" in mm.summary() and "5 rows with problems" in mm.summary()


def test_cli_exit_codes_and_json(broken, tmp_path):
    out = cli("dataset", "check", str(broken))
    assert out.returncode == 1
    assert f"{broken / 'mm.jsonl'}: row 2 (line 3): image-missing: img/gone.png not found" in out.stdout
    assert "alp: 1 rows, clean" in out.stdout
    assert cli("dataset", "check", str(broken), "alp").returncode == 0
    out = cli("dataset", "check", str(broken), "mm", "--json")
    data = json.loads(out.stdout)
    assert out.returncode == 1 and not data["ok"] and data["datasets"][0]["summary"]["json"] == 1
    out = cli("dataset", "check", str(broken), "nope", "--json")
    assert out.returncode == 2 and "no dataset 'nope'" in json.loads(out.stdout)["error"]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "dataset_info.json").write_text("{\n  oops")
    out = cli("dataset", "check", str(tmp_path / "bad"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "dataset_info.json:2:" in out.stderr


def test_bundled_example_data(tmp_path):
    """The curated examples' data: identity is clean; mllm_demo names images that are not shipped."""
    res = {r.name: r for r in ds.check_dataset_dir(BUNDLED)}
    assert res["identity"].findings == []
    assert res["mllm_demo"].kinds() == {"image-missing": res["mllm_demo"].rows}


def test_a_1gb_jsonl_opens_from_its_start_and_counts_in_the_background(tmp_path):
    """1 GB of rows written quickly: a block of real rows repeated with a few large writes."""
    row = json.dumps({"messages": [msg("user", "q " * 40), msg("assistant", "a " * 40)]}).encode() + b"\n"
    block = row * ((4 << 20) // len(row) + 1)  # ~4 MB
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as f:
        for _ in range((1 << 30) // len(block) + 1):
            f.write(block)
    size = path.stat().st_size
    assert size >= 1 << 30
    entry = ds.Entry("big", "sharegpt", False, "file", "big.jsonl", dict(SHAREGPT_MM["columns"]),
                     dict(SHAREGPT_MM["tags"]), path, size)
    t0 = time.perf_counter()
    src = ds.RowSource(path)
    first = [ds.normalise(entry, r) for r in src.rows(0, 50)]
    took = time.perf_counter() - t0
    assert len(first) == 50 and first[0].turns[0].role == "user"
    assert took < 0.3, f"first rows took {took:.3f} s"
    assert not src.counted and src._scan_pos < 10 << 20  # nothing beyond the start was read
    r = src.row(1000)
    assert r.index == 1000 and r.line == 1001
    # counting stops when asked to (the view closing) and can resume
    calls = []
    src.count(stop=lambda: calls.append(1) or len(calls) > 3)
    assert not src.counted and src.known_rows > 1000
    try:
        n = src.count()
        assert src.counted and n == size // len(row)
    finally:
        path.unlink()  # pytest keeps the last temp folders: do not leave 1 GB behind


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(st.one_of(st.just(""), st.just("  "), st.just("\r"),
                                st.integers(0, 2000).map(lambda n: json.dumps({"pad": "x" * n}))), max_size=200),
       trailing=st.booleans(), first=st.integers(0, 250), chunk=st.sampled_from([8, 64, 4096]))
def test_rowsource_reads_exactly_what_a_line_by_line_reader_does(tmp_path_factory, lines, trailing, first, chunk):
    """The numpy line index (every 64th row kept, small first reads, growing chunks) against the obvious reader."""
    text = "\n".join(lines) + ("\n" if trailing else "")
    p = tmp_path_factory.mktemp("rs") / "x.jsonl"
    p.write_text(text)
    want = [(n + 1, json.loads(line)) for n, line in enumerate(text.split("\n")) if line.strip()]
    src = ds.RowSource(p)
    src._index_until(first % 60, chunk=chunk, max_chunk=max(chunk, 1024))
    assert [(r.line, r.data) for r in src.rows(min(first, len(want)))] == want[min(first, len(want)):]
    r = src.row(first)
    assert (r is None) == (first >= len(want)) and (r is None or (r.line, r.data) == want[first])
    assert src.count() == len(want) and src.counted


@settings(max_examples=120, deadline=None)
@given(items=st.lists(st.one_of(st.integers(-5, 10**6), st.text(max_size=30), st.booleans(), st.none(),
                                st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=2000),
                                                max_size=3)), max_size=60),
       indent=st.sampled_from([None, 1, 2]), jumps=st.lists(st.integers(0, 70), max_size=6),
       chunk=st.sampled_from([1, 7, 64, 1 << 20]))
def test_a_large_json_array_is_read_row_by_row_like_json_load(tmp_path_factory, items, indent, jumps, chunk):
    """Above STREAM_JSON_BYTES a JSON array is parsed as it is read (in chunks; a value cut at a chunk's end is
    completed first), with each row's line; browsing forward and back gives what json.load gives."""
    p = tmp_path_factory.mktemp("js") / "x.json"
    text = json.dumps(items, indent=indent)
    p.write_text(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ds, "STREAM_JSON_BYTES", 0)
        mp.setattr(ds.RowSource, "CHUNK_CHARS", chunk)
        _check_stream(p, text, items, indent, jumps)


def _check_stream(p, text, items, indent, jumps):
    src = ds.RowSource(p)
    assert src._stream and [r.data for r in src.rows()] == items
    for j in jumps:
        r = src.row(j)
        assert (r is None) == (j >= len(items)) and (r is None or r.data == items[j])
    if indent and items:
        lines = text.splitlines()
        r = src.row(len(items) - 1)
        assert lines[r.line - 1].strip().startswith(json.dumps(items[-1], indent=indent).splitlines()[0][:1])
    assert src.count() == len(items) and src.counted


def test_a_large_json_array_with_a_broken_row_and_1mb_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(ds, "STREAM_JSON_BYTES", 0)
    rows = [{"instruction": "x" * 3000, "input": "", "output": str(i)} for i in range(800)]  # ~2.4 MB: 3 chunks
    text = json.dumps(rows, indent=1)
    cut = text.index('"output": "500"')
    p = tmp_path / "big.json"
    p.write_text(text[:cut] + '"output": 500 oops' + text[cut + len('"output": "500"'):])
    src = ds.RowSource(p)
    got = list(src.rows())
    assert [r.data for r in got[:500]] == rows[:500] and got[500].data is None
    assert "not valid JSON" in got[500].error and got[500].line == text[:cut].count("\n") + 1
    entry = ds.Entry("big", "alpaca", False, "file", "big.json", {}, {}, p, p.stat().st_size)
    res = ds.check_entry(entry, tmp_path)[0]
    assert res.rows == 501 and [f.kind for f in res.findings] == ["json"] and res.findings[0].row == 501


def test_a_hub_dataset_in_the_hf_cache_is_read_and_checked(tmp_path):
    """hf_hub_url entries (the team's rlhf_v) once downloaded into the cache: their JSON files are read from the
    snapshot main points at; images are looked up in dataset_dir, as LLaMA-Factory's media_dir does."""
    from hfcache import add_repo, commit_of

    hub = tmp_path / "hub"
    rows = [{"conversations": [{"from": "human", "value": "<image>which is better?"}], "images": ["img/x.png"],
             "chosen": {"from": "gpt", "value": "a"}, "rejected": {"from": "gpt", "value": "b"}}]
    c = commit_of("rlhf")
    add_repo(hub, "llamafactory/RLHF-V", {c: {"data/train.json": json.dumps(rows * 3).encode()}},
             repo_type="dataset", refs={"main": c})
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(FIXTURES / "dataset_info.json", d / "dataset_info.json")
    env = {"HF_HUB_CACHE": str(hub)}
    e = next(x for x in ds.entries(d, env)[0] if x.name == "rlhf_v")
    assert e.cached and e.path.name == c and [p.name for p in e.files()] == ["train.json"]
    res = ds.check_dataset_dir(d, "rlhf_v", env)
    assert res[0].rows == 3 and res[0].kinds() == {"image-missing": 3}
    (d / "img").mkdir()
    (d / "img" / "x.png").write_bytes(b"png")
    assert ds.check_dataset_dir(d, "rlhf_v", env)[0].findings == []
    # not in the cache: said so, nothing read
    out = ds.check_dataset_dir(d, "rlhf_v", {"HF_HUB_CACHE": str(tmp_path / "empty")})
    assert "not in the HF cache" in out[0].error
