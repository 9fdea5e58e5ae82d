"""The training environment seen from here: its Python, its LLaMA-Factory version, and the deep check
(LLaMA-Factory's own parser run on a config there, in a subprocess with a timeout)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROBE = Path(__file__).with_name("lfprobe.py")

# Messages whose cause is this machine (GPU, drivers, installed packages, network) or the way the probe is
# started (one process, not torchrun), not the file.
_MACHINE = re.compile(
    r"doesn't support bf16|does not support bf16|this device does not support|your setup|requires a gpu|"
    r"no module named|not installed|please install|pip install|distribution was not found|"
    r"launch distributed training|force_torchrun",
    re.IGNORECASE)
# Messages about the file itself, even when they name a GPU feature ("At most one of fp16 and bf16 can be
# True", "`predict_with_generate` is incompatible with DeepSpeed ZeRO-3").
_FILE = re.compile(
    r"at most one of|incompatible with|cannot be set as true|only (valid|compatible|available) for|"
    r"please (specify|enable|make sure)|cannot (use|specify)|not used by the hfargumentparser|"
    r"is not a valid|does not exist|not applicable|only accepts|do(es)? not support `",
    re.IGNORECASE)
# Otherwise: words that point at the machine.
_MACHINE_WORDS = re.compile(r"cuda|nccl|gpu|connection|offline|couldn't connect|network|proxy|timed out",
                            re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DeepResult:
    ok: bool
    message: str
    error_type: str = ""
    machine: bool = False          # the error depends on this machine, not on the file
    version: str = ""
    seconds: float = 0.0
    detail: str = ""               # last lines of the probe's output


def env_python(llamafactory_cli: str, environ: Mapping[str, str] | None = None,
               setting: str = "") -> list[str] | None:
    """The argv that runs Python in the training environment: the setting when given; for a prefix such as
    `conda run -n ENV llamafactory-cli` the same prefix with `python`; for a program, its shebang's
    interpreter (or the `python` beside it)."""
    if setting:
        return shlex.split(setting)
    argv = shlex.split(llamafactory_cli) or ["llamafactory-cli"]
    if len(argv) > 1:
        return [*argv[:-1], "python"]
    env = dict(environ or os.environ)
    prog = shutil.which(argv[0], path=env.get("PATH"))
    if prog is None:
        return None
    try:
        with open(prog, "rb") as fh:
            first = fh.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        first = ""
    if first.startswith("#!"):
        interp = shlex.split(first[2:])
        if interp and Path(interp[0]).name == "env" and len(interp) > 1:
            found = shutil.which(interp[1], path=env.get("PATH"))
            return [found] if found else None
        if interp and "python" in Path(interp[0]).name:
            return [interp[0]]
    beside = Path(prog).resolve().parent / "python"
    return [str(beside)] if beside.exists() else None


CANCELLED = "cancelled"


def _run_probe(python: list[str], args: list[str], *, timeout: float, cwd: Path | None,
               environ: Mapping[str, str] | None, cancel=None) -> tuple[dict | None, str]:
    """Run the probe; ``cancel`` (a threading.Event) stops it early: its whole process group is killed."""
    import signal

    env = dict(environ or os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")       # a deep check must not download anything
    env["PYTHONUNBUFFERED"] = "1"
    try:
        proc = subprocess.Popen([*python, str(PROBE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=str(cwd) if cwd else None, env=env, errors="replace",
                                start_new_session=True)
    except OSError as exc:
        return None, f"cannot run {shlex.join(python)}: {exc.strerror or exc}"
    deadline = time.monotonic() + timeout
    stdout = stderr = ""
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            stopped = cancel is not None and cancel.is_set()
            if stopped or time.monotonic() > deadline:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
                proc.communicate()
                return None, CANCELLED if stopped else f"the check did not finish in {timeout:.0f} s"
    out = (stdout or "") + (stderr or "")
    for line in reversed((stdout or "").splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line), out
            except ValueError:
                break
    return None, out


def detect_version(python: list[str] | None, *, timeout: float = 20.0,
                   environ: Mapping[str, str] | None = None) -> str | None:
    if not python:
        return None
    data, _ = _run_probe(python, ["version"], timeout=timeout, cwd=None, environ=environ)
    return (data or {}).get("version") or None


def deep_check(text: str, command: str, python: list[str] | None, *, workdir: Path | None = None,
               name: str = "config.yaml", timeout: float = 180.0,
               environ: Mapping[str, str] | None = None, cancel=None) -> DeepResult:
    """LLaMA-Factory's own parser (get_train_args / get_infer_args / get_eval_args) on the text as it is in
    the editor (saved or not), run in the training environment from the run's working directory."""
    if not python:
        return DeepResult(False, no_env_message(), error_type="NoEnvironment", machine=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ftmllm-deep-") as tmp:
        cfg = Path(tmp) / (Path(name).stem + ".yaml")
        cfg.write_text(text, encoding="utf-8", errors="surrogateescape")
        data, out = _run_probe(python, ["check", command, str(cfg)], timeout=timeout, cwd=workdir,
                               environ=environ, cancel=cancel)
    if out == CANCELLED:
        return DeepResult(False, "cancelled", error_type="Cancelled", machine=True,
                          seconds=time.monotonic() - t0)
    tail = "\n".join(out.strip().splitlines()[-15:])
    if data is None:
        return DeepResult(False, out.strip().splitlines()[-1] if out.strip() else "the check printed nothing",
                          error_type="ProbeFailed", machine=True, seconds=time.monotonic() - t0, detail=tail)
    if data.get("ok"):
        return DeepResult(True, "LLaMA-Factory's parser accepts it", version=data.get("version", ""),
                          seconds=data.get("seconds", 0.0), detail=tail)
    message = data.get("message", "")
    etype = data.get("error_type", "")
    machine = is_machine(message, etype)
    return DeepResult(False, message, error_type=etype, machine=machine, version=data.get("version", ""),
                      seconds=data.get("seconds", 0.0), detail=tail)


def no_env_message() -> str:
    """What to set when no training environment is found, named as in the settings declaration."""
    from ftmllm_tui.settings import SECTION_OF

    names = [f"{SECTION_OF[k]}.{k}" for k in ("llamafactory_cli", "lf_python")]
    return f"no training environment found: set {names[0]} or {names[1]} (settings, or config.toml)"


def is_machine(message: str, error_type: str = "") -> bool:
    """Whether a deep-check error comes from this machine (or from how the check is run), not the file."""
    if error_type in ("ImportError", "ModuleNotFoundError", "PackageNotFoundError") or _MACHINE.search(message):
        return True
    return not _FILE.search(message) and bool(_MACHINE_WORDS.search(message))


def choose_schema(setting: str, python: list[str] | None, *, environ: Mapping[str, str] | None = None,
                  detect: bool = True):
    """(schema, why): the setting when it names a version, else the version found in the training
    environment, else the newest shipped schema."""
    from ftmllm_tui.core.configs.lfschema import load, pick_version

    if setting and setting != "auto":
        v = pick_version(None, setting)
        return load(v), f"LLaMA-Factory {v} (configs.llamafactory_version)"
    found = detect_version(python, environ=environ) if detect else None
    v = pick_version(found)
    if found:
        same = "" if found == v else f", checked with the {v} schema"
        return load(v), f"LLaMA-Factory {found} (training environment{same})"
    return load(v), f"LLaMA-Factory {v} (no training environment found; newest schema)"
