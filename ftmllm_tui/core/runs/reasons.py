"""Why a run ended badly, in one line, read from its console.log and exit code.

The patterns come from real failing runs (tests/data/failure_logs/, made by tests/lf/make_failure_logs.py on
CPU with LLaMA-Factory 0.9.5: a dataset missing from dataset_info.json, an unknown template, a VL template on a
text model, torchrun's port taken, a full disk, SIGKILL; and a real CUDA out-of-memory on an H200) and, for what
needs several GPUs (NCCL), from PyTorch's own messages. Only the end of the log is read (the last 256 KiB), and
a result is cached per (file, size, mtime, exit code), so a view can ask every refresh.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class Reason:
    code: str            # cuda_oom, nccl_timeout, port_in_use, dataset_missing, template, disk_full, oom_killer,
                         # swanlab_login, killed, error
    summary: str         # one line
    line: int | None = None      # 1-based line of console.log that shows it
    text: str = ""               # that line
    fix: str = ""
    details: tuple[str, ...] = field(default_factory=tuple)   # e.g. the estimate and the changes that would fit

    def as_dict(self) -> dict:
        return {"code": self.code, "summary": self.summary, "line": self.line, "text": self.text, "fix": self.fix,
                "details": list(self.details)}


# (code, pattern, summary template, fix); earlier entries win when several match
PATTERNS: list[tuple[str, re.Pattern[str], str, str]] = [
    ("cuda_oom", re.compile(r"torch\.(?:cuda\.)?OutOfMemoryError|CUDA out of memory|CUBLAS_STATUS_ALLOC_FAILED"),
     "out of GPU memory", "a smaller micro-batch with more gradient accumulation, gradient checkpointing, ZeRO-3 "
     "or more GPUs, 4-bit (see `ftmllm-tui estimate`)"),
    ("nccl_timeout", re.compile(r"Watchdog caught collective operation timeout|ProcessGroupNCCL.*[Tt]imed? ?out|"
                                r"DistBackendError: NCCL|NCCL (?:error|communicator was aborted)|ncclSystemError|"
                                r"ncclInternalError|ncclUnhandledCudaError"),
     "NCCL collective timed out or failed (a rank hung, died or ran out of memory)",
     "look at every rank's first error above; try NCCL_P2P_LEVEL=NVL or NCCL_P2P_DISABLE=1, NCCL_DEBUG=INFO"),
    ("disk_full", re.compile(r"No space left on device|\[Errno 28\]|StorageFull|PytorchStreamWriter failed writing|"
                             r"inline_container\.cc.*unexpected pos|basic_ios::clear: iostream error"),
     "disk full while writing", "free space where output_dir (or the HF / datasets cache) is, or set "
                                "save_total_limit / save_only_model: true"),
    ("port_in_use", re.compile(r"EADDRINUSE|[Aa]ddress already in use|\[Errno 98\]|Cannot find empty port"),
     "port already in use", "another run holds it: set MASTER_PORT (torchrun) / GRADIO_SERVER_PORT / API_PORT to a "
                            "free port, or relaunch (the app picks free ports for web UIs)"),
    ("dataset_missing", re.compile(r"Undefined dataset (?P<name>\S+) in (?P<file>\S+?)\.?$|"
                                   r"Cannot open (?P<dir>\S+) due to"),
     "dataset {name} is not in {file}", "add it to dataset_info.json in dataset_dir, or fix the name (the editor's "
                                        "picker lists what exists)"),
    ("template", re.compile(r"Template (?P<name>\S+) does not exist|Processor was not found|"
                            r"is not supported by (?:the|this) template|does not match the template"),
     "template and model do not match", "use the template of the model family (qwen for Qwen2.5, qwen2_vl for "
                                        "Qwen2-VL/Qwen2.5-VL with its processor files)"),
    ("swanlab_login", re.compile(r"swanlab: Enter your choice|Paste an API key from your profile|"
                                 r"swanlab: \(2\) Use an existing SwanLab account"),
     "waiting at SwanLab's login prompt (no SWANLAB_API_KEY)", "export SWANLAB_API_KEY before launching, or set "
                                                               "swanlab_mode: local / offline"),
]
_EXC = re.compile(r"^(?:[\w.]+\.)?(?P<name>[A-Z]\w*(?:Error|Exception|Interrupt))(?::\s*(?P<msg>.*))?$")

_cache: dict[tuple, Reason | None] = {}
_lock = threading.Lock()


def _read_tail(path: Path) -> tuple[str, int]:
    """(the last TAIL_BYTES of the file as text, number of lines before it)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start = max(0, size - TAIL_BYTES)
        before = 0
        if start:
            pos = 0
            while pos < start:
                chunk = fh.read(min(1 << 20, start - pos))
                if not chunk:
                    break
                before += chunk.count(b"\n")
                pos += len(chunk)
        fh.seek(start)
        data = fh.read()
    return data.decode("utf-8", errors="replace").replace("\r", "\n"), before


