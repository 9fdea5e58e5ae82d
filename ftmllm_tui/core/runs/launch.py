"""Build a run: argv, environment, GPUs, ports, and the pre-flight checks that save hours.

``prepare()`` is pure (no process is started): the launch dialog shows its result — the exact
command, the environment, and every problem with its fix — before anything runs. ``start()``
writes the record and starts the runner in tmux.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ftmllm_tui.core.runs.registry import ALL_KINDS, Registry, RunRecord, new_run_id, sanitize
from ftmllm_tui.core.gpus.snapshot import Snapshot
from ftmllm_tui.core.gpus.summary import FreeRule, is_free
from ftmllm_tui.core.runs.tmux import Tmux, TmuxError, session_name

WEB_KINDS = {"webchat": "GRADIO_SERVER_PORT", "webui": "GRADIO_SERVER_PORT", "api": "API_PORT",
             "swanlab": None}
NEEDS_CONFIG = set(ALL_KINDS) - {"webui"}


@dataclass(frozen=True)
class Problem:
    level: str  # "error" blocks the launch; "warning" does not
    message: str
    fix: str = ""
    where: str = "config"  # "config": the request is bad; "env": this machine lacks something

    def __str__(self) -> str:
        return self.message + (f" — {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class LaunchRequest:
    config: Path | None
    kind: str = "train"
    gpus: str = "auto"  # "auto", "auto:N", "none", or "0,1"
    name: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # --env K=V
    cwd: Path | None = None
    allow_busy: bool = False  # start even on GPUs with other users' processes
    stop_and_save: bool = True  # train runs: LLAMABOARD_ENABLED so SIGABRT stops at the next step
    overrides: tuple[tuple[str, str], ...] = ()  # one-off key=value changes to the frozen copy (file untouched)
    reuse_output_dir: bool = False  # write into an output_dir another recorded run used (confirmed by the user)


@dataclass(frozen=True)
class Prepared:
    request: LaunchRequest
    run_id: str
    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # added to the user's environment
    secret_env: tuple[str, ...]  # passed through from the user's environment (values not shown)
    gpus: tuple[int, ...] | None
    config_text: str | None
    config: dict[str, Any] = field(default_factory=dict)
    output_dir: str | None = None
    port: int | None = None
    url: str | None = None
    ssh_hint: str | None = None
    problems: tuple[Problem, ...] = ()
    estimate: Any = None  # core.estimate.Estimate, or why it cannot be made (str), or None (see core/runs/fit.py)

    @property
    def ok(self) -> bool:
        return not any(p.level == "error" for p in self.problems)

    def command_line(self) -> str:
        """What one would type (copyable): env additions, then the command."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        return f"{env} {shlex.join(self.argv)}".strip()


