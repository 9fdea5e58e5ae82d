"""Values people copy by hand into LLaMA-Factory YAML configs, found on disk for picker dialogs.

Models (Hugging Face cache and local folders), LoRA adapters, datasets from dataset_info.json,
DeepSpeed configs and chat templates. Nothing here raises on bad input: unreadable folders,
broken JSON and symlink loops become plain-English strings in ``Found.problems``.
huggingface_hub is imported lazily, inside ``models()``, so importing this module stays cheap.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", "wandb", "swanlog"})
MAX_DIRS = 20_000  # directories one walk may visit before it gives up
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json")


@dataclass(frozen=True, slots=True)
class Choice:
    value: str  # what gets written into the YAML
    label: str  # first column shown to the user
    detail: str  # one line of context
    kind: str  # "hf-cache" | "local-model" | "adapter" | "dataset" | "deepspeed" | "template"
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.extra if k == key), default)


@dataclass(frozen=True, slots=True)
class Found:
    choices: tuple[Choice, ...]
    problems: tuple[str, ...] = ()


def human_bytes(n: int) -> str:
    """15.2 GB / 812 MB / 4.0 KB / 512 B (decimal units, like the Hugging Face Hub)."""
    try:
        v = float(n)
    except (TypeError, ValueError):
        v = -1.0
    if not v >= 0:  # negative, NaN or not a number
        return "?"
    if v < 1000:
        return f"{v:.0f} B"
    for unit in ("KB", "MB", "GB", "TB", "PB"):
        v /= 1000
        if v < 999.5 or unit == "PB":
            break
    return f"{v:.1f} {unit}" if v < 99.95 else f"{v:.0f} {unit}"


_WHY = ((FileNotFoundError, "does not exist"), (PermissionError, "permission denied"),
        (NotADirectoryError, "not a folder"), (IsADirectoryError, "is a folder, not a file"),
        (UnicodeDecodeError, "not UTF-8 text"), (RecursionError, "nested too deeply"))


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno == errno.ELOOP:
        return "symlink loop"
    known = next((why for t, why in _WHY if isinstance(e, t)), None)
    return known or (e.strerror if isinstance(e, OSError) else None) or str(e) or type(e).__name__


def _is_dir(p: Path | os.DirEntry) -> bool:
    try:
        return p.is_dir()
    except OSError:  # PermissionError and ELOOP are not swallowed by is_dir() itself
        return False


def _is_file(p: Path | os.DirEntry) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


def _stat(e: os.DirEntry) -> os.stat_result | None:
    try:
        return e.stat()
    except OSError:
        return None


def _walk(root: Path, max_depth: int, problems: list[str]) -> Iterator[tuple[Path, list[os.DirEntry]]]:
    """Depth-first (sorted) walk that follows symlinks but visits each real folder once."""
    seen: set[tuple[int, int]] = set()
    stack = [(root, 0)]
    while stack:
        path, depth = stack.pop()
        try:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) in seen:
                continue  # a symlink back into the tree, or two links to one folder
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {_why(e)}")
            continue
        if len(seen) > MAX_DIRS:
            problems.append(f"{root}: stopped after {MAX_DIRS:,} folders; pick a narrower folder")
            return
        yield path, entries
        if depth < max_depth:
            for e in reversed(entries):
                if not e.name.startswith(".") and e.name not in SKIP_DIRS and _is_dir(e):
                    stack.append((path / e.name, depth + 1))


def _read_json(path: Path, shown: str, problems: list[str] | None, max_bytes: int = 8_000_000) -> object:
    """Parsed JSON, or None (with a problem appended when `problems` is given)."""
    try:
        if os.path.getsize(path) > max_bytes:
            raise ValueError(f"larger than {human_bytes(max_bytes)}, not read")
        with open(path, "rb") as f:
            return json.loads(f.read())
    except json.JSONDecodeError as e:
        why = f"line {e.lineno} column {e.colno}: {e.msg}"
    except (OSError, ValueError, RecursionError) as e:
        why = _why(e)
    if problems is not None:
        problems.append(f"{shown}: {why}")
    return None



def hf_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, then $XDG_CACHE_HOME or ~/.cache /huggingface/hub."""
    env = os.environ if environ is None else environ
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return Path(os.path.expanduser(env[key]))
    if env.get("HF_HOME"):
        return Path(os.path.expanduser(env["HF_HOME"])) / "hub"
    base = env.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(os.path.expanduser(base)) / "huggingface" / "hub"


