"""Follow a run's ``console.log`` like ``tail -f``: incremental, by byte offset, bounded memory.

The log is whatever ``llamafactory-cli train`` printed: transformers logging lines, tqdm bars
redrawn with ``\\r``, ANSI colours and cursor movements, maybe invalid UTF-8, maybe a half-written
last line. :class:`TailReader` turns it into display lines:

* each :meth:`TailReader.poll` reads only the bytes appended since the last one;
* a line is returned once its ``\\n`` has arrived; until then it is :attr:`TailReader.pending`;
* redraws collapse to the latest state: a line shows its last non-empty segment, segments being
  separated by ``\\r`` and by cursor-moving CSI sequences (``ESC[A`` …), so ``"a\\rb\\rc\\n"`` gives
  ``"c"``, ``"abc\\r\\n"`` gives ``"abc"`` and tqdm's "clear, move up, print" gives the print;
* SGR colour sequences are kept (for ``rich.text.Text.from_ansi``) or stripped; every other escape
  sequence and control character (except tab) is removed;
* truncation, rotation (the path names another file) and re-creation restart from the new file's
  top and set :attr:`Chunk.reset`; a missing file sets :attr:`Chunk.missing`.

Rendering works on each line's bytes alone, so following a file in any chunks gives the same lines
as :func:`read_all_lines` on the whole file (the property tests check this).
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

_BLOCK = 64 * 1024  # backward-scan block when opening at the tail
_TAIL_LIMIT = 16 << 20  # never scan back further than this for the last N lines
_POLL_BYTES = 16 << 20  # default bytes one poll reads at most

# One alternation, SGR first: ``sub(r"\1", s)`` keeps colours, ``sub("", s)`` strips everything.
_SEQ = re.compile(
    r"(\x1b\[[0-9;:]*m)"  # SGR (colours, bold…)
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # any other CSI (cursor movement, erase…)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (window title, hyperlinks)
    r"|\x1b[ -/]*[0-~]"  # other ESC sequences (charset, save cursor…)
    r"|\x1b"  # a lone ESC
)
_MOVE = re.compile(r"\x1b\[[0-9;]*[ABEFGHdf]")  # CSI that moves the cursor to another place
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f]")  # C0 but tab, LF, ESC; DEL; C1
_UNFINISHED_SEQ = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?\Z")  # cut off by EOF
_utf8 = codecs.getincrementaldecoder("utf-8")


@dataclass(frozen=True)
class Chunk:
    """What one :meth:`TailReader.poll` found."""

    lines: list[str] = field(default_factory=list)  # complete new lines, rendered
    reset: bool = False  # the file was truncated, rotated or re-created: clear what you showed
    missing: bool = False  # the file does not exist (now)
    more: bool = False  # more bytes are already waiting: poll again soon


def _clean(text: str, strip_ansi: bool) -> str:
    """Escape sequences and control characters removed (SGR kept unless ``strip_ansi``)."""
    if "\x1b" in text:
        text = _SEQ.sub("" if strip_ansi else r"\1", text)
    return _CTRL.sub("", text)


def _visible(text: str) -> bool:
    """Whether a cleaned segment prints anything (whitespace does: it overwrites)."""
    return bool(_SEQ.sub("", text)) if "\x1b" in text else bool(text)


def render_line(raw: bytes, strip_ansi: bool = False, *, final: bool = True) -> str:
    """One line's bytes (no ``\\n``) as displayed: the last non-empty redraw segment, decoded
    (invalid UTF-8 replaced), escape sequences handled. ``final=False`` (a line still being
    written) holds back an incomplete UTF-8 character or escape sequence at its end."""
    end = len(raw)
    last = True
    while True:
        start = raw.rfind(b"\r", 0, end) + 1
        chunk = raw[start:end]
        if last and not final:
            text = _UNFINISHED_SEQ.sub("", _utf8("replace").decode(chunk, final=False))
        else:
            text = chunk.decode("utf-8", "replace")
        parts = _MOVE.split(text) if "\x1b" in text else [text]
        for part in reversed(parts):
            out = _clean(part, strip_ansi)
            if out and _visible(out):
                return out
        if start == 0:
            return ""
        end, last = start - 1, False


def _cut(data: bytes, start: int, limit: int) -> int:
    """Where to end a piece of a newline-less segment longer than ``limit`` that starts at
    ``start``: before its last ``\\r`` within the limit (a complete redraw), else at a UTF-8
    character boundary near the limit."""
    r = data.rfind(b"\r", start + 1, start + limit)
    if r > start:
        return r
    cut = start + limit
    while cut > start + max(1, limit - 3) and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


def split_lines(data: bytes, limit: int) -> tuple[list[bytes], int]:
    """Complete lines in ``data`` (without ``\\n``) and how many bytes they used up.

    A line longer than ``limit`` bytes is returned in pieces, and so is an unfinished one, as soon
    as it exceeds ``limit``: the cut depends only on the bytes, never on how they were chunked.
    """
    end = data.rfind(b"\n") + 1
    out: list[bytes] = []
    for line in data[: end - 1].split(b"\n") if end else ():
        pos = 0
        while len(line) - pos > limit:
            cut = _cut(line, pos, limit)
            out.append(line[pos:cut])
            pos = cut
        out.append(line[pos:] if pos else line)
    used = end
    while len(data) - used > limit:
        cut = _cut(data, used, limit)
        out.append(data[used:cut])
        used = cut
    return out, used


class TailReader:
    """Follow one log file by byte offset.

    Where the first poll starts: ``from_start`` at the top; otherwise the last ``last_lines``
    complete lines (found by reading backwards in blocks, so a 1 GB file costs a few reads) and the
    unfinished line after them. A file that appears after the first poll, or replaces the one
    being read, is read from its top. The open file is held between polls (so its inode cannot be
    reused by a new file unnoticed); :meth:`close` releases it, as does leaving a ``with`` block.

    Not detected: a truncation that is followed by regrowth past the read offset before the next
    poll (``copytruncate`` rotation between two polls); its lines after the offset are shown as new.
    """

    def __init__(self, path: str | os.PathLike[str], *, last_lines: int = 0,
                 from_start: bool = False, strip_ansi: bool = False,
                 max_line_bytes: int = 1 << 20):
        if last_lines < 0 or max_line_bytes < 1:
            raise ValueError("last_lines must be >= 0 and max_line_bytes >= 1")
        if from_start and last_lines:
            raise ValueError("from_start and last_lines exclude each other")
        self.path = Path(path)
        self.strip_ansi = strip_ansi
        self.max_line_bytes = max_line_bytes
        self.bytes_read = 0  # every byte read from disk, for tests and benchmarks
        self._tail: int | None = None if from_start else last_lines  # used by the first poll
        self._file: BinaryIO | None = None
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._had_file = False  # a file was opened before: a new one resets the view
        self._offset = 0  # bytes of the open file consumed into lines or the buffer
        self._buf = b""  # the unfinished last line (at most max_line_bytes)
        self._pending: str | None = ""
        self.window_start = 0  # byte where the first line given out starts: earlier ones via read_before

    @property
    def more_before(self) -> bool:
        """Lines before the first one given out are on disk (see :meth:`read_before`)."""
        return self.window_start > 0 and self._file is not None

    @property
    def offset(self) -> int:
        """Bytes of the current file read so far."""
        return self._offset

    @property
    def pending(self) -> str:
        """The unfinished last line, rendered like a complete one (e.g. a live tqdm bar)."""
        if self._pending is None:
            self._pending = render_line(self._buf, self.strip_ansi, final=False)
        return self._pending

    def poll(self, max_bytes: int = _POLL_BYTES) -> Chunk:
        """Lines completed since the last poll, reading at most ``max_bytes`` new bytes.

        A missing file gives ``Chunk(missing=True)``; other OS errors (permission denied) raise.
        """
        tail, self._tail = self._tail, None
        reset = False
        try:
            st = os.stat(self.path)
            if self._file is None or (st.st_dev, st.st_ino) != self._ident:
                reset = self._open()
                st = os.fstat(self._file.fileno())  # type: ignore[union-attr]
        except (FileNotFoundError, NotADirectoryError):
            self.close()
            self._restart()
            return Chunk(missing=True)
        assert self._file is not None
        if st.st_size < self._offset:  # truncated
            reset = True
            self._restart()
        if tail is not None:
            data = self._tail_start(st.st_size, tail)
            self.window_start = self._offset
        else:
            n = min(st.st_size - self._offset, max_bytes)
            data = self._read(self._offset, n) if n > 0 else b""
        self._offset += len(data)
        lines = self._take(data)
        if tail is not None:
            lines = lines[-tail:] if tail else []
        return Chunk(lines, reset=reset, more=self._offset < st.st_size)

    def read_before(self, n: int | None, *, max_bytes: int = 256 << 20) -> list[str]:
        """Up to ``n`` complete lines (None: all) that come before the first line given out so
        far, read backwards from the open file in blocks, rendered like the others; moves
        :attr:`window_start` back. At most ``max_bytes`` are read in one call."""
        if self._file is None or self.window_start <= 0 or n == 0:
            return []
        end = self.window_start
        pos, data = self._scan_back(end, max(0, end - max_bytes), n)
        if not data.endswith(b"\n"):
            data += b"\n"
        raw, _used = split_lines(data, self.max_line_bytes)
        self.window_start = pos
        out = [render_line(r, self.strip_ansi) for r in raw]
        return out[-n:] if n is not None and len(out) > n else out

    def flush(self) -> list[str]:
        """The unfinished last line as a final one, then forget it: for when the writer is known
        to be done (the run ended without a trailing newline). Empty if nothing would show."""
        text = render_line(self._buf, self.strip_ansi) if self._buf else ""
        self._buf, self._pending = b"", ""
        return [text] if text else []

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._ident = None

    def __enter__(self) -> TailReader:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- internals --

    def _open(self) -> bool:
        """Open the file the path names now; True if it replaces one shown before."""
        f = open(self.path, "rb", buffering=0)  # noqa: SIM115 (held open between polls)
        st = os.fstat(f.fileno())
        reset = self._had_file
        self.close()
        self._file, self._ident, self._had_file = f, (st.st_dev, st.st_ino), True
        self._restart()
        return reset

    def _restart(self) -> None:
        self._offset, self._buf, self._pending = 0, b"", ""
        self.window_start = 0

    def _read(self, offset: int, n: int) -> bytes:
        assert self._file is not None
        self._file.seek(offset)
        data = self._file.read(n) or b""
        self.bytes_read += len(data)
        return data

    def _tail_start(self, size: int, n: int) -> bytes:
        """Position at the start of the last ``n`` complete lines; return the bytes from there to
        ``size`` (those lines and the unfinished one). Reads backwards in blocks."""
        floor = max(0, size - min(_TAIL_LIMIT, (n + 1) * self.max_line_bytes))
        self._offset, data = self._scan_back(size, floor, n)
        return data

    def _scan_back(self, end: int, floor: int, n: int | None) -> tuple[int, bytes]:
        """Read backwards in blocks from ``end`` (not below ``floor``) until the start of the last
        ``n`` complete lines before ``end`` (None: down to ``floor``); (that start, the bytes from it
        to ``end``)."""
        blocks: list[bytes] = []
        pos, seen = end, 0
        while pos > floor:
            step = min(_BLOCK, pos - floor)
            pos -= step
            block = self._read(pos, step)
            blocks.append(block)
            if n is not None and seen + block.count(b"\n") > n:  # the (n+1)-th newline back is here
                i = len(block)
                for _ in range(n + 1 - seen):
                    i = block.rfind(b"\n", 0, i)
                blocks[-1] = block[i + 1:]
                pos += i + 1
                break
            seen += block.count(b"\n")
        return pos, b"".join(reversed(blocks))

    def _take(self, data: bytes) -> list[str]:
        """Append ``data`` to the unfinished line; render the lines it completes."""
        if not data:
            return []
        buf = self._buf + data
        raw, used = split_lines(buf, self.max_line_bytes)
        self._buf = buf[used:]
        self._pending = None
        return [render_line(r, self.strip_ansi) for r in raw]


def read_all_lines(path: str | os.PathLike[str], *, strip_ansi: bool = False,
                   max_line_bytes: int = 1 << 20) -> list[str]:
    """The whole file's lines at once, through the same code as following it (the unfinished
    last line included). Raises FileNotFoundError if the file does not exist."""
    with TailReader(path, from_start=True, strip_ansi=strip_ansi,
                    max_line_bytes=max_line_bytes) as reader:
        lines: list[str] = []
        while True:
            chunk = reader.poll()
            if chunk.missing:
                raise FileNotFoundError(path)
            if chunk.reset:
                lines.clear()
            lines += chunk.lines
            if not chunk.more:
                return lines + reader.flush()


_ERROR = re.compile(
    r"Traceback \(most recent call last\):"
    r"|\b(?:ERROR|CRITICAL|FATAL)\b"  # logging levels: "[ERROR|…", "| ERROR |", "ERROR:root:"
    r"|\b(?:[A-Z]\w*)?(?:Error|Exception)\b:"  # "RuntimeError: …", "Error: …"
    r"|\bRuntimeError\b|CUDA out of memory|CUDA error|(?i:NCCL error)"
    r"|Segmentation fault|core dumped"
)


def first_error(lines: list[str]) -> int | None:
    """Index of the first line that starts a Python traceback or is an obvious error line
    (an ERROR/CRITICAL log record, ``SomethingError:``, CUDA out of memory, NCCL error…)."""
    for i, line in enumerate(lines):
        if _ERROR.search(_SEQ.sub("", line) if "\x1b" in line else line):
            return i
    return None
