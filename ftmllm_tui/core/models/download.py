"""Downloads from the Hugging Face Hub (or the HF_ENDPOINT mirror) as jobs, like runs.

The app plans a download (:func:`plan_download`: the repo's file list with sizes from the Hub, what is already
in the cache, free space of the cache's filesystem), then starts it with the run machinery: a run record of kind
``download``, the runner in a tmux session (it survives the SSH link), the launching environment (HF_TOKEN
included) through the tmpfs file the runner reads and deletes, the same safe stop. The job itself is this
module run as a program::

    python -m ftmllm_tui.core.models.download REPO --repo-type model --revision COMMIT [--include GLOB]...
        --cache-dir DIR --progress RUN_DIR/progress.json

It calls ``huggingface_hub.snapshot_download`` (the client's own code: ETags, locks, the blob store) and
writes ``progress.json`` twice a second (files, bytes, rate, ETA), measured from the cache itself so it holds
whatever the client version does with progress bars. Files finished before an interruption stay in the cache;
starting the same download again fetches only the rest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .cache import human_bytes

KIND = "download"


@dataclass
class DownloadPlan:
    repo_id: str
    repo_type: str
    revision: str
    commit: str
    cache_dir: Path
    include: tuple[str, ...]
    files: list[tuple[str, int]]  # (path in the repo, size) of what is asked for
    present: list[str] = field(default_factory=list)  # already in the cache's snapshot of this commit
    free: int | None = None
    endpoint: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(s for _, s in self.files)

    @property
    def needed(self) -> int:
        have = set(self.present)
        return sum(s for p, s in self.files if p not in have)

    @property
    def already(self) -> bool:
        return bool(self.files) and len(self.present) == len(self.files)

    @property
    def ok(self) -> bool:
        return not self.problems

    def snapshot(self) -> Path:
        return self.cache_dir / f"{self.repo_type}s--{self.repo_id.replace('/', '--')}" / "snapshots" / self.commit

    def summary(self) -> str:
        s = f"{self.repo_id} ({self.repo_type}) @ {self.commit[:10]}: {len(self.files)} files, {human_bytes(self.total)}"
        if self.already:
            return s + f"; already in the cache: {self.snapshot()}"
        if self.present:
            s += f"; {len(self.present)} already in the cache, {human_bytes(self.needed)} to fetch"
        if self.free is not None:
            s += f"; {human_bytes(self.free)} free in {self.cache_dir}"
        return s


def _free(path: Path) -> int | None:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def plan_download(repo_id: str, *, repo_type: str = "model", revision: str | None = None,
                  include: Sequence[str] = (), cache_dir: Path | None = None,
                  environ: Mapping[str, str] | None = None) -> DownloadPlan:
    """Ask the Hub (HF_ENDPOINT, with HF_TOKEN) for the repo's files and sizes; compare with the cache and free
    space. Raises ``DownloadError`` with one line when the Hub cannot answer."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import filter_repo_objects

    from ..configs.pickers import hf_cache_dir

    env = os.environ if environ is None else environ
    cache = Path(cache_dir) if cache_dir else hf_cache_dir(env)
    endpoint = env.get("HF_ENDPOINT") or None
    token = env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None
    api = HfApi(endpoint=endpoint, token=token if token else False)
    try:
        info = api.repo_info(repo_id, repo_type=repo_type, revision=revision, files_metadata=True)
    except Exception as e:  # noqa: BLE001 - one line for the user
        raise DownloadError(_why_hub(e, repo_id, endpoint)) from None
    sizes = {}
    for s in info.siblings or []:
        size = s.size if s.size is not None else (s.lfs.size if getattr(s, "lfs", None) else 0)
        sizes[s.rfilename] = int(size or 0)
    names = list(filter_repo_objects(list(sizes), allow_patterns=list(include) or None))
    plan = DownloadPlan(repo_id, repo_type, revision or "main", str(info.sha), cache, tuple(include),
                        [(n, sizes[n]) for n in sorted(names)], endpoint=endpoint or "https://huggingface.co")
    snap = plan.snapshot()
    plan.present = [n for n, _ in plan.files if (snap / n).exists()]
    plan.free = _free(cache)
    if include and not names:
        plan.problems.append(f"no file of {repo_id} matches {', '.join(include)}")
    if not plan.already and plan.free is not None and plan.needed > plan.free:
        plan.problems.append(f"{repo_id} needs {human_bytes(plan.needed)} but only {human_bytes(plan.free)} is free "
                             f"on the filesystem of {cache}: free space there, or set HF_HUB_CACHE to a larger disk")
    return plan