def _scan_hf(cache: Path, problems: list[str]) -> list:
    """Model repos from scan_cache_dir; if one unreadable repo breaks the whole scan, go repo by repo."""
    try:
        from huggingface_hub import scan_cache_dir
    except ImportError as e:
        problems.append(f"huggingface_hub is not importable ({e}); the Hugging Face cache was not read")
        return []
    try:
        info = scan_cache_dir(cache)
        repos, warnings = list(info.repos), [str(w) for w in info.warnings]
    except Exception as e:  # noqa: BLE001 - e.g. OSError from one unreadable refs file aborts the whole scan
        try:
            # private, and only a fallback
            from huggingface_hub.utils._cache_manager import _scan_cached_repo
        except ImportError:
            problems.append(f"could not scan the Hugging Face cache at {cache}: {_why(e)}")
            return []
        repos, warnings = [], []
        try:
            subs = sorted(p for p in cache.iterdir() if p.name.startswith("models--"))
        except OSError as e2:
            subs, warnings = [], [f"{cache}: {_why(e2)}"]
        for sub in subs:
            try:
                repos.append(_scan_cached_repo(sub))
            except Exception as e2:  # noqa: BLE001
                warnings.append(f"{sub}: {_why(e2)}")
    sep = os.sep
    problems.extend(f"Hugging Face cache: {w}" for w in warnings
                    if f"{sep}datasets--" not in w and f"{sep}spaces--" not in w)
    return [r for r in repos if r.repo_type == "model"]


def _local_models(root: Path, problems: list[str]) -> Iterator[Choice]:
    for path, entries in _walk(Path(os.path.abspath(root)), 2, problems):
        files = {e.name for e in entries if _is_file(e)}
        weights = [n for n in files if n.endswith(_WEIGHT_SUFFIXES)]
        if "config.json" not in files or not weights:
            continue
        size = sum(st.st_size for e in entries if e.name in weights and (st := _stat(e)))
        cfg = _read_json(path / "config.json", str(path / "config.json"), None)
        arch = cfg.get("architectures") if isinstance(cfg, dict) else None
        arch_s = str(arch[0]) if isinstance(arch, list) and arch else "?"
        yield Choice(str(path), path.name or str(path), f"{arch_s} · {human_bytes(size)} · {path}", "local-model",
                     (("size", str(size)), ("architecture", arch_s)))


def models(environ: Mapping[str, str] | None = None, extra_dirs: Sequence[Path] = ()) -> Found:
    """Model repos in the Hugging Face cache, then local model folders (depth <= 2) under `extra_dirs`."""
    choices: list[Choice] = []
    problems: list[str] = []
    cache = hf_cache_dir(environ)
    if not _is_dir(cache):
        problems.append(f"no Hugging Face cache at {cache}")
        repos = []
    else:
        repos = _scan_hf(cache, problems)
    for repo in sorted(repos, key=lambda r: r.repo_id.lower()):
        revs = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
        if not revs:  # an empty snapshots/ folder
            choices.append(Choice(repo.repo_id, repo.repo_id, f"no downloaded revision · {repo.repo_path}",
                                  "hf-cache"))
            continue
        rev = revs[0]
        refs = ",".join(sorted(rev.refs)) or "(no ref)"
        older = f" (+{len(revs) - 1} older)" if len(revs) > 1 else ""
        detail = f"{refs} · {rev.commit_hash[:7]}{older} · {human_bytes(rev.size_on_disk)} · {rev.snapshot_path}"
        choices.append(Choice(repo.repo_id, repo.repo_id, detail, "hf-cache",
                              (("snapshot", str(rev.snapshot_path)), ("size", str(rev.size_on_disk)),
                               ("revision", rev.commit_hash), ("refs", refs), ("revisions", str(len(revs))))))
    for d in extra_dirs:
        choices.extend(_local_models(Path(d), problems))
    return Found(tuple(choices), tuple(problems))



