"""TailReader: follow console.log by byte offset (half lines, truncation, rotation, deletion,
UTF-8, \\r redraws, ANSI, last page of a big file), checked on real files."""

from __future__ import annotations

import os
import random
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftmllm_tui.core.follow.logs import (
    Chunk,
    TailReader,
    first_error,
    read_all_lines,
    render_line,
)

CONSOLE = Path(__file__).resolve().parents[2] / "data" / "console_tiny_lora_sft.log"
SGR = re.compile(r"\x1b\[[0-9;:]*m")


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def follow(path: Path, pieces: list[bytes], **kw) -> tuple[list[str], TailReader]:
    """Write ``pieces`` one by one with a poll after each; all lines seen, and the reader."""
    reader = TailReader(path, from_start=True, **kw)
    lines: list[str] = []
    for piece in pieces:
        append(path, piece)
        chunk = reader.poll()
        assert not chunk.reset and not chunk.missing
        lines += chunk.lines
    return lines, reader


# -- unit behaviour --


def test_reads_only_appended_bytes(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"one\ntwo\n")
    r = TailReader(p, from_start=True)
    assert r.poll() == Chunk(["one", "two"])
    assert r.poll() == Chunk([])
    append(p, b"three\n")
    assert r.poll().lines == ["three"]
    assert r.bytes_read == len(b"one\ntwo\nthree\n")


def test_default_starts_at_the_end_with_the_unfinished_line(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"old\nolder\n 40%|####")
    r = TailReader(p)
    assert r.poll().lines == []
    assert r.pending == " 40%|####"
    append(p, b"\rdone\nnew\n")
    assert r.poll().lines == ["done", "new"]


def test_half_line_waits_for_its_newline(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"")
    r = TailReader(p, from_start=True)
    append(p, b"[INFO|trainer.py:1] half")
    assert r.poll().lines == []
    assert r.pending == "[INFO|trainer.py:1] half"
    append(p, b" done\n")
    assert r.poll().lines == ["[INFO|trainer.py:1] half done"]
    assert r.pending == ""


def test_truncation_restarts_with_reset(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"a\nb\nc\n")
    r = TailReader(p, from_start=True)
    assert r.poll().lines == ["a", "b", "c"]
    p.write_bytes(b"x\n")  # truncates to 2 bytes < offset 6
    assert r.poll() == Chunk(["x"], reset=True)
    append(p, b"y\n")
    assert r.poll() == Chunk(["y"])


def test_rotation_reopens_the_new_file_with_reset(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"old 1\nold 2\n")
    r = TailReader(p, from_start=True)
    assert r.poll().lines == ["old 1", "old 2"]
    os.rename(p, tmp_path / "console.log.1")
    p.write_bytes(b"new 1\n")  # bigger than nothing, smaller than the old: not a truncation
    append(tmp_path / "console.log.1", b"old 3 written after the move\n")
    assert r.poll() == Chunk(["new 1"], reset=True)
    append(p, b"new 2\n")
    assert r.poll() == Chunk(["new 2"])


def test_replaced_by_a_bigger_file_is_a_rotation(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"short\n")
    r = TailReader(p, from_start=True)
    r.poll()
    tmp = tmp_path / "other"
    tmp.write_bytes(b"a much longer first line\nsecond\n")
    os.replace(tmp, p)
    assert r.poll() == Chunk(["a much longer first line", "second"], reset=True)


def test_deletion_reports_missing_then_picks_up_the_new_file(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"first run\npartial")
    r = TailReader(p, from_start=True)
    assert r.poll().lines == ["first run"]
    p.unlink()
    assert r.poll() == Chunk(missing=True)
    assert r.poll() == Chunk(missing=True)
    assert r.pending == ""
    p.write_bytes(b"second run\n")  # may reuse the inode number: still a new file
    assert r.poll() == Chunk(["second run"], reset=True)


def test_missing_at_start_then_created_is_read_from_its_top(tmp_path):
    p = tmp_path / "runs" / "console.log"
    r = TailReader(p, last_lines=50)
    assert r.poll() == Chunk(missing=True)  # parent folder missing too
    p.parent.mkdir()
    p.write_bytes(b"l1\nl2\n")
    assert r.poll() == Chunk(["l1", "l2"])  # nothing shown before: no reset


def test_invalid_utf8_is_replaced(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"ok \xff\xfe bad \xc3( \xed\xa0\x80\n")
    assert read_all_lines(p) == ["ok \ufffd\ufffd bad \ufffd( \ufffd\ufffd\ufffd"]