def training_only_keys() -> frozenset[str]:
    data = json.loads(resources.files("ftmllm_tui.data").joinpath("lf_arg_groups.json").read_text())
    groups = data["groups"]
    training = set(groups.get("TrainingArguments", []))
    others = set().union(*(set(v) for k, v in groups.items() if k != "TrainingArguments"))
    return frozenset(training - others)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_gpus(spec: str) -> tuple[str, int | tuple[int, ...] | None]:
    """("auto", n) / ("none", None) / ("list", (0, 1)); raises ValueError with a clear message."""
    spec = spec.strip().lower()
    if spec in ("none", "cpu", ""):
        return "none", None
    if spec.startswith("auto"):
        n = 1
        if ":" in spec:
            try:
                n = int(spec.split(":", 1)[1])
            except ValueError:
                raise ValueError(f"--gpus {spec!r}: write auto:N, e.g. auto:2") from None
        if n < 1:
            raise ValueError("--gpus auto:N needs N ≥ 1")
        return "auto", n
    try:
        ids = tuple(int(x) for x in spec.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--gpus {spec!r}: use auto, auto:N, none, or indices like 0,1") from None
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise ValueError(f"--gpus {spec!r}: indices must be distinct and ≥ 0")
    return "list", ids


def pick_gpus(snapshot: Snapshot, n: int, rule: FreeRule) -> tuple[tuple[int, ...], str | None]:
    """The ``n`` freest free GPUs, or a reason why there are not enough."""
    free = [g for g in snapshot.gpus if is_free(g, rule)]
    free.sort(key=lambda g: (g.memory_used_bytes or 0, g.utilization_pct or 0, g.index))
    if len(free) >= n:
        return tuple(sorted(g.index for g in free[:n])), None
    busy = []
    for g in snapshot.gpus:
        if g in free:
            continue
        users = sorted({r.user for r in snapshot.processes if r.gpu_index == g.index})
        why = g.error or (f"used by {', '.join(users)}" if users else
                          f"{(g.memory_used_bytes or 0) / 2**30:.1f} GiB in use, {g.utilization_pct}% busy")
        busy.append(f"GPU {g.index}: {why}")
    return (), (f"{n} free GPU{'s' if n != 1 else ''} wanted, {len(free)} free"
                + (f" ({'; '.join(busy)})" if busy else ""))


def cli_argv(llamafactory_cli: str) -> list[str]:
    return shlex.split(llamafactory_cli) or ["llamafactory-cli"]


def find_program(argv0: str, env: dict[str, str]) -> str | None:
    return shutil.which(argv0, path=env.get("PATH"))


def prepare(req: LaunchRequest, *, llamafactory_cli: str = "llamafactory-cli",
            settings_env: tuple[tuple[str, str], ...] = (), pass_env: tuple[str, ...] = (),
            snapshot: Snapshot | None = None, free_rule: FreeRule = FreeRule(),
            environ: dict[str, str] | None = None, me: str | None = None,
            now: float | None = None, schema: Any = None, registry: Registry | None = None) -> Prepared:
    environ = dict(os.environ if environ is None else environ)
    problems: list[Problem] = []
    kind = req.kind
    if kind not in ALL_KINDS:
        problems.append(Problem("error", f"unknown kind {kind!r}", f"use one of {', '.join(ALL_KINDS)}"))
    cfg: dict[str, Any] = {}
    text = None
    cfg_path = None
    if req.config is not None:
        cfg_path = Path(req.config).expanduser()
        if not cfg_path.is_absolute():
            cfg_path = (req.cwd or Path.cwd()) / cfg_path
        try:
            text = cfg_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(Problem("error", f"config not found: {cfg_path}", "check the path"))
        except IsADirectoryError:
            problems.append(Problem("error", f"{cfg_path} is a directory", "give a .yaml file"))
        except UnicodeDecodeError:
            from ftmllm_tui.core.configs import textenc

            scan = textenc.scan(cfg_path.read_bytes().decode("utf-8", "surrogateescape"))
            first = scan.problems[0] if scan.problems else None
            problems.append(Problem("error", f"{cfg_path}: {first.message if first else 'not UTF-8'}",
                                    first.hint if first else "re-save it as UTF-8"))
        except PermissionError as e:
            problems.append(Problem("error", f"cannot read {cfg_path}: {e}"))
        if text is not None and req.overrides:
            from ftmllm_tui.core.configs.cfgfile import ConfigFileError, set_keys

            try:
                text = set_keys(text, dict(req.overrides))
            except ConfigFileError as e:
                problems.append(Problem("error", f"overrides: {e}", "write them as key=value"))
        if text is not None:
            import yaml

            try:
                loaded = yaml.safe_load(text)
                if loaded is None:
                    loaded = {}
                if not isinstance(loaded, dict):
                    problems.append(Problem("error", f"{cfg_path} is not a YAML mapping of keys"))
                else:
                    cfg = loaded
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                problems.append(Problem("error", f"{cfg_path}: YAML syntax error{where}: "
                                        f"{getattr(e, 'problem', e)}", "fix the file and launch again"))
    elif kind in NEEDS_CONFIG:
        problems.append(Problem("error", f"{kind} needs a config file"))

    name = sanitize(req.name or (cfg_path.stem if cfg_path else kind))
    run_id = new_run_id(name, now)

    # GPUs
    gpus: tuple[int, ...] | None = None
    try:
        mode, val = parse_gpus(req.gpus)
    except ValueError as e:
        problems.append(Problem("error", str(e)))
        mode, val = "none", None
    if mode == "auto":
        if snapshot is None or not snapshot.gpus:
            problems.append(Problem("error", "no GPUs are visible here (no NVIDIA driver?)",
                                    "use --gpus none for a CPU run, or run on the GPU host", "env"))
        else:
            picked, why = pick_gpus(snapshot, int(val), free_rule)  # type: ignore[arg-type]
            if why:
                problems.append(Problem("error", f"not enough free GPUs: {why}",
                                        "pick GPUs explicitly (--gpus 0,1) or wait"))
            gpus = picked or None
    elif mode == "list":
        gpus = val  # type: ignore[assignment]
        if snapshot is not None and snapshot.gpus:
            known = {g.index for g in snapshot.gpus}
            missing = [i for i in gpus if i not in known]
            if missing:
                problems.append(Problem("error", f"no GPU {', '.join(map(str, missing))} on this host",
                                        f"GPUs here: {', '.join(map(str, sorted(known)))}"))
            mine = me
            for i in gpus:
                others = sorted({r.user for r in snapshot.processes
                                 if r.gpu_index == i and r.user != mine})
                if others:
                    lvl = "warning" if req.allow_busy else "error"
                    problems.append(Problem(lvl, f"GPU {i} is in use by {', '.join(others)}",
                                            "pick another GPU, or start anyway (--allow-busy)"))

    # environment
    env: dict[str, str] = {}
    env.update(dict(settings_env))
    env["FTMLLM_RUN_ID"] = run_id
    env["PYTHONUNBUFFERED"] = "1"
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        if len(gpus) > 1:
            env["FORCE_TORCHRUN"] = "1"
    elif mode == "none":
        env["CUDA_VISIBLE_DEVICES"] = ""
    output_dir = cfg.get("output_dir") if isinstance(cfg.get("output_dir"), str) else None
    if kind == "train" and req.stop_and_save and output_dir:
        env["LLAMABOARD_ENABLED"] = "1"
        env["LLAMABOARD_WORKDIR"] = output_dir
    port = url = ssh_hint = None
    if kind in WEB_KINDS:
        port = free_port()
        if WEB_KINDS[kind]:
            env[WEB_KINDS[kind]] = str(port)
        host = socket.gethostname()
        url = f"http://localhost:{port}" + ("/docs" if kind == "api" else "")
        ssh_hint = f"ssh -L {port}:localhost:{port} {environ.get('USER', 'you')}@{host}"
    for k, v in req.env:
        env[k] = v
    secret_env = tuple(k for k in pass_env if environ.get(k))

    # the command
    base = cli_argv(llamafactory_cli)
    argv = [*base, kind]
    if kind in NEEDS_CONFIG and cfg_path is not None:
        argv.append("{config}")  # replaced by the frozen copy's path at start
    if kind == "swanlab":  # the config's local SwanLab logs, served on a free port
        base, argv = _swanlab_argv(base, cfg, port, environ, req.cwd, problems)
    run_env = dict(environ)
    run_env.update(env)
    if kind == "swanlab":
        pass
    elif find_program(base[0], run_env) is None:
        problems.append(Problem(
            "error", f"{base[0]} not found" + (" on PATH" if "/" not in base[0] else ""),
            "activate the training environment, or set runs.llamafactory_cli (e.g. "
            "'conda run --no-capture-output -n ENV llamafactory-cli') or --llamafactory-cli", "env"))
    elif gpus is not None and len(gpus) > 1 and base[0].endswith("llamafactory-cli"):
        cli_dir = Path(find_program(base[0], run_env) or "").parent
        if shutil.which("torchrun", path=f"{cli_dir}{os.pathsep}{run_env.get('PATH', '')}") is None:
            problems.append(Problem("error", "torchrun not found: a multi-GPU run needs it",
                                    f"put {cli_dir} first on PATH (activate the environment)", "env"))

    elif kind == "swanlab":
        pass  # _swanlab_argv said what is missing
    # pre-flight on the config itself
    if registry is not None and output_dir and kind == "train":
        resuming = bool(cfg.get("resume_from_checkpoint"))  # continuing a run in its own output_dir is the point
        problems += output_dir_taken(output_dir, req.cwd, registry, reuse=req.reuse_output_dir or resuming)
    problems += check_config(kind, cfg, environ=environ, env=env, checked=schema is not None)
    if schema is not None and text is not None and cfg and kind in LF_COMMANDS:
        problems += validated(text, kind, schema, cfg_path, req.cwd, overrides=req.overrides)
    est = _memory_preflight(cfg, kind, gpus, snapshot, cfg_path, req.cwd, environ, problems)
    return Prepared(request=replace(req, config=cfg_path), run_id=run_id, name=name,
                    argv=tuple(argv), env=tuple(sorted(env.items())), secret_env=secret_env,
                    gpus=gpus, config_text=text, config=cfg, output_dir=output_dir, port=port,
                    url=url, ssh_hint=ssh_hint, problems=tuple(problems), estimate=est)


def _memory_preflight(cfg, kind, gpus, snapshot, cfg_path, cwd, environ, problems: list[Problem]) -> Any:
    """The memory estimate; a warning (never a block) for each chosen GPU it will not fit in."""
    from ftmllm_tui.core.runs.fit import advice, estimate_config, fit_report, free_memory

    chosen = free_memory(snapshot, gpus) if gpus else []
    est = estimate_config(cfg, kind=kind, gpus=len(gpus) if gpus else 1, cfg_path=cfg_path, cwd=cwd,
                          environ=environ, gpu_total_bytes=min((t for _, _, t in chosen), default=None))
    if est is None or isinstance(est, str) or not chosen:
        return est
    bad = [line for ok, line in fit_report(est, chosen) if not ok]
    if bad:
        budget = min(f for _, f, _ in chosen)
        fixes = advice(cfg, est, budget, cfg_path=cfg_path, cwd=cwd, environ=environ)
        problems.append(Problem("warning", "; ".join(bad) + " (the estimate: README, Memory estimate)",
                                "would fit: " + " · ".join(fixes) if fixes else "", "memory"))
    return est


def _resolved(path: str, cwd: str | Path | None) -> str:
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(cwd or Path.cwd()) / p
    return os.path.realpath(p)


def output_dir_taken(output_dir: str, cwd: Path | None, registry: Registry, *, reuse: bool = False
                     ) -> list[Problem]:
    """An output_dir that another recorded run (running or not) wrote to: an error unless `reuse` (then a
    warning). Two runs in one output_dir overwrite each other's checkpoints, logs and adapters."""
    mine = _resolved(output_dir, cwd)
    records, _ = registry.all()
    owners = [r for r in records if r.output_dir and r.kind == "train" and _resolved(r.output_dir, r.cwd) == mine]
    if not owners:
        return []
    shown = []
    for r in owners[:3]:
        code, _ = registry.exit_code(r.id)
        shown.append(f"{r.id} ({'still running or lost' if code is None else f'ended, exit {code}'})")
    more = f" and {len(owners) - 3} more" if len(owners) > 3 else ""
    which = "run" if len(owners) == 1 else "runs"
    msg = f"output_dir {output_dir} belongs to {which} {', '.join(shown)}{more}: this run would write into it"
    if reuse:
        return [Problem("warning", msg + " (reused on purpose)", where="output_dir")]
    return [Problem("error", msg, "set another one (Set / --set output_dir=…), or reuse it on purpose "
                    "(the dialog's Start asks; --reuse-output-dir on the command line)", where="output_dir")]


def _swanlab_argv(cli_base: list[str], cfg: dict[str, Any], port: int | None, environ: dict[str, str],
                  cwd: Path | None, problems: list[Problem]) -> tuple[list[str], list[str]]:
    """`swanlab watch LOGDIR -p PORT`, with swanlab from the training environment when found."""
    logdir = cfg.get("swanlab_logdir") if isinstance(cfg.get("swanlab_logdir"), str) else "swanlog"
    path = Path(logdir).expanduser()
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    if not cfg.get("use_swanlab"):
        problems.append(Problem("warning", "the config does not set use_swanlab: true"))
    if not path.is_dir():
        problems.append(Problem("error", f"no SwanLab logs at {path} yet",
                                "set swanlab_mode: local (and swanlab_logdir) and start training first"))
    # prefer the swanlab next to llamafactory-cli (same environment), else PATH
    found = find_program(cli_base[0], environ)
    candidates = [str(Path(found).parent / "swanlab")] if found else []
    swan = next((c for c in candidates if Path(c).exists()), None) or find_program("swanlab", environ)
    if swan is None:
        problems.append(Problem("error", "swanlab not found in the training environment",
                                "pip install 'swanlab[dashboard]' there", "env"))
        swan = "swanlab"
    argv = [swan, "watch", str(path), "-p", str(port)]
    return [swan], argv


LF_COMMANDS = ("train", "chat", "webchat", "api", "export", "eval")


def validated(text: str, kind: str, schema: Any, path: Path | None, cwd: Path | None,
              overrides: tuple[tuple[str, str], ...] = ()) -> list[Problem]:
    """The offline validator's errors and warnings (lfvalidate) as launch problems. A key set with --set / Set
    is named as such (it has no line in the file; appended, it would be "line 65 of a 64-line file"); keys the
    sub-command does not take are one problem per argument group ("22 keys are training arguments ..."),
    not one each."""
    import re

    from ftmllm_tui.core.configs.lfvalidate import validate

    report = validate(text, schema=schema, path=path, command=kind, workdir=cwd)
    given = dict(overrides)
    out = []
    wrong: dict[str, list[str]] = {}  # argument group words ("training") → keys `kind` does not take
    suggest: dict[str, str] = {}
    for f in report.findings:
        if f.severity not in ("error", "warning"):
            continue
        if f.code == "wrong-command" and f.key:
            m = re.search(r" is an? (.+?) argument: ", f.message)
            words = m.group(1) if m else "other"
            wrong.setdefault(words, []).append(f.key + (" (--set)" if f.key in given else ""))
            if m2 := re.search(r"open this with (\w+)", f.hint):
                suggest[words] = m2.group(1)
            continue
        if f.key in given:
            where = f"{f.key}={given[f.key]} (from --set / Set, not the file): "
        else:
            where = f"line {f.line}: " if f.line else ""
        out.append(Problem(f.severity, f"{where}{f.message}", f.hint))
    for words, keys in wrong.items():
        other = suggest.get(words, "train")
        many = len(keys) > 1
        out.insert(0, Problem(
            "error", f"{len(keys)} key{'s are' if many else ' is a'} {words} argument{'s' if many else ''} that "
            f"`{kind}` does not take: {', '.join(keys)} (LLaMA-Factory would stop with 'Some keys are not used')",
            f"is this a {other} config? launch it as {other} (--kind {other}), or remove {'them' if many else 'it'}"))
    return out


def check_config(kind: str, cfg: dict[str, Any], *, environ: dict[str, str],
                 env: dict[str, str], checked: bool = False) -> list[Problem]:
    out: list[Problem] = []
    if not cfg:
        return out
    if kind in ("chat", "webchat", "api", "export") and not checked:
        train_keys = sorted(k for k in cfg if k in training_only_keys())
        if train_keys:
            out.append(Problem(
                "error", f"this looks like a training config ({', '.join(train_keys[:5])}"
                f"{'…' if len(train_keys) > 5 else ''}): {kind} takes model, data, finetuning and "
                "generating arguments only and would stop with 'Some keys are not used'",
                "use an inference config, or launch it with train"))
    if kind == "train":
        swan = cfg.get("use_swanlab") is True
        mode = str(cfg.get("swanlab_mode", "cloud"))
        if swan and mode == "cloud" and not (environ.get("SWANLAB_API_KEY") or env.get("SWANLAB_API_KEY")):
            out.append(Problem(
                "error", "use_swanlab with swanlab_mode cloud and no SWANLAB_API_KEY: the run would wait "
                "forever on SwanLab's login prompt inside tmux",
                "export SWANLAB_API_KEY in your shell (it is passed on, never written to disk), or set "
                "swanlab_mode: local"))
        out_dir = cfg.get("output_dir")
        if isinstance(out_dir, str) and not cfg.get("overwrite_output_dir"):
            p = Path(out_dir).expanduser()
            try:
                non_empty = p.is_dir() and any(p.iterdir())
            except OSError:
                non_empty = False
            if non_empty:
                out.append(Problem(
                    "error", f"output_dir {out_dir} exists and is not empty: LLaMA-Factory would resume "
                    "from its last checkpoint or refuse to start",
                    "set overwrite_output_dir: true, choose another output_dir, or set "
                    "resume_from_checkpoint to resume on purpose"))
        if not isinstance(out_dir, str):
            out.append(Problem("warning", "no output_dir in the config: progress and loss cannot be "
                               "followed", "add output_dir"))
    return out


# -- starting ------------------------------------------------------------------------------------------

def runtime_dir() -> Path:
    """Per-user tmpfs for the launch environment (secrets): $XDG_RUNTIME_DIR or /dev/shm."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir() and os.access(base, os.W_OK):
        d = Path(base) / "ftmllm-tui"
    elif Path("/dev/shm").is_dir():
        d = Path("/dev/shm") / f"ftmllm-tui-{os.getuid()}"
    else:  # pragma: no cover - no tmpfs at all
        d = Path(tempfile.gettempdir()) / f"ftmllm-tui-{os.getuid()}"
    d.mkdir(mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    return d


class LaunchError(RuntimeError):
    pass


def start(prep: Prepared, registry: Registry, tmux: Tmux, *, environ: dict[str, str] | None = None,
          python: str | None = None, wait_s: float = 10.0) -> RunRecord:
    """Write the record, start the runner in a new tmux session, wait until it runs."""
    if not prep.ok:
        raise LaunchError("; ".join(str(p) for p in prep.problems if p.level == "error"))
    environ = dict(os.environ if environ is None else environ)
    run_dir = registry.dir(prep.run_id)
    cfg_copy = str(run_dir / "config.yaml")
    argv = tuple(cfg_copy if a == "{config}" else a for a in prep.argv)
    req = prep.request
    record = RunRecord(
        id=prep.run_id, name=prep.name, kind=req.kind,
        config=str(req.config) if req.config else None, argv=argv, env=prep.env,
        secret_env=prep.secret_env, gpus=prep.gpus, cwd=str(req.cwd or Path.cwd()),
        user=_me(), host=socket.gethostname(), tmux_socket=tmux.socket_name or "",
        tmux_session=session_name(prep.run_id), created_at=time.time(), output_dir=prep.output_dir,
        port=prep.port, url=prep.url, overrides=req.overrides, user_env=req.env)
    registry.create(record, prep.config_text)
    # the launching environment (with secrets) goes through tmpfs, read and deleted by the runner
    env_file = runtime_dir() / f"{prep.run_id}.env.json"
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"env": environ}, f)
    cmd = [python or sys.executable, "-m", "ftmllm_tui.core.runs.runner", str(run_dir), str(env_file)]
    try:
        tmux.new_session(record.tmux_session, cmd, cwd=record.cwd, run_id=record.id)
    except TmuxError:
        env_file.unlink(missing_ok=True)
        raise
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        if registry.runner(record.id) is not None or (run_dir / "exit_code").exists():
            break
        time.sleep(0.02)
    else:
        env_file.unlink(missing_ok=True)
        alive = tmux.has_session(record.tmux_session)
        raise LaunchError(f"the run did not start within {wait_s:g} s "
                          f"(tmux session {'alive' if alive else 'gone'}; see {run_dir}/console.log)")
    return record


def _me() -> str:
    from ftmllm_tui.core.gpus.processes import current_user

    return current_user()