def adapters(roots: Sequence[Path], max_depth: int = 4, limit: int = 500) -> Found:
    """Folders holding adapter_config.json (LoRA outputs and their checkpoint-N), newest first."""
    found: list[tuple[float, Choice]] = []
    problems: list[str] = []
    for root in roots:
        root = Path(os.path.abspath(root))
        for path, entries in _walk(root, max_depth, problems):
            if not any(e.name == "adapter_config.json" and _is_file(e) for e in entries):
                continue
            if len(found) >= limit:
                problems.append(f"stopped after {limit} adapters; pick a narrower folder")
                break
            mtime = max((st.st_mtime for e in entries if e.name.startswith("adapter_") and (st := _stat(e))),
                        default=0.0)
            cfg = _read_json(path / "adapter_config.json", str(path / "adapter_config.json"), problems)
            cfg = cfg if isinstance(cfg, dict) else {}
            extra = [(k, str(cfg[k])) for k in ("base_model_name_or_path", "peft_type", "r", "lora_alpha")
                     if cfg.get(k) is not None]
            parts = [str(cfg.get("base_model_name_or_path") or "base model ?")]
            parts += [f"{k}={cfg[k]}" for k in ("r", "lora_alpha") if cfg.get(k) is not None]
            parts.append(time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime)) if mtime else "?")
            rel = os.path.relpath(path, root)
            label = root.name if rel == "." else rel
            found.append((mtime, Choice(str(path), label, " · ".join(parts), "adapter",
                                        (*extra, ("modified", parts[-1]), ("root", str(root))))))
        else:
            continue
        break  # the limit was hit
    found.sort(key=lambda t: (-t[0], t[1].label))
    return Found(tuple(c for _, c in found), tuple(problems))



def _load_info(dataset_dir: Path, problems: list[str]) -> dict | None:
    path = Path(dataset_dir) / "dataset_info.json"
    if not _is_file(path) and not _is_dir(path):
        where = "" if _is_dir(Path(dataset_dir)) else " (the folder does not exist or cannot be read)"
        problems.append(f"no dataset_info.json in {dataset_dir}{where}")
        return None
    data = _read_json(path, "dataset_info.json", problems, max_bytes=64_000_000)
    if data is not None and not isinstance(data, dict):
        problems.append("dataset_info.json: expected an object {name: {...}} at the top level")
        return None
    return data


def dataset_names(dataset_dir: Path) -> dict[str, bool] | None:
    """{name: ranking} from dataset_info.json without counting rows; None when it cannot be read."""
    info = _load_info(dataset_dir, [])
    if info is None:
        return None
    return {name: bool(spec.get("ranking", False)) for name, spec in info.items() if isinstance(spec, dict)}


def _count_rows(path: Path, max_bytes: int, problems: list[str], name: str) -> int | None:
    """Rows in a local data file or folder (the folder's files, not recursive); None when unknown."""
    if _is_dir(path):
        try:
            subs = sorted(p for p in path.iterdir() if not p.name.startswith(".") and _is_file(p))
        except OSError as e:
            problems.append(f"{name}: {path}: {_why(e)}")
            return None
        counts = [_count_rows(p, max_bytes, problems, name) for p in subs]
        return sum(counts) if subs and None not in counts else None  # type: ignore[arg-type]
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            with open(path, "rb") as f:
                return sum(1 for line in f if line.strip())
        if suffix == ".json" and os.path.getsize(path) <= max_bytes:
            import orjson

            with open(path, "rb") as f:
                data = orjson.loads(f.read())
            return len(data) if isinstance(data, list) else None
    except json.JSONDecodeError as e:  # orjson.JSONDecodeError is a subclass
        problems.append(f"{name}: {path.name}: line {e.lineno} column {e.colno}: {e.msg}")
    except (OSError, ValueError, RecursionError, ImportError) as e:
        problems.append(f"{name}: {path.name}: {_why(e)}")
    return None


_SOURCES = (("hf_hub_url", "hf"), ("ms_hub_url", "ms"), ("om_hub_url", "om"), ("script_url", "script"),
            ("cloud_file_name", "cloud"), ("file_name", "file"))  # LLaMA-Factory's order of precedence