def test_multibyte_char_split_across_polls(tmp_path):
    lines, r = follow(tmp_path / "c.log", [b"caf\xc3", b"\xa9 \xe2\x96", b"\x88\xf0\x9f", b"\x98\x80\n"])
    assert lines == ["café █😀"]
    _, r = follow(tmp_path / "d.log", [b"50%|\xe2\x96"])
    assert r.pending == "50%|"  # the incomplete character is held back, not shown as \ufffd


def test_carriage_return_redraws_collapse():
    assert render_line(b"a\rb\rc") == "c"
    assert render_line(b"abc\r") == "abc"  # \r\n line ending (the \n is already gone)
    assert render_line(b" 10%|#\r 20%|##\r") == " 20%|##"  # cursor moved home, nothing drawn
    assert render_line(b"bar\r      \r") == "      "  # tqdm cleared the line: blank
    assert render_line(b"") == ""
    assert render_line(b"bar\r\x1b[0m") == "bar"  # a colour reset alone draws nothing
    assert render_line(b"old\r\x1b[32mnew\x1b[0m\r\x1b[0m") == "\x1b[32mnew\x1b[0m"


def test_crlf_and_cr_in_a_file(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"dos line\r\n\r 0%|\r 50%|\r100%|done\r\nnext\n\r\n")
    assert read_all_lines(p) == ["dos line", "100%|done", "next", ""]


def test_ansi_stripped_or_colours_kept(tmp_path):
    p = tmp_path / "console.log"
    raw = (b"\x1b[32mINFO\x1b[0m ok\x1b[K\n"  # SGR + erase line
           b"\x1b]0;title\x07\x1b(Bplain\x1b[?25l\n"  # OSC, charset, hide cursor
           b"  0%|bar\x1b[A\r    \r\x1b[A{'loss': 1.0}\n"  # tqdm: move up, clear, print
           b"\x1b[1;31mERR\x1b[0m\x07\x08\x00\n")
    p.write_bytes(raw)
    assert read_all_lines(p, strip_ansi=True) == ["INFO ok", "plain", "{'loss': 1.0}", "ERR"]
    kept = read_all_lines(p, strip_ansi=False)
    assert kept == ["\x1b[32mINFO\x1b[0m ok", "plain", "{'loss': 1.0}", "\x1b[1;31mERR\x1b[0m"]


def test_pending_holds_back_a_half_written_escape_sequence(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"")
    r = TailReader(p, from_start=True, strip_ansi=True)
    append(p, b"step 3 \x1b[3")
    r.poll()
    assert r.pending == "step 3 "
    append(p, b"2mgreen\x1b[0m\n")
    assert r.poll().lines == ["step 3 green"]


def test_pending_is_the_live_progress_bar(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"")
    r = TailReader(p, from_start=True)
    append(p, "\r  1%|▏         | 1/54 [00:01<01:31]".encode())
    assert r.poll().lines == []
    append(p, "\r  2%|▎         | 2/54 [00:03<01:39]".encode())
    assert r.poll().lines == []
    assert r.pending == "  2%|▎         | 2/54 [00:03<01:39]"
    append(p, b"\r    \r{'loss': '5.69'}\n")
    assert r.poll().lines == ["{'loss': '5.69'}"]


def test_long_line_without_newline_is_emitted_in_pieces(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"")
    r = TailReader(p, from_start=True, max_line_bytes=100)
    append(p, b"x" * 250)
    assert r.poll().lines == ["x" * 100, "x" * 100]
    assert r.pending == "x" * 50
    append(p, b"\n")
    assert r.poll().lines == ["x" * 50]
    bars = b"".join(b"\r%3d%%|" % i for i in range(100))  # 600 bytes of redraws, no newline
    append(p, bars)
    lines = r.poll().lines
    assert lines and all(re.fullmatch(r"\s*\d+%\|", line) for line in lines)  # whole bar states
    assert len(r._buf) <= 100


