"""Run records: one folder per run under the state dir (DESIGN.md §2).

    runs/<id>/run.json     the record (written atomically: temp file, fsync, rename)
    runs/<id>/config.yaml  the config as launched (frozen copy)
    runs/<id>/console.log  everything the run printed (written by the runner)
    runs/<id>/exit_code    written by the runner when the command ends
    runs/<id>/pid          the runner's pid and create time (written when it starts)

A record's *state* is derived, never trusted from the file alone: see :func:`derive_state`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

KINDS = ("train", "chat", "webchat", "webui", "export", "eval", "api")  # llamafactory-cli's
TOOL_KINDS = ("swanlab",)  # `swanlab watch LOGDIR -p PORT`: a run's local SwanLab dashboard
ALL_KINDS = KINDS + TOOL_KINDS
STATES = ("starting", "running", "finished", "failed", "stopped", "lost")

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def sanitize(name: str, limit: int = 24) -> str:
    """A name safe for run ids and tmux session names (tmux refuses '.' and ':')."""
    s = _SAFE.sub("-", name).strip("-")
    return s[:limit].strip("-") or "run"


def new_run_id(name: str, now: float | None = None) -> str:
    t = time.localtime(now if now is not None else time.time())
    # os.urandom, not secrets: secrets loads hashlib and OpenSSL's digests (0.7 MB for the home view)
    return f"{time.strftime('%Y%m%d-%H%M%S', t)}-{sanitize(name, 20)}-{os.urandom(2).hex()}"


def atomic_write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write ``path`` so that readers see the old or the new content, never a torn one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@dataclass(frozen=True)
class RunRecord:
    id: str
    name: str
    kind: str
    config: str | None  # the path given at launch
    argv: tuple[str, ...]  # the exact command
    env: tuple[tuple[str, str], ...]  # what the app added to the environment (no secrets)
    secret_env: tuple[str, ...] = ()  # names passed from the user's environment, values never stored
    gpus: tuple[int, ...] | None = None  # None: no GPU (CPU run)
    cwd: str = ""
    user: str = ""
    host: str = ""
    tmux_socket: str = ""
    tmux_session: str = ""
    created_at: float = 0.0
    output_dir: str | None = None
    port: int | None = None
    url: str | None = None
    external: bool = False  # found running, not launched by the app
    stop_requested_at: float | None = None
    stop_report: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    saved_adapter: str = ""  # stop and save wrote a model / adapter here (the output_dir)
    saved_step: int | None = None  # the step it was saved at
    # Slurm runs (core/slurm): the job id is set once sbatch accepted the script (job.sbatch in the run
    # folder); the job's output file is the run's console.log
    slurm_job: str = ""
    slurm_partition: str = ""
    slurm_nodes: int = 0
    slurm_gpus_per_node: int = 0
    # what the user asked for, so a relaunch can reproduce the run: the Set field's / --set key=value
    # overrides (already applied to the frozen config.yaml) and the Env field's / --env K=V
    overrides: tuple[tuple[str, str], ...] = ()
    user_env: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        d = asdict(self)
        return json.dumps(d, indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        names = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in names}
        for key in ("argv", "secret_env", "notes"):
            if key in d and isinstance(d[key], list):
                d[key] = tuple(str(x) for x in d[key])
        if isinstance(d.get("env"), list):
            d["env"] = tuple((str(k), str(v)) for k, v in d["env"])
        elif isinstance(d.get("env"), dict):
            d["env"] = tuple(sorted((str(k), str(v)) for k, v in d["env"].items()))
        for key in ("overrides", "user_env"):
            if isinstance(d.get(key), list):
                d[key] = tuple((str(k), str(v)) for k, v in d[key])
        if isinstance(d.get("gpus"), list):
            d["gpus"] = tuple(int(g) for g in d["gpus"])
        if isinstance(d.get("stop_report"), list):
            d["stop_report"] = tuple(x for x in d["stop_report"] if isinstance(x, dict))
        return cls(**d)


@dataclass(frozen=True)
class RunStatus:
    """A record plus what is true now."""

    record: RunRecord
    state: str
    exit_code: int | None = None
    session_alive: bool = False
    pids: tuple[int, ...] = ()  # live processes attributed to the run
    orphaned: bool = False  # processes alive but the tmux session is gone
    runner_pid: int | None = None
    ended_at: float | None = None
    problems: tuple[str, ...] = field(default=())


class RunLookupError(KeyError):
    """No run, or several, match a reference; str() is the message itself (a KeyError's is quoted)."""

    def __init__(self, message: str, matches: list[RunRecord] | None = None):
        super().__init__(message)
        self.matches = matches or []

    def __str__(self) -> str:
        return str(self.args[0])


class Registry:
    """The run folders under ``root`` (``$XDG_STATE_HOME/ftmllm-tui/runs``)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def dir(self, run_id: str) -> Path:
        return self.root / run_id

    def create(self, record: RunRecord, config_text: str | None) -> Path:
        d = self.dir(record.id)
        d.mkdir(parents=True, exist_ok=False)
        os.chmod(d, 0o700)
        if config_text is not None:
            atomic_write(d / "config.yaml", config_text)
        atomic_write(d / "run.json", record.to_json())
        return d

    def save(self, record: RunRecord) -> None:
        atomic_write(self.dir(record.id) / "run.json", record.to_json())

    def load(self, run_id: str) -> RunRecord:
        path = self.dir(run_id) / "run.json"
        return RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def all(self) -> tuple[list[RunRecord], list[str]]:
        """Every readable record (newest first) and a message for each unreadable one."""
        records, problems = [], []
        if not self.root.is_dir():
            return [], []
        for d in sorted(self.root.iterdir(), reverse=True):
            if not (d / "run.json").is_file():
                continue
            try:
                records.append(self.load(d.name))
            except (OSError, ValueError, TypeError) as e:
                problems.append(f"{d / 'run.json'}: unreadable ({e})")
        return records, problems

    def find(self, ref: str) -> RunRecord:
        """By id, unique id prefix, or unique name; raises KeyError with the reason."""
        records, _ = self.all()
        exact = [r for r in records if r.id == ref]
        if exact:
            return exact[0]
        hits = [r for r in records if r.id.startswith(ref) or r.name == ref]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise RunLookupError(f"no run matches {ref} (see `ftmllm-tui runs`)")
        shown = ", ".join(f"{r.id} ({r.name})" if r.name and r.name not in r.id else r.id for r in hits[:8])
        raise RunLookupError(f"{ref} matches {len(hits)} runs: {shown}" + (" …" if len(hits) > 8 else "")
                             + " — give more of the id", hits)

    def forget(self, run_id: str) -> None:
        d = self.dir(run_id)
        for p in sorted(d.rglob("*"), reverse=True):
            if p.is_dir():
                p.rmdir()
            else:
                p.unlink()
        d.rmdir()

    def exit_code(self, run_id: str) -> tuple[int | None, float | None]:
        p = self.dir(run_id) / "exit_code"
        try:
            text = p.read_text().strip()
            return int(text), p.stat().st_mtime
        except (FileNotFoundError, ValueError):
            return None, None

    def runner(self, run_id: str) -> tuple[int, float] | None:
        """(pid, create_time) of the runner, as it wrote them when it started."""
        try:
            pid, ctime = (self.dir(run_id) / "pid").read_text().split()
            return int(pid), float(ctime)
        except (FileNotFoundError, ValueError):
            return None


def derive_state(record: RunRecord, *, exit_code: int | None, session_alive: bool,
                 live_pids: Iterable[int], started: bool) -> str:
    """running / finished / failed / stopped / lost (and starting before the runner is up)."""
    alive = bool(list(live_pids))
    if alive:
        return "running"
    if record.stop_requested_at is not None:
        return "stopped"
    if exit_code is not None:
        return "finished" if exit_code == 0 else "failed"
    if session_alive:
        return "starting" if not started else "running"
    return "lost"


def with_stop(record: RunRecord, report: Iterable[dict[str, Any]], when: float) -> RunRecord:
    return replace(record, stop_requested_at=when, stop_report=tuple(report))
