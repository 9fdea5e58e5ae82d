"""Datasets of a LLaMA-Factory ``dataset_info.json``: entries, rows as LLaMA-Factory reads them, row checks.

Rows are normalised the way LLaMA-Factory's converters do it (``data/converter.py`` of 0.9.x): alpaca
columns (prompt/query/response/history/system/images/chosen/rejected) and sharegpt messages whose roles are
mapped through the entry's ``tags`` (role_tag, content_tag, user_tag, assistant_tag, observation_tag,
function_tag, system_tag). The checks are the things LLaMA-Factory trips on later, minutes into a run:
a JSON error (with its line), a missing image file, ``<image>`` placeholders ≠ images, a broken role order
(user/observation on odd turns, assistant/function on even ones; an even count for ranking data), empty turns,
missing chosen/rejected in ranking data.

Large JSONL files are never read whole to show their start: :class:`RowSource` reads rows on demand and keeps
an index of line offsets that grows as far as anyone has asked (``count()`` walks the rest; run it in a thread).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_TOKEN, VIDEO_TOKEN, AUDIO_TOKEN = "<image>", "<video>", "<audio>"
STREAM_JSON_BYTES = 64 << 20  # a JSON array larger than this is parsed row by row as it is read, never held whole
CHECKPOINT = 64  # a JSONL row index keeps the offset of every 64th row  # a .json array is parsed whole: refuse beyond this


class DatasetError(Exception):
    """The folder, dataset_info.json or a data file cannot be read (one line, says what to do)."""


DEFAULT_COLUMNS = {
    "alpaca": {"prompt": "instruction", "query": "input", "response": "output", "history": None, "system": None},
    "sharegpt": {"messages": "conversations", "system": None, "tools": None},
}
COMMON = ("images", "videos", "audios", "chosen", "rejected", "kto_tag")
DEFAULT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
_SOURCES = (("hf_hub_url", "hf"), ("ms_hub_url", "ms"), ("om_hub_url", "om"), ("script_url", "script"),
            ("cloud_file_name", "cloud"), ("file_name", "file"))


@dataclass(frozen=True)
class Entry:
    name: str
    formatting: str  # alpaca | sharegpt
    ranking: bool
    source: str  # file | hf | ms | om | script | cloud | ?
    target: str  # file_name or hub url
    columns: dict
    tags: dict
    path: Path | None  # local file or folder (source == "file")
    size: int | None  # bytes on disk (local)
    cached: bool | None = None  # hf_hub_url: is it in the HF cache?
    spec: dict = field(default_factory=dict)

    def column(self, what: str) -> str | None:
        if what in self.columns:
            return self.columns[what]
        return DEFAULT_COLUMNS.get(self.formatting, {}).get(what, what if what in COMMON else None)

    def tag(self, what: str) -> str:
        return str(self.tags.get(what) or DEFAULT_TAGS[what])

    def files(self) -> list[Path]:
        if self.path is None:
            return []
        if self.path.is_dir():
            # a local folder: its files (LLaMA-Factory's loader); a Hub snapshot: also its sub-folders (data/...)
            pattern = "**/*" if self.source == "hf" else "*"
            return sorted(p for p in self.path.glob(pattern) if p.is_file() and not p.name.startswith(".")
                          and p.suffix.lower() in (".json", ".jsonl"))
        return [self.path]


def load_info(dataset_dir: Path) -> dict:
    path = Path(dataset_dir) / "dataset_info.json"
    if not Path(dataset_dir).is_dir():
        raise DatasetError(f"{dataset_dir}: no such folder (give the dataset_dir that holds dataset_info.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found (is {dataset_dir} the config's dataset_dir?)") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected an object {{name: {{...}}}} at the top level")
    return data


def hf_snapshot(repo: str, environ=None) -> Path | None:
    """The snapshot of a Hub dataset in the HF cache (what `main` points at, else the newest), or None."""
    from ..configs.pickers import hf_cache_dir

    folder = hf_cache_dir(environ) / f"datasets--{repo.replace('/', '--')}"
    try:
        ref = (folder / "refs" / "main").read_text().strip()
        if ref and (folder / "snapshots" / ref).is_dir():
            return folder / "snapshots" / ref
        snaps = sorted((p for p in (folder / "snapshots").iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        return snaps[-1] if snaps else None
    except (OSError, UnicodeDecodeError):
        return None


def entries(dataset_dir: Path, environ=None) -> tuple[list[Entry], list[str]]:
    """Every entry of dataset_info.json (sorted by name) and a problem line per broken one. A Hub dataset
    (hf_hub_url) that is in the HF cache (``environ``'s) gets its snapshot as path, so its JSON files can be read."""
    info = load_info(dataset_dir)
    out, problems = [], []
    for name, spec in sorted(info.items()):
        if not isinstance(spec, dict):
            problems.append(f"{name}: not an object")
            continue
        key, source = next(((k, s) for k, s in _SOURCES if spec.get(k)), ("", "?"))
        target = str(spec.get(key, ""))
        path = size = cached = None
        if source == "file":
            path = Path(dataset_dir) / target
            try:
                size = sum(p.stat().st_size for p in path.iterdir() if p.is_file()) if path.is_dir() \
                    else path.stat().st_size
            except OSError:
                problems.append(f"{name}: {target} not found in {dataset_dir}")
        elif source == "hf":
            snap = hf_snapshot(target, environ)
            cached = snap is not None
            if snap is not None:
                path = snap / str(spec.get("folder") or "")
                try:
                    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                except OSError:
                    size = None
        fmt = str(spec.get("formatting") or "alpaca")
        if fmt not in DEFAULT_COLUMNS:
            problems.append(f"{name}: formatting {fmt!r} is neither alpaca nor sharegpt")
        out.append(Entry(name, fmt, bool(spec.get("ranking", False)), source, target,
                         dict(spec.get("columns") or {}), dict(spec.get("tags") or {}), path, size, cached, spec))
    return out, problems


# -- reading rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawRow:
    index: int  # 0-based row number within the file
    line: int  # 1-based line in the file where the row starts (JSONL) or 0 (JSON array)
    data: object | None  # the parsed JSON, None on a JSON error
    error: str = ""  # the JSON error, with its column


class RowSource:
    """Rows of one .json / .jsonl file, read on demand. JSONL: a line-offset index grows as rows are asked for;
    a blank line is not a row. JSON: the array is parsed once (it has to be)."""

    CHUNK_CHARS = 1 << 20  # a large JSON array is read this many characters at a time

    def __init__(self, path: Path):
        self.path = Path(path)
        self.jsonl = self.path.suffix.lower() == ".jsonl"
        self._ck: list[tuple[int, int]] = []  # (byte offset, line number) of rows 0, K, 2K, ...
        self._nrows = 0  # rows indexed so far
        self._scan_pos = 0  # bytes indexed so far (always at a line start)
        self._scan_line = 0  # lines indexed so far
        self._done = False
        self._array: list | None = None
        self._lock = threading.Lock()
        try:
            self.size = self.path.stat().st_size
        except OSError as e:
            raise DatasetError(f"{self.path}: cannot read ({e.strerror})") from None
        self._stream = not self.jsonl and self.size > STREAM_JSON_BYTES  # a large JSON array: parsed as it is read
        self._live = None  # (the stream's iterator, the index of its next row)
        self._recent: dict[int, RawRow] = {}  # rows recently read from the stream (p goes back without a re-read)
        if not self.jsonl and not self._stream:
            try:
                import orjson

                with open(self.path, "rb") as f:
                    data = orjson.loads(f.read())
            except OSError as e:
                raise DatasetError(f"{self.path}: cannot read ({e.strerror})") from None
            except ValueError:
                with open(self.path, encoding="utf-8", errors="replace") as f:
                    try:
                        json.loads(f.read())
                    except json.JSONDecodeError as e:
                        raise DatasetError(f"{self.path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
                raise DatasetError(f"{self.path}: not valid JSON") from None
            if isinstance(data, dict):  # a {"train": [...]} file: LLaMA-Factory reads lists only
                raise DatasetError(f"{self.path}: expected a JSON array of rows, got an object")
            if not isinstance(data, list):
                raise DatasetError(f"{self.path}: expected a JSON array of rows")
            self._array = data
            self._done = True

    @property
    def counted(self) -> bool:
        return self._done

    @property
    def known_rows(self) -> int:
        return len(self._array) if self._array is not None else self._nrows

    def _index_until(self, want: int | None, stop: Callable[[], bool] | None = None, chunk: int = 64 << 10,
                     max_chunk: int = 4 << 20) -> None:
        """Index rows until `want` rows are known (None: all of them). numpy finds the newlines; every
        CHECKPOINT-th row's (offset, line) is kept, so a 1 GB file's index stays small."""
        import numpy as np

        K = CHECKPOINT
        with self._lock:
            if self._done or (want is not None and self._nrows >= want):
                return
            with open(self.path, "rb") as f:
                f.seek(self._scan_pos)
                while not (want is not None and self._nrows >= want):
                    if stop is not None and stop():
                        return
                    buf = f.read(chunk)
                    base = self._scan_pos
                    full = len(buf) == chunk
                    chunk = min(max_chunk, chunk * 2) if chunk < max_chunk else chunk  # small first reads
                    if not buf:
                        self._done = True
                        return
                    arr = np.frombuffer(buf, dtype=np.uint8)
                    nl = np.flatnonzero(arr == 10)
                    if len(nl) == 0 and full:
                        f.seek(base)
                        chunk, max_chunk = chunk * 2, max(max_chunk, chunk * 2)  # a line longer than the chunk
                        continue
                    eof = not full and (len(nl) == 0 or nl[-1] != len(buf) - 1)
                    ends = np.append(nl, len(buf)) if eof else nl  # a last line without a newline
                    starts = np.empty_like(ends)
                    starts[0] = 0
                    starts[1:] = ends[:-1] + 1
                    lengths = ends - starts
                    nonblank = lengths > 0
                    for j in np.flatnonzero(lengths <= 4):  # "\r", " ", ...: whitespace-only lines are not rows
                        if lengths[j] > 0 and not buf[starts[j]:ends[j]].strip():
                            nonblank[j] = False
                    rows_at = np.flatnonzero(nonblank)
                    numbers = self._nrows + np.arange(len(rows_at))
                    sel = rows_at[numbers % K == 0]
                    self._ck.extend(zip((base + starts[sel]).tolist(), (self._scan_line + sel + 1).tolist()))
                    self._nrows += len(rows_at)
                    self._scan_line += len(ends)
                    consumed = int(ends[-1]) + 1 if len(ends) else 0
                    self._scan_pos = base + min(consumed, len(buf))
                    f.seek(self._scan_pos)
                    if eof:
                        self._done = True
                        return

    def count(self, stop: Callable[[], bool] | None = None) -> int:
        """Every row (reads the whole file once; call it in a thread). ``stop()`` → returns what is known."""
        if self._stream:
            n = 0
            for raw in self._iter_array():
                if stop is not None and stop():
                    return max(self._nrows, n)
                n += 1
                self._nrows = max(self._nrows, n)
            self._done = True
            return self._nrows
        self._index_until(None, stop)
        return self.known_rows

    def _iter_array(self) -> Iterator[RawRow]:
        """The items of a JSON array one by one, without holding the file (line numbers included); a syntax error
        is the last item, as a RawRow with the error."""
        dec = json.JSONDecoder()
        ws = " \t\r\n"
        try:
            f = open(self.path, encoding="utf-8")
        except OSError as e:
            raise DatasetError(f"{self.path}: cannot read ({e.strerror})") from None
        with f:
            st = {"buf": "", "pos": 0, "line": 1, "eof": False}

            def fill() -> bool:
                try:
                    data = f.read(self.CHUNK_CHARS)
                except UnicodeDecodeError:
                    raise DatasetError(f"{self.path}: not UTF-8 text") from None
                if not data:
                    st["eof"] = True
                    return False
                st["buf"] = st["buf"][st["pos"]:] + data
                st["pos"] = 0
                return True

            def skip() -> str | None:
                while True:
                    buf, pos = st["buf"], st["pos"]
                    while pos < len(buf) and buf[pos] in ws:
                        pos += 1
                    st["line"] += buf.count("\n", st["pos"], pos)
                    st["pos"] = pos
                    if pos < len(buf):
                        return buf[pos]
                    if not fill():
                        return None

            def error(i: int, msg: str) -> RawRow:
                return RawRow(i, st["line"], None, f"not valid JSON ({msg})")

            if skip() != "[":
                yield error(0, "expected a JSON array of rows")
                return
            st["pos"] += 1
            i = 0
            while True:
                c = skip()
                if c is None:
                    yield error(i, "the file ends inside the array")
                    return
                if c == "]" and i == 0:
                    return
                while True:
                    try:
                        obj, end = dec.raw_decode(st["buf"], st["pos"])
                        if end < len(st["buf"]) or st["eof"]:
                            break  # a value that touches the end of the buffer may go on in the next chunk
                    except json.JSONDecodeError as e:
                        if st["eof"]:
                            st["line"] += st["buf"].count("\n", st["pos"], e.pos)
                            yield error(i, f"column {e.colno}: {e.msg}")
                            return
                    if not fill():
                        continue
                line = st["line"]
                st["line"] += st["buf"].count("\n", st["pos"], end)
                st["pos"] = end
                yield RawRow(i, line, obj)
                i += 1
                c = skip()
                if c == ",":
                    st["pos"] += 1
                elif c == "]":
                    return
                else:
                    yield error(i, "expected , or ] after a row")
                    return

    def _stream_rows(self, start: int, n: int | None) -> Iterator[RawRow]:
        if n is None:  # a walk (check, search): its own pass over the file
            for raw in self._iter_array():
                if raw.index >= start:
                    yield raw
            return
        with self._lock:  # a few rows for the browser: continue the live pass (n, p stay cheap)
            out = list(self._stream_some(start, n))
        yield from out

    def _stream_some(self, start: int, n: int) -> Iterator[RawRow]:
        got = 0
        while start in self._recent and (n is None or got < n):
            yield self._recent[start]
            start, got = start + 1, got + 1
        if n is not None and got >= n:
            return
        if self._live is None or self._live[1] > start:
            self._live = (self._iter_array(), 0)
        it, i = self._live
        for raw in it:
            self._live = (it, i + 1)
            self._nrows = max(self._nrows, i + 1)
            self._recent[i] = raw
            if len(self._recent) > 512:
                self._recent.pop(next(iter(self._recent)))
            i += 1
            if raw.index >= start:
                yield raw
                got += 1
                if n is not None and got >= n:
                    return
        self._done = True

    def row(self, i: int) -> RawRow | None:
        return next(self.rows(i, 1), None) if i >= 0 else None

    def rows(self, start: int = 0, n: int | None = None) -> Iterator[RawRow]:
        if self._stream:
            yield from self._stream_rows(start, n)
            return
        if self._array is not None:
            end = len(self._array) if n is None else min(len(self._array), start + n)
            for i in range(start, end):
                yield RawRow(i, 0, self._array[i])
            return
        self._index_until(start + 1)
        if start >= self._nrows and self._done:
            return
        ck = start // CHECKPOINT
        if ck >= len(self._ck):
            return
        pos, line = self._ck[ck]
        i = ck * CHECKPOINT
        with open(self.path, "rb") as f:
            f.seek(pos)
            line -= 1
            for raw in f:
                line += 1
                if not raw.strip():
                    continue
                if i >= start:
                    if n is not None and i >= start + n:
                        return
                    yield _parse(i, line, raw)
                i += 1


def _parse(i: int, line: int, raw: bytes) -> RawRow:
    import orjson

    try:
        return RawRow(i, line, orjson.loads(raw))
    except ValueError:
        try:
            json.loads(raw.decode("utf-8", "replace"))
        except json.JSONDecodeError as e:
            return RawRow(i, line, None, f"not valid JSON (column {e.colno}: {e.msg})")
        return RawRow(i, line, None, "not valid JSON")


# -- rows as LLaMA-Factory reads them --------------------------------------------------------------------


@dataclass
class Turn:
    role: str  # user | assistant | system | observation | function | ? (an unknown tag, shown as it is)
    content: str


@dataclass
class Row:
    index: int
    line: int
    system: str = ""
    turns: list[Turn] = field(default_factory=list)  # the prompt (and, without ranking, the answers)
    chosen: Turn | None = None
    rejected: Turn | None = None
    images: list[str] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    error: str = ""

    def text(self) -> str:
        parts = [self.system] + [t.content for t in self.turns]
        parts += [t.content for t in (self.chosen, self.rejected) if t is not None]
        return "\n".join(p for p in parts if p)


def _s(v) -> str:
    return v if isinstance(v, str) else ("" if v is None else json.dumps(v, ensure_ascii=False))


def _list(v) -> list[str]:
    if v is None or v == "":
        return []
    if isinstance(v, list):
        return [_s(x) for x in v]
    return [_s(v)]


def normalise(entry: Entry, raw: RawRow) -> Row:
    row = Row(raw.index, raw.line, error=raw.error)
    d = raw.data
    if raw.error:
        return row
    if not isinstance(d, dict):
        row.error = f"a row must be a JSON object, got {type(d).__name__}"
        return row
    row.images = _list(d.get(entry.column("images"))) if entry.column("images") else []
    row.videos = _list(d.get(entry.column("videos"))) if entry.column("videos") else []
    if entry.formatting == "sharegpt":
        role_map = {entry.tag("user_tag"): "user", entry.tag("assistant_tag"): "assistant",
                    entry.tag("observation_tag"): "observation", entry.tag("function_tag"): "function",
                    entry.tag("system_tag"): "system"}
        rt, ct = entry.tag("role_tag"), entry.tag("content_tag")

        def turn(m) -> Turn:
            if not isinstance(m, dict):
                return Turn("?", _s(m))
            tag = m.get(rt)
            return Turn(role_map.get(tag, f"?{tag}"), _s(m.get(ct)))

        msgs = d.get(entry.column("messages"))
        if not isinstance(msgs, list):
            row.error = f"column {entry.column('messages')!r} is missing or not a list"
            return row
        row.turns = [turn(m) for m in msgs]
        if entry.column("system") and d.get(entry.column("system")):
            row.system = _s(d.get(entry.column("system")))
        elif row.turns and row.turns[0].role == "system":
            row.system = row.turns.pop(0).content
        if entry.ranking:
            for what in ("chosen", "rejected"):
                v = d.get(entry.column(what))
                setattr(row, what, turn(v) if v is not None else None)
    else:
        sys_col = entry.column("system")
        row.system = _s(d.get(sys_col)) if sys_col else ""
        hist = d.get(entry.column("history")) if entry.column("history") else None
        for pair in hist if isinstance(hist, list) else []:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                row.turns += [Turn("user", _s(pair[0])), Turn("assistant", _s(pair[1]))]
        prompt = "\n".join(p for p in (_s(d.get(entry.column("prompt"))), _s(d.get(entry.column("query")))) if p)
        row.turns.append(Turn("user", prompt))
        if entry.ranking:
            for what in ("chosen", "rejected"):
                v = d.get(entry.column(what))
                setattr(row, what, Turn("assistant", _s(v)) if v is not None else None)
        else:
            resp = d.get(entry.column("response"))
            if isinstance(resp, list):  # LLaMA-Factory takes a list response as ranking-less multiple answers
                resp = resp[0] if resp else ""
            row.turns.append(Turn("assistant", _s(resp)))
    return row


# -- checks ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    row: int  # 1-based row number (what a person counts)
    line: int  # 1-based line of the file where the row starts (JSONL); 0 for a JSON array
    kind: str  # json | image-missing | image-count | role-order | empty-turn | ranking | shape
    message: str


def _is_url(p: str) -> bool:
    return p.startswith(("http://", "https://", "data:", "s3://", "gs://"))


def check_row(entry: Entry, row: Row, media_dir: Path, exists: Callable[[str], bool] = os.path.exists) -> list[Finding]:
    n = row.index + 1
    if row.error:
        kind = "json" if row.error.startswith("not valid JSON") else "shape"
        return [Finding(n, row.line, kind, row.error)]
    out: list[Finding] = []
    turns = list(row.turns)
    if entry.formatting == "sharegpt":
        odd, even = ("user", "observation"), ("assistant", "function")
        for i, t in enumerate(turns):
            want = odd if i % 2 == 0 else even
            if t.role not in want:
                got = t.role[1:] if t.role.startswith("?") else t.role
                out.append(Finding(n, row.line, "role-order", f"turn {i + 1} is {got!r}, expected {' or '.join(want)} "
                                   f"(LLaMA-Factory drops this row: 'Invalid role tag')"))
                break
        count_bad = (len(turns) % 2 != 0) if not entry.ranking else (len(turns) % 2 == 0)
        if turns and count_bad and not out:
            out.append(Finding(n, row.line, "role-order", f"{len(turns)} turns: " + (
                "ranking data needs an odd count (the prompt), the answer is in chosen/rejected" if entry.ranking
                else "needs user/assistant pairs (an even count)") + " (LLaMA-Factory drops this row)"))
        if not turns:
            out.append(Finding(n, row.line, "empty-turn", "no messages"))
    if entry.ranking:
        for what in ("chosen", "rejected"):
            t = getattr(row, what)
            if t is None:
                out.append(Finding(n, row.line, "ranking", f"no {what} answer (column {entry.column(what)!r})"))
            elif entry.formatting == "sharegpt" and t.role not in ("assistant", "function"):
                out.append(Finding(n, row.line, "role-order", f"{what} has role {t.role.lstrip('?')!r}, expected assistant"))
    for i, t in enumerate(turns):
        if not t.content.strip():
            out.append(Finding(n, row.line, "empty-turn", f"turn {i + 1} ({t.role.lstrip('?')}) is empty"))
            break
    for what in ("chosen", "rejected"):
        t = getattr(row, what)
        if t is not None and not t.content.strip():
            out.append(Finding(n, row.line, "empty-turn", f"{what} is empty"))
    text = row.text()
    for token, media, label in ((IMAGE_TOKEN, row.images, "images"), (VIDEO_TOKEN, row.videos, "videos")):
        k = text.count(token)
        if (k or media) and k != len(media):
            out.append(Finding(n, row.line, "image-count" if label == "images" else "video-count",
                               f"{k} {token} placeholder{'s' if k != 1 else ''} but {len(media)} {label} "
                               f"(LLaMA-Factory: 'The number of {label} does not match the number of {token} tokens')"))
    for p in row.images + row.videos:
        if not p or _is_url(p):
            continue
        if not (exists(os.path.join(media_dir, p)) or (os.path.isabs(p) and exists(p))):
            out.append(Finding(n, row.line, "image-missing", f"{p} not found (looked in {media_dir})"))
    return out


@dataclass
class CheckResult:
    name: str
    file: str
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    error: str = ""

    def kinds(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def summary(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if not self.findings:
            return "clean"
        bad = len({f.row for f in self.findings})
        return f"{bad:,} row{'s' if bad != 1 else ''} with problems: " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(self.kinds().items()))

    def to_json(self) -> dict:
        return {"name": self.name, "file": self.file, "rows": self.rows, "error": self.error or None,
                "summary": self.kinds(), "findings": [f.__dict__ for f in self.findings]}


def check_entry(entry: Entry, media_dir: Path | None = None, stop: Callable[[], bool] | None = None,
                progress: Callable[[int], None] | None = None) -> list[CheckResult]:
    """Check every row of every file of a local entry."""
    media_dir = Path(media_dir) if media_dir is not None else (entry.path.parent if entry.path else Path("."))
    if entry.source != "file" and entry.path is None:
        return [CheckResult(entry.name, entry.target, error=f"not a local file ({entry.source}: {entry.target}, not "
                            "in the HF cache); only local files and cached Hub datasets are checked")]
    if entry.path is None or not entry.path.exists():
        return [CheckResult(entry.name, str(entry.path), error="file not found")]
    results = []
    exists_cache: dict[str, bool] = {}

    def exists(p: str) -> bool:
        if p not in exists_cache:
            exists_cache[p] = os.path.exists(p)
        return exists_cache[p]

    files = entry.files()
    if not files:
        return [CheckResult(entry.name, str(entry.path), error=f"no .json or .jsonl file in {entry.path} (other "
                            "formats, such as parquet, are not read here)")]
    for path in files:
        res = CheckResult(entry.name, str(path))
        try:
            src = RowSource(path)
            for raw in src.rows():
                if stop is not None and stop():
                    break
                res.rows += 1
                res.findings.extend(check_row(entry, normalise(entry, raw), media_dir, exists))
                if progress is not None and res.rows % 10000 == 0:
                    progress(res.rows)
        except DatasetError as e:
            res.error = str(e)
        except OSError as e:
            res.error = f"cannot read ({e.strerror})"
        results.append(res)
    return results


def check_dataset_dir(dataset_dir: Path, name: str | None = None, environ=None) -> list[CheckResult]:
    """What ``ftmllm-tui dataset check`` runs. DatasetError when the folder or dataset_info.json is unreadable or
    NAME is not in it."""
    ents, _ = entries(dataset_dir, environ)
    if name is not None:
        pick = [e for e in ents if e.name == name]
        if not pick:
            names = ", ".join(e.name for e in ents[:12])
            raise DatasetError(f"no dataset {name!r} in {Path(dataset_dir) / 'dataset_info.json'} (have: {names})")
        ents = pick
    else:
        ents = [e for e in ents if e.source == "file" or e.path is not None]
    out: list[CheckResult] = []
    for e in ents:
        out.extend(check_entry(e, Path(dataset_dir)))
    return out


def search(src: RowSource, entry: Entry, text: str, start: int = 0, stop: Callable[[], bool] | None = None) -> int | None:
    """The first row at or after `start` whose text (as LLaMA-Factory reads it) contains `text` (case-insensitive)."""
    low = text.lower()
    for raw in src.rows(start):
        if stop is not None and stop():
            return None
        row = normalise(entry, raw)
        if low in row.text().lower() or (raw.error and low in raw.error.lower()):
            return raw.index
    return None


def token_lengths(tokenizer_path: Path, src: RowSource, entry: Entry, limit: int = 2000) -> list[int] | None:
    """Token counts of the first `limit` rows with the model's tokenizer.json (the `tokenizers` package), or None
    when it is not installed or the model has no tokenizer.json."""
    try:
        from tokenizers import Tokenizer  # type: ignore[import-not-found]
    except ImportError:
        return None
    tj = Path(tokenizer_path) / "tokenizer.json"
    if not tj.is_file():
        return None
    tok = Tokenizer.from_file(str(tj))
    out = []
    for raw in src.rows(0, limit):
        out.append(len(tok.encode(normalise(entry, raw).text()).ids))
    return out


_TOKENIZE = r"""
import json, sys
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
out = []
for line in sys.stdin:
    out.append(len(tok(json.loads(line), add_special_tokens=False)["input_ids"]))
print(json.dumps(out))
"""


def token_lengths_in_env(python: list[str], model_dir: Path, src: RowSource, entry: Entry, limit: int = 2000,
                         timeout: float = 300.0) -> list[int]:
    """Token counts of the first `limit` rows with the model's own tokenizer, in the training environment's Python
    (which has transformers): the rows' text without the chat template's own tokens. DatasetError on failure."""
    import subprocess

    texts = "".join(json.dumps(normalise(entry, raw).text()) + "\n" for raw in src.rows(0, limit))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error", TOKENIZERS_PARALLELISM="false")
    try:
        r = subprocess.run([*python, "-c", _TOKENIZE, str(model_dir)], input=texts, capture_output=True, text=True,
                           timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DatasetError(f"the training environment's Python could not count tokens ({e})") from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise DatasetError(f"the tokenizer of {model_dir} could not be loaded in the training environment: {last}")
    return [int(n) for n in json.loads(r.stdout.strip().splitlines()[-1])]


def histogram(lengths: list[int], cutoff: int | None, bins: int = 10) -> tuple[list[tuple[int, int, int]], int]:
    """[(low, high, count)] over the lengths, and how many rows are longer than cutoff_len."""
    if not lengths:
        return [], 0
    hi = max(lengths)
    step = max(1, -(-hi // bins))
    out = [(b * step, (b + 1) * step - 1, 0) for b in range(bins)]
    counts = [0] * bins
    for n in lengths:
        counts[min(bins - 1, n // step)] += 1
    cut = sum(1 for n in lengths if cutoff is not None and n > cutoff)
    return [(lo, hi_, c) for (lo, hi_, _), c in zip(out, counts)], cut
