"""Training metrics as series (step → value), read incrementally, from what LLaMA-Factory writes.

Sources, in order of preference (DESIGN.md §4):

* ``output_dir/trainer_log.jsonl`` — one JSON object per logging step: ``current_steps,
  total_steps, loss, lr, epoch, percentage, elapsed_time, remaining_time`` (eval lines carry
  ``eval_loss`` instead of ``loss``/``lr``; unknown numeric keys become extra series). A resumed
  run appends to it: for each key the last value logged for a step wins.
* ``output_dir/trainer_state.json`` ``log_history`` (finished runs).
* Hugging Face Trainer dict lines in the console (``{'loss': ..., 'learning_rate': ...}``), when
  nothing else exists; their steps are only their order.

Result files (``all_results.json``, ``train_results.json``, ``eval_results.json``,
``predict_results.json``) are read as flat numeric dicts.
"""

from __future__ import annotations

import ast
import bisect
from collections import deque
import json
import operator
import os
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # ~4× faster than json for a million small objects
    from orjson import loads as _LOADS
except ImportError:  # pragma: no cover
    _LOADS = json.loads

_NAN = float("nan")
_LF_NUMERIC = ("loss", "lr", "eval_loss", "epoch")  # series in LLaMA-Factory's own lines


def _lf_decoder():
    """A typed decoder for LLaMA-Factory's trainer_log lines (msgspec: ~1.6× orjson, and columns
    come out without dicts). Any other key or type makes it refuse: the generic path takes over."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - optional speed-up
        return None

    class LFRecord(msgspec.Struct, forbid_unknown_fields=True):
        current_steps: int
        total_steps: int | None = None
        loss: float = _NAN
        lr: float = _NAN
        eval_loss: float = _NAN
        epoch: float = _NAN
        percentage: float | None = None
        elapsed_time: str | None = None
        remaining_time: str | None = None
        throughput: float | None = None
        total_tokens: int | None = None

    return msgspec.json.Decoder(LFRecord), (msgspec.ValidationError, msgspec.DecodeError)


_LF = _lf_decoder()

PROGRESS_KEYS = ("current_steps", "total_steps", "epoch", "percentage", "elapsed_time",
                 "remaining_time", "throughput", "total_tokens")
ALIASES = {"learning_rate": "lr", "step": "current_steps"}  # trainer_state / HF names → LLaMA-Factory's
RESULT_FILES = ("all_results.json", "train_results.json", "eval_results.json", "predict_results.json")


class Series:
    """Points sorted by step; appending in step order is O(1), a repeated step replaces its value."""

    __slots__ = ("name", "x", "y")

    def __init__(self, name: str):
        self.name = name
        self.x = array("d")
        self.y = array("d")

    def __len__(self) -> int:
        return len(self.x)

    def add(self, step: float, value: float) -> None:
        x = self.x
        if not x or step > x[-1]:
            x.append(step)
            self.y.append(value)
            return
        i = bisect.bisect_left(x, step)
        if i < len(x) and x[i] == step:
            self.y[i] = value  # the last value logged for a step wins (resumed runs)
        else:
            x.insert(i, step)
            self.y.insert(i, value)

    def extend_sorted(self, steps, values) -> None:
        """Bulk add of strictly increasing steps (numpy arrays or lists); O(n) when they all come
        after what is held, else point by point (a resumed run)."""
        if len(steps) == 0:
            return
        if not self.x or steps[0] > self.x[-1]:
            if hasattr(steps, "tobytes"):
                self.x.frombytes(steps.astype("d").tobytes())
                self.y.frombytes(values.astype("d").tobytes())
            else:
                self.x.extend(steps)
                self.y.extend(values)
            return
        for s, v in zip(steps, values):
            self.add(float(s), float(v))

    def last(self) -> tuple[float, float] | None:
        return (self.x[-1], self.y[-1]) if self.x else None

    def as_lists(self) -> tuple[list[float], list[float]]:
        return list(self.x), list(self.y)


@dataclass
class Progress:
    step: int | None = None
    total: int | None = None
    epoch: float | None = None
    percentage: float | None = None
    elapsed: str | None = None
    remaining: str | None = None
    throughput: float | None = None  # tokens/s when LLaMA-Factory logs it, else None
    steps_per_s: float | None = None


def hms_seconds(text: Any) -> float | None:
    """'1:02:03' → 3723; '2 days, 1:00:00' → 176400."""
    if not isinstance(text, str):
        return None
    days = 0
    m = re.match(r"\s*(\d+) days?, (.*)", text)
    if m:
        days, text = int(m.group(1)), m.group(2)
    parts = text.strip().split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return None
    secs = 0.0
    for n in nums:
        secs = secs * 60 + n
    return days * 86400 + secs


def _num(v: Any) -> bool:
    return type(v) in (int, float)


@dataclass
class Metrics:
    """Series by name plus progress, from one or more sources."""

    series: dict[str, Series] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress)
    source: str = ""
    approximate_steps: bool = False  # console dicts carry no step: x is their order

    def get(self, name: str) -> Series | None:
        return self.series.get(name)

    def names(self) -> list[str]:
        return sorted(self.series)

    def ingest(self, records: list[dict[str, Any]], *, step_key: str = "current_steps") -> None:
        """Add records (dicts, in file order) in bulk; keys are normalised (learning_rate → lr).

        Fast path for a million lines: when every record has the first one's keys (train lines
        only), each numeric column is pulled out in C into numpy; otherwise records are grouped by
        key set (train lines, eval lines…). Per key, the last value of each step wins.
        """
        import numpy as np

        recs = [r for r in records if type(r) is dict]
        if not recs:
            return
        if any(k in ALIASES for r in recs[:50] for k in r) or any(k in ALIASES for k in recs[-1]):
            recs = [{ALIASES.get(k, k): v for k, v in r.items()} for r in recs]
        per_key: dict[str, list[tuple]] = {}
        n = len(recs)
        lens = np.fromiter(map(len, recs), np.int64, n)
        done = False
        if bool((lens == lens[0]).all()) and step_key in recs[0]:
            try:  # a missing key raises KeyError: then the general path below
                first = tuple(recs[0])
                pulled = self._columns(recs, first, np.arange(n), step_key, per_key)
                rest = [k for k in first if k not in pulled]
                if rest:  # same length and every key of the first: the same key set (one C pass)
                    deque(map(operator.itemgetter(*rest), recs), maxlen=0)
                done = True
            except KeyError:
                per_key.clear()
        if not done:
            uniq: dict[tuple, int] = {}
            gid = np.fromiter((uniq.setdefault(tuple(r), len(uniq)) for r in recs), np.int64, n)
            for keys, g in uniq.items():
                if step_key not in keys:
                    continue
                idx = np.flatnonzero(gid == g)
                self._columns([recs[i] for i in idx.tolist()], keys, idx, step_key, per_key)
        self.merge_columns(per_key)
        self._progress(recs[-1], recs)

    def merge_columns(self, per_key: dict[str, list[tuple]]) -> None:
        """Add (steps, values, file order) column parts per key; per step the last in file wins."""
        import numpy as np

        for key, parts in per_key.items():
            steps = np.concatenate([p[0] for p in parts])
            vals = np.concatenate([p[1] for p in parts])
            idx = np.concatenate([p[2] for p in parts])
            ok = np.isfinite(steps)
            steps, vals, idx = steps[ok], vals[ok], idx[ok]
            if len(parts) > 1 or (steps.size > 1 and not np.all(np.diff(steps) > 0)):
                o = np.lexsort((idx, steps))  # by step, then file order
                steps, vals = steps[o], vals[o]
                last = np.r_[steps[1:] != steps[:-1], True]  # the last of each equal step wins
                steps, vals = steps[last], vals[last]
            s = self.series.get(key)
            if s is None:
                s = self.series[key] = Series(key)
            s.extend_sorted(steps, vals)

    @staticmethod
    def _columns(rows: list[dict[str, Any]], keys: tuple, order, step_key: str,
                 per_key: dict[str, list[tuple]]) -> set[str]:
        """(steps, values, file order) of every numeric key of rows that all have ``keys``;
        returns the keys read from every row."""
        import numpy as np

        n = len(rows)
        pulled = {step_key}
        try:
            steps = np.fromiter(map(operator.itemgetter(step_key), rows), float, n)
        except (TypeError, ValueError):
            return pulled
        for key in keys:
            if key == step_key or (key in PROGRESS_KEYS and key != "epoch"):
                continue
            first = rows[0][key]
            if type(first) is bool or not (_num(first) or first is None):
                continue
            try:
                vals = np.fromiter(map(operator.itemgetter(key), rows), float, n)
                pulled.add(key)
            except (TypeError, ValueError):  # mixed types in this column: keep the numbers
                keep = [i for i, r in enumerate(rows) if _num(r[key])]
                if not keep:
                    continue
                vals = np.asarray([float(rows[i][key]) for i in keep])
                per_key.setdefault(key, []).append((steps[keep], vals, order[keep]))
                continue
            per_key.setdefault(key, []).append((steps, vals, order))
        return pulled

    def _progress(self, last: dict[str, Any], recs: list[dict[str, Any]]) -> None:
        p = self.progress
        if _num(last.get("current_steps")):
            p.step = int(last["current_steps"])
        if _num(last.get("total_steps")):
            p.total = int(last["total_steps"])
        if _num(last.get("epoch")):
            p.epoch = float(last["epoch"])
        if _num(last.get("percentage")):
            p.percentage = float(last["percentage"])
        if isinstance(last.get("elapsed_time"), str):
            p.elapsed = last["elapsed_time"]
        if isinstance(last.get("remaining_time"), str):
            p.remaining = last["remaining_time"]
        if _num(last.get("throughput")):
            p.throughput = float(last["throughput"])
        el = hms_seconds(p.elapsed)
        if el and p.step:
            p.steps_per_s = p.step / el


class TrainerLog:
    """Follows ``trainer_log.jsonl``: reads only new bytes; a half-written last line waits for its
    newline; a truncated or replaced file starts over."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.metrics = Metrics(source=str(self.path))
        self._offset = 0
        self._inode: int | None = None
        self._mtime_ns = 0
        self._partial = b""
        self._head = b""  # the file's first bytes: a different head means a different file
        self.bad_lines = 0

    def reset(self) -> None:
        self.metrics = Metrics(source=str(self.path))
        self._offset = 0
        self._head = b""
        self._partial = b""
        self.bad_lines = 0

    def poll(self) -> bool:
        """Read what was appended; True when something changed (or the file started over)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        restarted = False
        rewritten = st.st_size == self._offset and st.st_mtime_ns != self._mtime_ns and self._offset
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset
                                        or rewritten):
            self.reset()  # replaced, truncated, or rewritten in place with the same length
            restarted = True
        self._inode = st.st_ino
        self._mtime_ns = st.st_mtime_ns
        with open(self.path, "rb") as f:
            if self._head and not restarted and f.read(len(self._head)) != self._head:
                self.reset()  # another file took this path (inode numbers get reused)
                restarted = True
            if st.st_size == self._offset:
                return restarted
            f.seek(self._offset)
            data = f.read(st.st_size - self._offset)
        if len(self._head) < 64:
            self._head = (self._head + data)[:64] if self._offset == len(self._head) else self._head
        self._offset += len(data)
        data = self._partial + data if self._partial else data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" when the data ended with a newline
        if not lines:
            return restarted
        if _LF is not None and self._ingest_lf(lines):
            return True
        try:  # fast path: every line is JSON
            records = [_LOADS(line) for line in lines if line]
        except ValueError:
            records = []
            for line in lines:
                if not line.strip():
                    continue
                try:
                    records.append(_LOADS(line))
                except ValueError:
                    self.bad_lines += 1
        self.metrics.ingest(records)
        return True


    def _ingest_lf(self, lines: list[bytes]) -> bool:
        """LLaMA-Factory's own lines, decoded straight into columns; False if any line differs."""
        import numpy as np

        dec, errors = _LF
        try:
            recs = [dec.decode(line) for line in lines if line]
        except errors:
            return False
        if not recs:
            return True
        n = len(recs)
        steps = np.fromiter(map(operator.attrgetter("current_steps"), recs), float, n)
        order = np.arange(n)
        per_key = {}
        for key in _LF_NUMERIC:
            vals = np.fromiter(map(operator.attrgetter(key), recs), float, n)
            have = ~np.isnan(vals)
            if have.any():
                per_key[key] = [(steps[have], vals[have], order[have])]
        self.metrics.merge_columns(per_key)
        import msgspec

        self.metrics._progress(msgspec.structs.asdict(recs[-1]), [])
        return True