class DownloadError(Exception):
    pass


def _why_hub(e: Exception, repo_id: str, endpoint: str | None) -> str:
    name = type(e).__name__
    where = endpoint or "https://huggingface.co"
    if name == "RepositoryNotFoundError":
        return f"{repo_id} is not on {where} (or it is private: set HF_TOKEN)"
    if name == "GatedRepoError":
        return f"{repo_id} is gated: accept its terms on the Hub and set HF_TOKEN"
    if name == "RevisionNotFoundError":
        return f"{repo_id} has no such revision on {where}"
    if "Connect" in name or "Timeout" in name or "Offline" in name:
        return f"cannot reach {where} ({name}); set HF_ENDPOINT to a mirror if the Hub is blocked here"
    return f"{where}: {name}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")


def job_argv(plan: DownloadPlan, progress_path: Path, python: str | None = None) -> list[str]:
    argv = [python or sys.executable, "-m", "ftmllm_tui.core.models.download", plan.repo_id,
            "--repo-type", plan.repo_type, "--revision", plan.commit, "--cache-dir", str(plan.cache_dir),
            "--progress", str(progress_path)]
    for g in plan.include:
        argv += ["--include", g]
    return argv


def start_download(plan: DownloadPlan, registry, tmux, *, name: str | None = None,
                   environ: Mapping[str, str] | None = None, pass_env: Sequence[str] = (), python: str | None = None):
    """Start the job like a run (record, runner in tmux, secrets through tmpfs). Returns the RunRecord."""
    from ..runs.launch import LaunchRequest, Prepared, start
    from ..runs.registry import new_run_id

    env = dict(os.environ if environ is None else environ)
    name = name or f"dl-{plan.repo_id.split('/')[-1]}"
    run_id = new_run_id(name)
    progress = registry.dir(run_id) / "progress.json"
    prep = Prepared(request=LaunchRequest(config=None, kind=KIND, gpus="none", name=name), run_id=run_id, name=name,
                    argv=tuple(job_argv(plan, progress, python)),
                    env=(("HF_HUB_DISABLE_PROGRESS_BARS", "1"),),
                    secret_env=tuple(k for k in pass_env if env.get(k)), gpus=None, config_text=None,
                    output_dir=str(plan.snapshot()))
    return start(prep, registry, tmux, environ=env, python=python)


# -- progress ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadProgress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    rate: float | None  # bytes/s
    eta_s: float | None
    done: bool
    mtime: float = 0.0

    @property
    def percentage(self) -> float | None:
        return 100.0 * self.bytes_done / self.bytes_total if self.bytes_total else None

    def detail(self) -> str:
        s = f"{self.files_done}/{self.files_total} files · {human_bytes(self.bytes_done)} of {human_bytes(self.bytes_total)}"
        if self.rate:
            s += f" · {human_bytes(self.rate)}/s"
        return s


def eta_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def read_progress(run_dir: Path) -> DownloadProgress | None:
    p = Path(run_dir) / "progress.json"
    try:
        d = json.loads(p.read_text())
        return DownloadProgress(int(d["files_done"]), int(d["files_total"]), int(d["bytes_done"]),
                                int(d["bytes_total"]), d.get("rate"), d.get("eta_s"), bool(d.get("done")),
                                p.stat().st_mtime)
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _Meter:
    """Measures a download from the cache folder itself: finished files in the snapshot, bytes in blobs/
    (finished blobs of the asked files and the growing *.incomplete files)."""

    def __init__(self, repo_dir: Path, commit: str, files: list[tuple[str, int]]):
        self.repo_dir, self.commit, self.files = repo_dir, commit, files
        self.total = sum(s for _, s in files)
        self.samples: list[tuple[float, int]] = []

    def measure(self) -> tuple[int, int]:
        snap = self.repo_dir / "snapshots" / self.commit
        done_files = 0
        done_bytes = 0
        for name, size in self.files:
            if (snap / name).exists():
                done_files += 1
                done_bytes += size
        partial = 0
        try:
            with os.scandir(self.repo_dir / "blobs") as it:
                for e in it:
                    if e.name.endswith(".incomplete"):
                        try:
                            partial += e.stat().st_size
                        except OSError:
                            pass
        except OSError:
            pass
        return done_files, min(self.total, done_bytes + partial)

    def write(self, path: Path, done: bool = False) -> None:
        files, got = self.measure()
        now = time.monotonic()
        self.samples = [s for s in self.samples if now - s[0] <= 5.0] + [(now, got)]
        t0, b0 = self.samples[0]
        rate = (got - b0) / (now - t0) if now - t0 > 0.2 else None
        eta = (self.total - got) / rate if rate and rate > 0 else None
        data = {"files_done": files, "files_total": len(self.files), "bytes_done": got, "bytes_total": self.total,
                "rate": rate, "eta_s": 0.0 if done else eta, "done": done, "time": time.time()}
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)


