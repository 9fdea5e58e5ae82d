"""Export to ollama: the Modelfile LLaMA-Factory writes next to an export (``llamafactory-cli export`` with
``export_dir``), ``num_ctx`` set from the run's ``cutoff_len``, and ``ollama create NAME -f Modelfile`` as a job.

LLaMA-Factory's Modelfile says ``FROM .`` and hard-codes ``PARAMETER num_ctx 4096``. The Modelfile the job uses
is the user's (possibly edited) text saved in the job's run folder, with a relative ``FROM`` made absolute, so
the export folder is never written to. ollama's own failures are turned into one line that says what to do:
not installed, server not running, an architecture it cannot convert.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

KIND = "ollama"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?(:[A-Za-z0-9][A-Za-z0-9._-]{0,127})?$")
_NUM_CTX = re.compile(r"^\s*PARAMETER\s+num_ctx\s+\S+\s*$", re.M | re.I)
_FROM = re.compile(r"^(\s*FROM\s+)(\S.*?)\s*$", re.M | re.I)


@dataclass(frozen=True)
class OllamaStatus:
    ok: bool
    state: str  # "ok" | "missing" | "down"
    message: str
    version: str = ""


def host(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    h = (env.get("OLLAMA_HOST") or "127.0.0.1:11434").strip()
    if not h.startswith(("http://", "https://")):
        h = "http://" + h
    if h.count(":") < 2:  # no port given
        h += ":11434"
    return h.rstrip("/")


def status(environ: Mapping[str, str] | None = None, timeout: float = 1.5) -> OllamaStatus:
    env = os.environ if environ is None else environ
    exe = shutil.which("ollama", path=env.get("PATH"))
    if exe is None:
        return OllamaStatus(False, "missing", "ollama is not installed here: install it (curl -fsSL "
                            "https://ollama.com/install.sh | sh, or see https://ollama.com/download), then start "
                            "its server with `ollama serve`")
    url = host(env) + "/api/version"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - the user's own ollama server
            version = str(json.loads(r.read() or b"{}").get("version", ""))
    except (urllib.error.URLError, OSError, ValueError) as e:
        why = getattr(e, "reason", e)
        return OllamaStatus(False, "down", f"the ollama server is not running at {host(env)} ({why}): start it with "
                            "`ollama serve` (e.g. in a tmux window) or `systemctl start ollama`; OLLAMA_HOST picks "
                            "another address")
    return OllamaStatus(True, "ok", f"ollama {version} at {host(env)}", version)


def read_modelfile(export_dir: Path) -> str:
    return (Path(export_dir) / "Modelfile").read_text(encoding="utf-8")


def num_ctx(text: str) -> int | None:
    m = re.search(r"^\s*PARAMETER\s+num_ctx\s+(\d+)\s*$", text, re.M | re.I)
    return int(m.group(1)) if m else None


def with_num_ctx(text: str, n: int) -> str:
    """The Modelfile with ``PARAMETER num_ctx n`` (replacing LLaMA-Factory's 4096, or added at the end)."""
    line = f"PARAMETER num_ctx {int(n)}"
    if _NUM_CTX.search(text):
        return _NUM_CTX.sub(line, text, count=1)
    return text.rstrip("\n") + "\n" + line + "\n"


def with_absolute_from(text: str, export_dir: Path) -> str:
    """A relative FROM (LLaMA-Factory writes ``FROM .``) made absolute, so the file can live elsewhere."""
    def fix(m: re.Match) -> str:
        target = m.group(2).strip().strip('"')
        if ":" in target and not target.startswith((".", "/", "~")):  # a model name (llama3:8b), not a path
            return m.group(0)
        p = Path(os.path.expanduser(target))
        if not p.is_absolute():
            p = (Path(export_dir) / p).resolve()
        return f"{m.group(1)}{p}"

    return _FROM.sub(fix, text)


def check_name(name: str) -> str | None:
    """None when ollama accepts NAME, else why not."""
    if not name:
        return "give the model a name, e.g. qwen2.5vl-sft:latest"
    if not NAME_RE.match(name):
        return (f"{name!r} is not a model name ollama takes: lowercase letters, digits, '-', '_' and '.', an optional "
                "namespace/ and :tag (e.g. team/qwen2.5vl-sft:v1)")
    return None


def create_argv(name: str, modelfile: Path, ollama: str = "ollama") -> list[str]:
    return [ollama, "create", name, "-f", str(modelfile)]


def explain(output: str, export_dir: Path | None = None) -> str | None:
    """One line for what ollama printed when `create` failed (None: nothing we know)."""
    low = output.lower()
    if "unsupported architecture" in low or "unknown architecture" in low or "unsupported model" in low:
        arch = "?"
        if export_dir is not None:
            try:
                cfg = json.loads((Path(export_dir) / "config.json").read_text())
                arch = ", ".join(cfg.get("architectures") or []) or "?"
            except (OSError, ValueError):
                pass
        return (f"ollama cannot convert this architecture ({arch}) from safetensors: convert the export to GGUF "
                "with llama.cpp (convert_hf_to_gguf.py), put FROM path/to/model.gguf in the Modelfile, and create "
                "again")
    if "connection refused" in low or "could not connect" in low:
        return "the ollama server is not running: start it with `ollama serve` or `systemctl start ollama`"
    if "invalid model name" in low:
        return "ollama refused the name: lowercase letters, digits, '-', '_', '.', an optional namespace/ and :tag"
    return None


def start_create(export_dir: Path, text: str, name: str, registry, tmux, *,
                 environ: Mapping[str, str] | None = None, python: str | None = None, ollama: str = "ollama",
                 then_run: bool = False):
    """`ollama create NAME -f Modelfile` as a job: a run of kind 'ollama' in tmux, its output followed like a
    run's. The Modelfile (the user's text, FROM made absolute) is the job's frozen config (RUN_DIR/config.yaml,
    shown by `c` in Runs); the export folder is not written to. The caller checks ``status()`` first."""
    from ..runs.launch import LaunchRequest, Prepared, start
    from ..runs.registry import new_run_id

    why = check_name(name)
    if why:
        raise ValueError(why)
    label = f"ollama-{name.split(':')[0].split('/')[-1]}"
    import sys

    argv = [python or sys.executable, "-m", "ftmllm_tui.core.models.ollama", name, "{config}", str(export_dir),
            "--ollama", ollama] + (["--then-run"] if then_run else [])
    prep = Prepared(request=LaunchRequest(config=None, kind=KIND, gpus="none", name=label, cwd=Path(export_dir)),
                    run_id=new_run_id(label), name=label, argv=tuple(argv),
                    env=(), secret_env=(), gpus=None, config_text=with_absolute_from(text, Path(export_dir)),
                    output_dir=str(export_dir))
    return start(prep, registry, tmux, environ=dict(os.environ if environ is None else environ), python=python)


def main(argv: list[str] | None = None) -> int:
    """The job: `ollama create NAME -f MODELFILE` with its output as it comes, then one line that says what to
    do when it failed (not installed, server down, an architecture ollama cannot convert)."""
    import argparse
    import subprocess
    import sys

    p = argparse.ArgumentParser(prog="python -m ftmllm_tui.core.models.ollama")
    p.add_argument("name")
    p.add_argument("modelfile")
    p.add_argument("export_dir")
    p.add_argument("--ollama", default="ollama")
    p.add_argument("--then-run", action="store_true", help="then `ollama run NAME` in a new window of this tmux "
                   "session (attach to the job to chat)")
    a = p.parse_args(argv)
    st = status()
    if not st.ok:
        print(f"ollama: {st.message}", flush=True)
        return 2
    cmd = create_argv(a.name, Path(a.modelfile), a.ollama)
    print("$ " + " ".join(cmd), flush=True)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=a.export_dir)
    except OSError as e:
        print(f"ollama: cannot run {a.ollama}: {e.strerror}", flush=True)
        return 127
    seen = []
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace")
        seen.append(line)
        sys.stdout.write(line)
        sys.stdout.flush()
    rc = proc.wait()
    if rc != 0:
        why = explain("".join(seen[-50:]), Path(a.export_dir))
        print(f"ollama: create failed (exit {rc})" + (f": {why}" if why else ""), flush=True)
        return rc
    print(f"ollama: created {a.name}; try it with `ollama run {a.name}`", flush=True)
    if a.then_run and os.environ.get("TMUX") and shutil.which("tmux"):
        import shlex

        r = subprocess.run(["tmux", "new-window", "-n", "ollama-run", shlex.join([a.ollama, "run", a.name])],
                           capture_output=True, text=True)
        if r.returncode == 0:
            print("ollama: `ollama run` is open in the window 'ollama-run' of this job's tmux session: attach to the "
                  "job (a in Runs) and pick that window (ctrl-b n)", flush=True)
        else:
            print(f"ollama: could not open a tmux window for `ollama run`: {r.stderr.strip()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