def test_long_line_cut_keeps_utf8_characters_whole(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes("é".encode() * 100 + b"\n")  # 200 bytes, 2 per character
    lines = read_all_lines(p, max_line_bytes=51)
    assert "".join(lines) == "é" * 100 and "\ufffd" not in "".join(lines)


def test_poll_reads_at_most_max_bytes(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"".join(b"line %d\n" % i for i in range(1000)))
    r = TailReader(p, from_start=True)
    got: list[str] = []
    while True:
        before = r.bytes_read
        c = r.poll(max_bytes=1000)
        assert r.bytes_read - before <= 1000
        got += c.lines
        if not c.more:
            break
    assert got == [f"line {i}" for i in range(1000)]


def test_last_lines_on_a_big_file_reads_only_its_end(tmp_path):
    p = tmp_path / "console.log"
    with open(p, "wb") as f:
        f.truncate(200 << 20)  # 200 MB sparse: no newline at all in there
        f.seek(0, os.SEEK_END)
        f.write(b"".join(b"[INFO|trainer.py:1] step %d\n" % i for i in range(2000)))
        f.write(b"\r 99%|#########")
    r = TailReader(p, last_lines=60)
    chunk = r.poll()
    assert chunk.lines == [f"[INFO|trainer.py:1] step {i}" for i in range(1940, 2000)]
    assert r.pending == " 99%|#########"
    assert r.bytes_read <= 64 * 1024  # one backward block, not 200 MB
    append(p, b"\r100%|##########\nafter\n")
    assert r.poll().lines == ["100%|##########", "after"]


def test_last_lines_scan_back_is_bounded_without_newlines(tmp_path):
    p = tmp_path / "console.log"
    with open(p, "wb") as f:
        f.truncate(100 << 20)  # one 100 MB "line" of NULs
    r = TailReader(p, last_lines=3, max_line_bytes=4096)
    chunk = r.poll()
    assert r.bytes_read <= 4 * 4096
    assert len(chunk.lines) <= 3 and all(line == "" for line in chunk.lines)  # NULs are dropped


def test_last_lines_more_than_the_file_has(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"a\nb\n")
    assert TailReader(p, last_lines=100).poll().lines == ["a", "b"]
    assert TailReader(p, last_lines=1).poll().lines == ["b"]


def test_flush_returns_the_unfinished_line_once(tmp_path):
    p = tmp_path / "console.log"
    p.write_bytes(b"done\nreal\t0m40s")
    r = TailReader(p, from_start=True)
    assert r.poll().lines == ["done"]
    assert r.flush() == ["real\t0m40s"]
    assert r.flush() == [] and r.pending == ""


def test_bad_arguments():
    with pytest.raises(ValueError):
        TailReader("x", from_start=True, last_lines=5)
    with pytest.raises(ValueError):
        TailReader("x", max_line_bytes=0)
    with pytest.raises(FileNotFoundError):
        read_all_lines("/nonexistent/console.log")


# -- first_error --


def test_first_error_finds_tracebacks_and_error_lines():
    assert first_error(["ok", "[INFO|x] fine", "loss 0.3"]) is None
    assert first_error(["ok", "Traceback (most recent call last):", '  File "x.py"']) == 1
    assert first_error(["a", "[rank0]: Traceback (most recent call last):"]) == 1
    assert first_error(["a", "torch.OutOfMemoryError: CUDA out of memory. Tried"]) == 1
    assert first_error(["a", "RuntimeError: NCCL error in: ../x.cpp"]) == 1
    assert first_error(["a", "[ERROR|trainer.py:1] 2026 >> boom"]) == 1
    assert first_error(["a", "ERROR:root:boom"]) == 1
    assert first_error(["\x1b[31mERROR\x1b[0m boom"]) == 0  # colours kept by the reader
    assert first_error(["eval_error_rate = 0.1", "[WARNING|x] an error may occur", "errors=0"]) is None


# -- the real console log of a tiny LLaMA-Factory LoRA SFT run --


def test_console_log_followed_in_random_chunks_equals_whole(tmp_path):
    data = CONSOLE.read_bytes()
    whole = read_all_lines(CONSOLE)
    rng = random.Random(7)
    for trial in range(20):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 300)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        lines, r = follow(tmp_path / f"c{trial}.log", pieces)
        assert lines + r.flush() == whole


def test_console_log_tqdm_redraws_collapse():
    lines = read_all_lines(CONSOLE)
    raw = CONSOLE.read_bytes()
    assert len(lines) == raw.count(b"\n")  # one display line per written line
    assert not any("\r" in line or "\x1b" in line for line in lines)  # no SGR in this log
    assert "Running tokenizer on dataset: 100%|██████████| 36/36 [00:00<00:00, 2153.84 examples/s]" in lines
    assert not any(line.startswith("Running tokenizer on dataset:   0%") for line in lines)
    assert sum(line.startswith("{'loss': ") for line in lines) == raw.count(b"{'loss': ")
    saving = [line for line in lines if "Saving model checkpoint" in line]
    assert saving and all(line.startswith("[INFO|trainer.py:") for line in saving)  # ESC[A dropped