def datasets(dataset_dir: Path, count_rows: bool = True, max_bytes_for_rows: int = 200_000_000) -> Found:
    """One Choice per entry of dataset_dir/dataset_info.json (LLaMA-Factory's dataset registry)."""
    problems: list[str] = []
    info = _load_info(dataset_dir, problems)
    choices: list[Choice] = []
    for name, spec in sorted((info or {}).items()):
        if not isinstance(spec, dict):
            problems.append(f"dataset_info.json: {name!r} is not an object")
            continue
        fmt = str(spec.get("formatting") or "alpaca")
        ranking = bool(spec.get("ranking", False))
        key, source = next(((k, s) for k, s in _SOURCES if spec.get(k)), ("", "?"))
        target = str(spec.get(key, ""))
        extra = [("formatting", fmt), ("ranking", "yes" if ranking else "no"), ("source", source)]
        parts = [fmt] + (["ranking"] if ranking else [])
        if source == "file":
            local = Path(dataset_dir) / target
            extra.append(("file", target))
            if not os.path.lexists(local) or not (_is_file(local) or _is_dir(local)):
                problems.append(f"{name}: {target} not found in {dataset_dir}")
                parts += ["file missing", target]
                extra.append(("rows", "?"))
            else:
                rows = _count_rows(local, max_bytes_for_rows, problems, name) if count_rows else None
                extra.append(("rows", "?" if rows is None else str(rows)))
                parts += ["? rows" if rows is None else f"{rows:,} row{'' if rows == 1 else 's'}", target]
        elif source == "?":
            problems.append(f"{name}: no file_name, hf_hub_url, ms_hub_url, script_url or cloud_file_name")
            parts.append("no source")
        else:
            extra.append(("url", target))
            parts.append(f"{source}: {target}")
        for sub in ("columns", "tags"):
            if isinstance(spec.get(sub), dict) and spec[sub]:
                extra.append((sub, ", ".join(f"{k}={v}" for k, v in spec[sub].items())))
        if spec.get("split"):
            extra.append(("split", str(spec["split"])))
        choices.append(Choice(name, name, " · ".join(parts), "dataset", tuple(extra)))
    return Found(tuple(choices), tuple(problems))



def _ds_detail(cfg: dict) -> str:
    zero = cfg.get("zero_optimization")
    parts = [f"ZeRO-{zero.get('stage', '?')}" if isinstance(zero, dict) else "no zero_optimization"]
    if isinstance(zero, dict):
        for key, what in (("offload_optimizer", "optimizer"), ("offload_param", "params")):
            dev = zero[key].get("device") if isinstance(zero.get(key), dict) else None
            if dev and dev != "none":
                parts.append(f"offload {what}: {dev}")
    for prec in ("bf16", "fp16"):
        if isinstance(cfg.get(prec), dict):
            parts.append(f"{prec}: {cfg[prec].get('enabled', '?')}")
            break
    return " · ".join(parts)


def deepspeed_configs(near: Sequence[Path], extra_dirs: Sequence[Path] = ()) -> Found:
    """DeepSpeed JSON configs in (and up to two levels below) the given folders; a file stands for its folder."""
    seen: set[str] = set()
    choices: list[Choice] = []
    problems: list[str] = []
    for d in (*near, *extra_dirs):
        d = Path(os.path.abspath(d))
        if _is_file(d) or (d.suffix and not _is_dir(d) and _is_dir(d.parent)):  # a (maybe new) config file
            d = d.parent
        for path, entries in _walk(d, 2, problems):
            for e in entries:
                if not e.name.lower().endswith(".json") or not _is_file(e):
                    continue
                full = path / e.name
                real = os.path.realpath(full)
                if real in seen:
                    continue
                low = e.name.lower()
                named = low.startswith("ds_") or "deepspeed" in low or "zero" in low
                if not named:  # only peek into other JSON files, and say nothing if they are broken
                    try:
                        with open(full, "rb") as f:
                            if b"zero_optimization" not in f.read(1_000_000):
                                continue
                    except OSError:
                        continue
                seen.add(real)  # also when broken: say so once
                cfg = _read_json(full, str(full), problems if named else None)
                if not isinstance(cfg, dict) or not (named or "zero_optimization" in cfg):
                    continue
                detail = _ds_detail(cfg)
                choices.append(Choice(str(full), e.name, f"{detail} · {path}", "deepspeed",
                                      (("summary", detail),)))
    choices.sort(key=lambda c: (c.label, c.value))
    return Found(tuple(choices), tuple(problems))


def templates(choices: Sequence[str]) -> Found:
    names = sorted({str(c) for c in choices if c and isinstance(c, str)})
    return Found(tuple(Choice(n, n, "", "template") for n in names))