def explain_text(text: str, exit_code: int | None, *, first_line: int = 1,
                 oom_advice=None) -> Reason | None:
    """The reason in a log's text (lines numbered from first_line). None for a clean exit with nothing to say."""
    if exit_code == 0:
        return None
    lines = text.split("\n")
    best: tuple[int, int, re.Match, tuple] | None = None
    for i in range(len(lines) - 1, -1, -1):   # the last occurrence of each kind; the earliest kind in PATTERNS
        line = lines[i]
        if len(line) > 4000:
            line = line[:4000]
        for rank, pat in enumerate(PATTERNS):
            if best is not None and rank >= best[0]:
                break
            m = pat[1].search(line)
            if m:
                best = (rank, i, m, pat)
                break
    if best is not None:
        rank, i, m, (code, _, summary, fix) = best
        if True:
            groups = {k: v for k, v in m.groupdict().items() if v}
            if code == "dataset_missing" and "name" not in groups:
                summary = f"cannot read {groups.get('dir', 'dataset_info.json')}"
            elif code == "template" and "name" in groups:
                summary = f"template {groups['name']} does not exist"
            elif code == "template" and "Processor was not found" in m.group(0):
                summary = "template needs an image processor the model folder does not have (VL template on a " \
                          "text model?)"
            try:
                summary = summary.format(**groups)
            except (KeyError, IndexError):
                pass
            details: tuple[str, ...] = ()
            if code == "cuda_oom" and oom_advice is not None:
                details = tuple(oom_advice(lines[i]))
            return Reason(code, summary, first_line + i, lines[i].strip()[:500], fix, details)
    if exit_code in (None, 0):
        return None
    exc_i = next((i for i in range(len(lines) - 1, -1, -1) if _EXC.match(lines[i].strip())), None)
    if exit_code in (137, -9) and exc_i is None:
        return Reason("oom_killer", "killed by SIGKILL with no Python error: the kernel's OOM killer (host RAM) "
                      "or a kill -9", None, "", "check `dmesg | grep -i oom` or journalctl -k; lower "
                      "preprocessing_num_workers / dataloader_num_workers, or ask for more host memory")
    if exc_i is not None:
        m = _EXC.match(lines[exc_i].strip())
        assert m is not None
        return Reason("error", lines[exc_i].strip()[:200], first_line + exc_i, lines[exc_i].strip()[:500])
    if exit_code in (130, 143, -2, -15):
        return Reason("killed", f"ended by signal {exit_code - 128 if exit_code > 128 else -exit_code} "
                      "(SIGINT/SIGTERM)", None)
    return Reason("error", f"exit code {exit_code}, no error message in the log", None)


def explain(console_log: Path, exit_code: int | None, *, oom_advice=None) -> Reason | None:
    """The reason for a run from its console.log (cached by the file's size and mtime)."""
    try:
        st = console_log.stat()
    except OSError:
        if exit_code not in (None, 0):
            return Reason("error", f"exit code {exit_code}, no console.log", None)
        return None
    key = (str(console_log), st.st_size, st.st_mtime_ns, exit_code, oom_advice is not None)
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        text, before = _read_tail(console_log)
    except OSError:
        return None
    reason = explain_text(text, exit_code, first_line=before + 1, oom_advice=oom_advice)
    with _lock:
        if len(_cache) > 512:
            _cache.clear()
        _cache[key] = reason
    return reason


_CAPACITY = re.compile(r"total capacity of (?P<total>[\d.]+) GiB(?: of which (?P<free>[\d.]+) (?P<unit>[GM]iB) "
                       r"is free)?")


def oom_advice_for(config: Path | None, cwd: Path | None, gpus: Sequence[int] | None,
                   environ: Mapping[str, str] | None = None):
    """A callable(oom_line) → lines: the estimate for the run's frozen config and the three cheapest changes that
    would fit in the GPU's capacity (read from PyTorch's message)."""

    def advise(line: str) -> list[str]:
        if config is None or not config.is_file():
            return []
        import yaml

        from ftmllm_tui.core.estimate import GiB, EstimateError, estimate_values
        from ftmllm_tui.core.estimate.advice import cheapest_changes

        try:
            values = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
            n = len(gpus) if gpus else 1
            est = estimate_values(values, path=config, gpus=n, workdir=cwd, environ=environ, kind="train")
        except (OSError, yaml.YAMLError, EstimateError, ValueError, TypeError) as exc:
            return [str(exc)]
        out = [f"estimate: {est.summary()} ({est.kind}, {est.gpus} GPU(s))"]
        m = _CAPACITY.search(line)
        if not m:
            return out
        budget = int(float(m.group("total")) * GiB * 0.95)

        def again(v, gpus):
            return estimate_values(v, path=config, gpus=gpus, workdir=cwd, environ=environ, kind="train")

        changes = cheapest_changes(values, budget, again, gpus=est.gpus)
        out += [f"would fit in {float(m.group('total')):.1f} GiB: {c.line()}" for c in changes]
        return out

    return advise


def _tail_has_prompt(log: Path, nbytes: int = 4096) -> Reason | None:
    try:
        with open(log, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - nbytes))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    code, pat, summary, fix = next(p for p in PATTERNS if p[0] == "swanlab_login")
    tail = [ln for ln in text.replace("\r", "\n").split("\n") if ln.strip()][-6:]
    for ln in tail:
        if pat.search(ln):
            return Reason(code, summary, None, ln.strip(), fix)
    return None


def run_reason(run_dir: Path, *, state: str, exit_code: int | None, cwd: str | None = None,
               gpus: Sequence[int] | None = None) -> Reason | None:
    """The reason for a run in `state`: failed and lost runs from their whole log tail (an out-of-memory one with
    the estimate and the changes that would fit); a running one only when it waits at SwanLab's login prompt."""
    log = run_dir / "console.log"
    if state in ("failed", "lost"):
        return explain(log, exit_code if exit_code is not None else None,
                       oom_advice=oom_advice_for(run_dir / "config.yaml", Path(cwd) if cwd else None, gpus))
    if state in ("running", "starting"):
        return _tail_has_prompt(log)
    return None