def load_trainer_state(path: str | os.PathLike[str]) -> Metrics:
    """``trainer_state.json``'s ``log_history`` (keys normalised: step → current_steps)."""
    m = Metrics(source=str(path))
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return m
    hist = data.get("log_history") if isinstance(data, dict) else None
    if isinstance(hist, list):
        m.ingest(hist)
        if isinstance(data.get("max_steps"), int):
            m.progress.total = data["max_steps"]
    return m


_DICT_LINE = re.compile(r"(\{'(?:loss|eval_loss|train_loss)'[^{}]*\})")


def parse_console(lines: Iterable[str]) -> Metrics:
    """Hugging Face Trainer dict lines in a console log; x is the order of appearance."""
    m = Metrics(source="console", approximate_steps=True)
    records = []
    n = 0
    prev_epoch = None
    for line in lines:
        for blob in _DICT_LINE.findall(line):
            try:
                d = ast.literal_eval(blob)
            except (ValueError, SyntaxError):
                continue
            rec: dict[str, Any] = {}
            for k, v in d.items():
                try:
                    rec[str(k)] = float(v)
                except (TypeError, ValueError):
                    continue
            if not rec:
                continue
            if "eval_loss" not in rec:
                # LLaMA-Factory prints each step's dict twice (its logger and transformers'):
                # the same epoch means the same step
                if not (prev_epoch is not None and rec.get("epoch") == prev_epoch):
                    n += 1
                prev_epoch = rec.get("epoch")
            rec["current_steps"] = n
            records.append(rec)
    m.ingest(records)
    return m