_PER_PROCESS = re.compile(r"^[0-9a-f]+\.[0-9a-f]{8}\.incomplete$")


def _drop_partials(blobs: Path, since: float) -> None:
    """Our own per-process partial files (huggingface_hub ≥ 1.x writes BLOB.<8 hex>.incomplete and never reuses
    one after an interruption). A shared BLOB.incomplete (older clients resume from it) is left alone."""
    try:
        entries = list(os.scandir(blobs))
    except OSError:
        return
    me = os.geteuid()
    for e in entries:
        try:
            st = e.stat(follow_symlinks=False)
            if _PER_PROCESS.match(e.name) and st.st_uid == me and st.st_mtime >= since:
                os.unlink(e.path)
        except OSError:
            pass


def _parser():
    import argparse

    p = argparse.ArgumentParser(prog="python -m ftmllm_tui.core.models.download", exit_on_error=False)
    p.add_argument("repo")
    p.add_argument("--repo-type", default="model")
    p.add_argument("--revision", default=None)
    p.add_argument("--include", action="append", default=[])
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--progress", default=None)
    p.add_argument("--workers", type=int, default=4)
    return p


def parse_job_argv(argv: Sequence[str]):
    """The options of a recorded download job (its run.json argv), to start it again. ValueError when it is not one."""
    import argparse

    argv = list(argv)
    if "ftmllm_tui.core.models.download" not in argv:
        raise ValueError("not a download job")
    try:
        return _parser().parse_args(argv[argv.index("ftmllm_tui.core.models.download") + 1:])
    except (argparse.ArgumentError, SystemExit) as e:
        raise ValueError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    try:
        plan = plan_download(a.repo, repo_type=a.repo_type, revision=a.revision, include=a.include,
                             cache_dir=Path(a.cache_dir) if a.cache_dir else None)
    except DownloadError as e:
        print(f"download: {e}", flush=True)
        return 1
    print(f"download: {plan.summary()}", flush=True)
    print(f"download: from {plan.endpoint} into {plan.cache_dir}", flush=True)
    if plan.problems:
        print(f"download: {'; '.join(plan.problems)}", flush=True)
        return 1
    meter = _Meter(plan.snapshot().parent.parent, plan.commit, plan.files)
    progress = Path(a.progress) if a.progress else None
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.5):
            try:
                meter.write(progress)
            except OSError:
                pass

    if progress is not None:
        meter.write(progress)
        threading.Thread(target=tick, daemon=True).start()
    started = time.time() - 1.0
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM (the stop's second step) as Ctrl-C
    from huggingface_hub import snapshot_download

    result: list = []
    finished = threading.Event()

    def fetch() -> None:  # in a daemon thread: the main thread stays free to take Ctrl-C / SIGTERM at once
        try:
            result.append(snapshot_download(plan.repo_id, repo_type=plan.repo_type, revision=plan.commit,
                                            cache_dir=str(plan.cache_dir), max_workers=a.workers,
                                            allow_patterns=list(plan.include) or None))
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            result.append(e)
        finally:
            finished.set()

    try:
        threading.Thread(target=fetch, daemon=True).start()
        while not finished.wait(0.2):
            pass
        path = result[0]
        if isinstance(path, BaseException):
            raise path
    except KeyboardInterrupt:
        # the client's worker threads would finish their files first: leave now, drop our partial files
        stop.set()
        _drop_partials(meter.repo_dir / "blobs", started)
        if progress is not None:
            try:
                meter.write(progress)
            except OSError:
                pass
        print("download: interrupted; finished files stay in the cache (start it again to resume)", flush=True)
        sys.stdout.flush()
        os._exit(130)
    except Exception as e:  # noqa: BLE001
        print(f"download: failed: {type(e).__name__}: {e}", flush=True)
        return 1
    finally:
        stop.set()
    if progress is not None:
        meter.write(progress, done=True)
    print(f"download: done: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
