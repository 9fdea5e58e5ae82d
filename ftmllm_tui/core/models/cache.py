"""The Hugging Face cache(s) in use, local model folders, adapters and exports: what the Models view lists.

Everything here reads the disk: call it off the UI thread. The caches are read with huggingface_hub's own
``scan_cache_dir`` (never by walking ``models--*/snapshots`` by hand); a repo whose files cannot be read
is a problem line, not an exception. Deleting a revision goes through huggingface_hub's
``delete_revisions`` strategy after :func:`plan_delete` checked that every path it would remove belongs
to the user, that no process has one of its files open or mapped, and that no live run's config names it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..configs.pickers import _local_models, _read_json, _walk, _why, hf_cache_dir, human_bytes

__all__ = ["CacheInfo", "Repo", "Revision", "LocalModel", "ModelsReport", "cache_dirs", "models_env", "scan",
           "plan_delete", "DeletePlan", "execute_delete", "human_bytes", "owner_name"]


@dataclass(frozen=True)
class Revision:
    commit: str
    refs: tuple[str, ...]
    size: int
    snapshot_path: str
    last_modified: float
    files: int


@dataclass(frozen=True)
class Repo:
    cache: str
    repo_id: str
    repo_type: str  # "model" | "dataset" | "space"
    size: int
    path: str
    last_modified: float
    last_accessed: float
    owner: str
    revisions: tuple[Revision, ...]  # the one `main` points at first, then newest first

    @property
    def snapshot(self) -> str:
        """The snapshot folder of `main` (else the newest revision; '' when none was downloaded)."""
        return self.revisions[0].snapshot_path if self.revisions else ""


@dataclass(frozen=True)
class LocalModel:
    kind: str  # "local-model" | "adapter" | "export"
    path: str
    name: str
    size: int
    modified: float
    owner: str
    detail: str  # architecture, base model, ...
    modelfile: str = ""  # an export's Modelfile (ollama), when there is one


@dataclass(frozen=True)
class CacheInfo:
    path: str
    source: str  # "HF_HUB_CACHE" | "HUGGINGFACE_HUB_CACHE" | "HF_HOME" | "[runs.env] …" | "default" | "[models] caches"
    exists: bool
    free: int | None = None
    total: int | None = None


@dataclass
class ModelsReport:
    caches: list[CacheInfo] = field(default_factory=list)
    repos: list[Repo] = field(default_factory=list)
    local: list[LocalModel] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    took_s: float = 0.0

    def to_json(self) -> dict:
        return {
            "caches": [c.__dict__ for c in self.caches],
            "repos": [{"cache": r.cache, "repo_id": r.repo_id, "repo_type": r.repo_type, "size": r.size,
                       "path": r.path, "snapshot": r.snapshot, "owner": r.owner,
                       "last_modified": r.last_modified, "last_accessed": r.last_accessed,
                       "revisions": [r2.__dict__ | {"refs": list(r2.refs)} for r2 in r.revisions]}
                      for r in self.repos],
            "local": [m.__dict__ for m in self.local],
            "problems": list(self.problems),
        }


_OWNERS: dict[int, str] = {}


def owner_name(uid: int) -> str:
    if uid not in _OWNERS:
        try:
            import pwd

            _OWNERS[uid] = pwd.getpwuid(uid).pw_name
        except (KeyError, ImportError):
            _OWNERS[uid] = str(uid)
    return _OWNERS[uid]


def _owner(path: str | Path) -> str:
    try:
        return owner_name(os.stat(path).st_uid)
    except OSError:
        return "?"


HF_CACHE_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME")


def models_env(environ: Mapping[str, str] | None = None, runs_env: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """The environment runs get: the user's, then ``[runs.env]`` (e.g. HUGGINGFACE_HUB_CACHE=/data/huggingface/hub,
    HF_ENDPOINT=a mirror). Caches, downloads and the Hub endpoint follow it, so they match what training sees."""
    return {**(os.environ if environ is None else environ), **dict(runs_env)}


def cache_dirs(environ: Mapping[str, str] | None = None, extra: Sequence[str] = (),
               runs_env: Sequence[tuple[str, str]] = ()) -> list[tuple[Path, str]]:
    """The cache runs use (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, the default; ``[runs.env]`` over the
    environment), the shell's own when ``[runs.env]`` points elsewhere, and ``[models] caches``: each once, with
    where it came from."""
    env = os.environ if environ is None else environ
    runs = dict(runs_env)

    def source(e: Mapping[str, str], mark: str = "") -> str:
        key = next((k for k in HF_CACHE_VARS if e.get(k)), None)
        if key is None:
            return "default"
        return f"[runs.env] {key}" if mark and key in runs else key

    merged = models_env(env, runs_env)
    out: list[tuple[Path, str]] = [(hf_cache_dir(merged), source(merged, "runs"))]
    out.append((hf_cache_dir(env), source(env)))
    for e in extra:
        if e:
            out.append((Path(os.path.expanduser(e)), "[models] caches"))
    seen: set[str] = set()
    uniq = []
    for p, src in out:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            uniq.append((p, src))
    return uniq


def _free(path: Path) -> tuple[int | None, int | None]:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        du = shutil.disk_usage(p)
        return du.free, du.total
    except OSError:
        return None, None


def _scan_one(cache: Path, problems: list[str]) -> list:
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(cache)
        problems.extend(f"{cache}: {w}" for w in info.warnings)
        return list(info.repos)
    except Exception as e:  # noqa: BLE001 - one unreadable refs file aborts scan_cache_dir as a whole
        whole = e
    try:
        from huggingface_hub.utils._cache_manager import _scan_cached_repo  # private: only a fallback
    except ImportError:
        problems.append(f"could not scan the Hugging Face cache at {cache}: {_why(whole)}")
        return []
    repos = []
    try:
        subs = sorted(p for p in cache.iterdir() if p.is_dir() and "--" in p.name and not p.name.startswith("."))
    except OSError as e2:
        problems.append(f"{cache}: {_why(e2)}")
        return []
    for sub in subs:
        try:
            repos.append(_scan_cached_repo(sub))
        except Exception as e2:  # noqa: BLE001
            problems.append(f"{sub}: {_why(e2)}")
    return repos


def _repo(cache: Path, r) -> Repo:
    # what `main` points at first (what from_pretrained(repo_id) loads), then the newest
    revs = sorted(r.revisions, key=lambda v: ("main" in v.refs, v.last_modified), reverse=True)
    return Repo(cache=str(cache), repo_id=r.repo_id, repo_type=r.repo_type, size=int(r.size_on_disk),
                path=str(r.repo_path), last_modified=float(r.last_modified), last_accessed=float(r.last_accessed),
                owner=_owner(r.repo_path),
                revisions=tuple(Revision(v.commit_hash, tuple(sorted(v.refs)), int(v.size_on_disk),
                                         str(v.snapshot_path), float(v.last_modified), len(v.files))
                                for v in revs))


def _outputs(roots: Iterable[Path], problems: list[str]) -> list[LocalModel]:
    """Adapters (adapter_config.json) and exports (config.json + weights, or a Modelfile) under output dirs."""
    out: list[LocalModel] = []
    seen: set[str] = set()
    for root in roots:
        root = Path(os.path.abspath(root))
        if not root.is_dir():
            continue
        for path, entries in _walk(root, 2, problems):
            names = {e.name for e in entries}
            kind = ""
            if "adapter_config.json" in names:
                kind = "adapter"
            elif "Modelfile" in names or ("config.json" in names and any(
                    n.endswith((".safetensors", ".bin")) for n in names)):
                kind = "export"
            if not kind or str(path) in seen:
                continue
            seen.add(str(path))
            size = 0
            mtime = 0.0
            for e in entries:
                try:
                    st = e.stat()
                except OSError:
                    continue
                if e.is_file():
                    size += st.st_size
                    mtime = max(mtime, st.st_mtime)
            detail = ""
            if kind == "adapter":
                cfg = _read_json(path / "adapter_config.json", str(path / "adapter_config.json"), problems)
                if isinstance(cfg, dict):
                    detail = f"base {cfg.get('base_model_name_or_path') or '?'}"
                    if cfg.get("r") is not None:
                        detail += f" · r={cfg.get('r')}"
            else:
                cfg = _read_json(path / "config.json", str(path / "config.json"), None)
                arch = cfg.get("architectures") if isinstance(cfg, dict) else None
                detail = str(arch[0]) if isinstance(arch, list) and arch else "?"
            out.append(LocalModel(kind, str(path), path.name, size, mtime, _owner(path), detail,
                                  str(path / "Modelfile") if "Modelfile" in names else ""))
    return out


def run_output_dirs(registry) -> list[Path]:
    """output_dir (and export_dir) of every recorded run, from its frozen config."""
    import yaml

    out: list[Path] = []
    try:
        records, _ = registry.all()
    except OSError:
        return out
    for rec in records:
        dirs = [rec.output_dir] if rec.output_dir else []
        try:
            cfg = yaml.safe_load((registry.dir(rec.id) / "config.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            cfg = None
        if isinstance(cfg, dict):
            dirs += [cfg[k] for k in ("output_dir", "export_dir") if isinstance(cfg.get(k), str)]
        base = Path(rec.cwd or ".")
        for d in dirs:
            p = Path(os.path.expanduser(d))
            out.append(p if p.is_absolute() else base / p)
    return list(dict.fromkeys(out))


def scan(environ: Mapping[str, str] | None = None, caches: Sequence[str] = (), dirs: Sequence[str] = (),
         output_dirs: Sequence[Path] = (), runs_env: Sequence[tuple[str, str]] = ()) -> ModelsReport:
    t0 = time.perf_counter()
    rep = ModelsReport()
    for path, source in cache_dirs(environ, caches, runs_env):
        exists = path.is_dir()
        free, total = _free(path)
        rep.caches.append(CacheInfo(str(path), source, exists, free, total))
        if not exists:
            rep.problems.append(f"no Hugging Face cache at {path} ({source})")
            continue
        rep.repos.extend(_repo(path, r) for r in _scan_one(path, rep.problems))
    rep.repos.sort(key=lambda r: (r.repo_type != "model", r.repo_id.lower(), r.cache))
    for d in dirs:
        for c in _local_models(Path(os.path.expanduser(d)), rep.problems):
            size = int(c.get("size") or 0)
            try:
                mtime = os.stat(c.value).st_mtime
            except OSError:
                mtime = 0.0
            rep.local.append(LocalModel("local-model", c.value, c.label, size, mtime, _owner(c.value),
                                        c.get("architecture")))
    rep.local.extend(_outputs(output_dirs, rep.problems))
    rep.took_s = time.perf_counter() - t0
    return rep


# -- deleting a revision ----------------------------------------------------------------------------


@dataclass
class DeletePlan:
    repo_id: str
    commits: tuple[str, ...]
    strategy: object | None  # huggingface_hub's DeleteCacheStrategy
    paths: list[str]  # what goes: snapshots, refs, blobs (or the whole repo folder)
    freed: int
    blocked: list[str]  # why it must not go (empty: it may)

    @property
    def ok(self) -> bool:
        return not self.blocked and self.strategy is not None


def _files_under(paths: Iterable[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            for root, dnames, fnames in os.walk(p):
                out.append(Path(root))
                out.extend(Path(root) / n for n in fnames + [d for d in dnames if os.path.islink(os.path.join(root, d))])
        else:
            out.append(p)
    return out


def open_by_processes(targets: set[str]) -> dict[str, list[str]]:
    """{path: ["pid 123 (python, alice)", ...]} for paths some process has open or mapped. Processes whose
    files cannot be read (another user's, when not root) are not seen."""
    import psutil

    hits: dict[str, list[str]] = {}
    me = os.getpid()
    for p in psutil.process_iter(["pid", "name", "username"]):
        if p.info["pid"] == me:
            continue
        try:
            paths = {f.path for f in p.open_files()}
            try:
                paths |= {m.path for m in p.memory_maps(grouped=True)}
            except (psutil.Error, OSError, NotImplementedError):
                pass
        except (psutil.Error, OSError):
            continue
        for path in paths & targets:
            hits.setdefault(path, []).append(f"pid {p.info['pid']} ({p.info['name']}, {p.info['username']})")
    return hits


def runs_naming(registry, repo_id: str, repo_path: str) -> list[str]:
    """Runs that have not ended whose config names the repo (by id or by a path inside its cache folder)."""
    import yaml

    if registry is None:
        return []
    try:
        records, _ = registry.all()
    except OSError:
        return []
    out = []
    real_repo = os.path.realpath(repo_path)
    for rec in records:
        code, _ = registry.exit_code(rec.id)
        if code is not None or rec.stop_requested_at is not None:
            continue  # ended
        try:
            cfg = yaml.safe_load((registry.dir(rec.id) / "config.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if not isinstance(cfg, dict):
            continue
        for key in ("model_name_or_path", "adapter_name_or_path", "tokenizer_name_or_path"):
            val = cfg.get(key)
            if not isinstance(val, str):
                continue
            for v in val.split(","):
                v = v.strip()
                if v == repo_id or (v.startswith(("/", "~", ".")) and
                                    os.path.realpath(os.path.expanduser(v)).startswith(real_repo + os.sep)):
                    out.append(f"run {rec.name} ({rec.id}) uses it as {key}")
    return out


def plan_delete(cache: str | Path, repo_id: str, commits: Sequence[str], *, repo_type: str = "model",
                registry=None, uid: int | None = None, check_open: bool = True) -> DeletePlan:
    """What deleting these revisions would remove (huggingface_hub's strategy) and why it must not, if so."""
    from huggingface_hub import scan_cache_dir

    uid = os.geteuid() if uid is None else uid
    blocked: list[str] = []
    try:
        info = scan_cache_dir(cache)
    except Exception as e:  # noqa: BLE001
        return DeletePlan(repo_id, tuple(commits), None, [], 0, [f"cannot read the cache {cache}: {_why(e)}"])
    repo = next((r for r in info.repos if r.repo_id == repo_id and r.repo_type == repo_type), None)
    if repo is None:
        return DeletePlan(repo_id, tuple(commits), None, [], 0, [f"{repo_id} is not in {cache}"])
    have = {v.commit_hash for v in repo.revisions}
    missing = [c for c in commits if c not in have]
    if missing:
        return DeletePlan(repo_id, tuple(commits), None, [], 0, [f"no revision {', '.join(missing)} in {repo_id}"])
    strategy = info.delete_revisions(*commits)
    top = [*strategy.repos, *strategy.snapshots, *strategy.refs, *strategy.blobs]
    paths = sorted({str(p) for p in top})
    everything = _files_under([Path(p) for p in top])
    others = sorted({str(p) for p in everything if _uid(p) not in (uid, None)})
    if others:
        owners = sorted({_owner_l(p) for p in others})
        blocked.append(f"{len(others)} of its files belong to {', '.join(owners)}, not to you (first: {others[0]})")
    if check_open:
        targets = {os.path.realpath(p) for p in everything if not Path(p).is_dir()}
        hits = open_by_processes(targets)
        if hits:
            first = next(iter(hits))
            blocked.append(f"{len(hits)} of its files are open ({first} by {', '.join(hits[first][:3])})")
    blocked.extend(runs_naming(registry, repo_id, str(repo.repo_path)))
    return DeletePlan(repo_id, tuple(commits), strategy, paths, int(strategy.expected_freed_size), blocked)


def _uid(p: Path) -> int | None:
    try:
        return os.lstat(p).st_uid
    except OSError:
        return None


def _owner_l(p: str) -> str:
    u = _uid(Path(p))
    return "?" if u is None else owner_name(u)


def execute_delete(plan: DeletePlan) -> None:
    """Run huggingface_hub's strategy; refuses a blocked plan (PermissionError with the reasons)."""
    if not plan.ok:
        raise PermissionError("; ".join(plan.blocked) or "nothing to delete")
    plan.strategy.execute()


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"