def load_results(output_dir: str | os.PathLike[str]) -> dict[str, float]:
    """Numeric values of the *_results.json files (all_results holds the union of the others)."""
    out: dict[str, float] = {}
    for name in RESULT_FILES:
        p = Path(output_dir) / name
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            for k, v in data.items():
                if _num(v):
                    out[str(k)] = float(v)
    return out


def load_metrics(output_dir: str | os.PathLike[str], console: Path | None = None) -> Metrics:
    """The best source available for an output_dir (and its console log as a last resort)."""
    d = Path(output_dir)
    log = d / "trainer_log.jsonl"
    if log.is_file():
        t = TrainerLog(log)
        t.poll()
        if t.metrics.series or t.metrics.progress.step is not None:
            return t.metrics
    state = d / "trainer_state.json"
    if state.is_file():
        m = load_trainer_state(state)
        if m.series:
            return m
    if console is not None and console.is_file():
        with open(console, encoding="utf-8", errors="replace") as f:
            return parse_console(f)
    return Metrics(source=str(d))


# -- for plotting ---------------------------------------------------------------------------------

def ema(values: list[float], weight: float) -> list[float]:
    """Exponential moving average like TensorBoard's smoothing (weight in [0, 1), debiased)."""
    if not 0 <= weight < 1:
        raise ValueError("smoothing weight must be in [0, 1)")
    out, last, n = [], 0.0, 0
    for v in values:
        n += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** n))
    return out