def test_console_log_first_error():
    lines = read_all_lines(CONSOLE)
    # The run succeeded, but SwanLab logged a non-fatal ERROR (its dashboard package is missing);
    # that is the first error line, and nothing before it matches.
    i = first_error(lines)
    assert i is not None and "| ERROR    | swanlab" in lines[i]
    assert first_error(lines[:i]) is None
    assert first_error([line for line in lines if "swanlab" not in line.lower()
                        and "ImportError" not in line and "callback 'SwanLab" not in line]) is None
    tb = ["Traceback (most recent call last):", '  File "train.py", line 3, in <module>',
          "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
    injected = lines[:100] + tb + lines[100:]
    assert first_error(injected) == 100


# -- properties: following in any chunks == reading the whole file --

PIECES = [b"\r", b"\n", b"\r\n", b"a", b"Z", b" ", b"\t", b"\xc3\xa9", b"\xe2\x96\x88",
          b"\xf0\x9f\x98\x80", b"\xc3", b"\xe2\x96", b"\xff", b"\x80", b"\x1b", b"\x1b[", b"\x1b[31m",
          b"\x1b[0m", b"\x1b[A", b"\x1b[2K", b"\x1b[1;5H", b"\x1b]0;t\x07", b"\x1b]8;;x\x1b\\",
          b"\x1b(B", b"\x00", b"\x08", b"50%|##", b"[INFO|x] "]
content = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=6)), max_size=60).map(b"".join)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    cuts = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def check_output(lines: list[str], strip_ansi: bool) -> None:
    for line in lines:
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", SGR.sub("", line)), line
        if strip_ansi:
            assert "\x1b" not in line


common = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(data=content, cuts=st.lists(st.integers(0, 10_000), max_size=12),
       strip_ansi=st.booleans(), limit=st.sampled_from([1, 5, 16, 1 << 20]))
def test_property_chunked_follow_equals_whole_read(data, cuts, strip_ansi, limit):
    with tempfile.TemporaryDirectory() as d:
        whole_path = Path(d) / "whole.log"
        whole_path.write_bytes(data)
        whole = read_all_lines(whole_path, strip_ansi=strip_ansi, max_line_bytes=limit)
        lines, r = follow(Path(d) / "followed.log", split_at(data, cuts), strip_ansi=strip_ansi,
                          max_line_bytes=limit)
        pending = r.pending
        assert lines + r.flush() == whole
        check_output(whole + [pending], strip_ansi)
        if data.endswith(b"\n"):
            assert pending == ""


@common
@given(before=content, after=content, cuts_before=st.lists(st.integers(0, 10_000), max_size=6),
       cuts_after=st.lists(st.integers(0, 10_000), max_size=6), keep=st.integers(0, 10_000),
       rotate=st.booleans(), strip_ansi=st.booleans())
def test_property_truncation_or_rotation_then_equals_fresh_read(before, after, cuts_before,
                                                                cuts_after, keep, rotate, strip_ansi):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "console.log"
        p.write_bytes(b"")
        r = TailReader(p, from_start=True, strip_ansi=strip_ansi)
        lines: list[str] = []
        for piece in split_at(before, cuts_before):
            append(p, piece)
            lines += r.poll().lines
        read_before = r.offset
        if rotate:
            os.rename(p, Path(d) / "console.log.1")
            p.write_bytes(b"")
        else:
            keep %= len(before) + 1
            os.truncate(p, keep)
        resets = 0
        for piece in [b""] + split_at(after, cuts_after):  # a poll right after the change
            append(p, piece)
            chunk = r.poll()
            if chunk.reset:
                resets += 1
                lines = []
            lines += chunk.lines
        assert resets <= 1
        if rotate or keep < read_before:
            assert resets == 1  # the change was seen
        assert lines + r.flush() == read_all_lines(p, strip_ansi=strip_ansi)


# -- reading back: lines before the tail that was shown first ------------------------------------------
def test_read_before_gives_the_earlier_lines_in_order_and_ends_at_the_top(tmp_path):
    from ftmllm_tui.core.follow.logs import TailReader, read_all_lines

    p = tmp_path / "console.log"
    body = "".join(f"\x1b[32mstep {i}\x1b[0m\r{i:06d} " + "x" * (i % 300) + "\n" for i in range(30000))
    p.write_bytes(body.encode())
    whole = read_all_lines(p)
    with TailReader(p, last_lines=2000) as r:
        shown = r.poll().lines
        assert shown == whole[-2000:] and r.more_before
        chunk = r.read_before(2000)
        assert chunk == whole[-4000:-2000] and r.more_before
        rest = r.read_before(None)
        assert rest + chunk + shown == whole and not r.more_before
        assert r.read_before(None) == []
        with open(p, "a") as f:
            f.write("after\n")
        assert r.poll().lines == ["after"]  # following goes on where it was


def test_read_before_with_a_long_line_cut_like_the_rest(tmp_path):
    from ftmllm_tui.core.follow.logs import TailReader, read_all_lines

    p = tmp_path / "console.log"
    p.write_bytes(b"first\n" + b"y" * 5000 + b"\n" + b"".join(b"l%d\n" % i for i in range(50)))
    whole = read_all_lines(p, max_line_bytes=1024)
    with TailReader(p, last_lines=10, max_line_bytes=1024) as r:
        shown = r.poll().lines
        assert r.read_before(None) + shown == whole
