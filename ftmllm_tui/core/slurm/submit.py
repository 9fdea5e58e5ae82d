"""Submit a LLaMA-Factory run as a Slurm batch job.

The launcher's own ``prepare()`` does the pre-flight (config parses, offline validation, output_dir,
SwanLab key, llamafactory-cli found) and builds the environment; this module turns the result into
an sbatch script the user can read and edit, checks it with ``sbatch --test-only`` and submits it.

The run is a run folder like a tmux run (``run.json``, ``config.yaml`` = the frozen copy,
``console.log`` = the job's output and error file, ``exit_code`` written by the script) plus
``job.sbatch``; the record carries the job id, so ``runs``, ``logs``, ``plot``, the detail view and
compare work unchanged.

Secrets named in ``runs.pass_env`` are not passed through sbatch's environment (Slurm stores a
job's environment in the controller's state directory): they go into a 0600 ``secrets.env`` in the
0700 run folder (a shared filesystem: the compute node must read it; the login node's tmpfs is not
shared), which the script reads and deletes as the job starts.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ftmllm_tui.core.runs.launch import Prepared
from ftmllm_tui.core.runs.registry import Registry, RunRecord, atomic_write
from ftmllm_tui.core.slurm.query import RUN_COMMENT, SlurmError, run

SCRIPT_NAME = "job.sbatch"
SECRETS_NAME = "secrets.env"
# set by the tmux launcher for one machine; on Slurm the allocation decides
_DROP_ENV = ("CUDA_VISIBLE_DEVICES", "FORCE_TORCHRUN", "NPROC_PER_NODE")


@dataclass(frozen=True)
class SlurmSpec:
    partition: str = ""
    nodes: int = 1
    gpus_per_node: int = 1
    cpus_per_task: int = 0
    mem: str = ""
    time: str = ""
    account: str = ""
    qos: str = ""

    def check(self) -> list[str]:
        out = []
        if self.nodes < 1:
            out.append("--nodes must be at least 1")
        if self.gpus_per_node < 0:
            out.append("--gpus-per-node must be 0 or more")
        if self.cpus_per_task < 0:
            out.append("cpus_per_task must be 0 or more")
        if self.time and not re.fullmatch(r"(\d+-)?\d+(:\d+){0,2}|UNLIMITED|infinite", self.time):
            out.append(f"--time {self.time!r}: write minutes, H:MM:SS or D-HH:MM:SS")
        for name, v in (("partition", self.partition), ("account", self.account), ("qos", self.qos),
                        ("mem", self.mem)):
            if v and not re.fullmatch(r"[A-Za-z0-9_.,:+-]+", v):
                out.append(f"{name} {v!r} has characters sbatch does not take")
        return out


def _q(v: str) -> str:
    return shlex.quote(v)


def _sb(v: object) -> str:
    """A #SBATCH value: double-quoted when it holds spaces (sbatch reads "…" in directives)."""
    v = str(v)
    return f'"{v}"' if re.search(r"\s", v) else v


def build_script(prep: Prepared, spec: SlurmSpec, run_dir: Path, *, cwd: Path | None = None) -> str:
    """The sbatch script for a prepared run (the frozen config is ``run_dir/config.yaml``)."""
    run_dir = Path(run_dir)
    cfg_copy = str(run_dir / "config.yaml")
    argv = [cfg_copy if a == "{config}" else a for a in prep.argv]
    log = run_dir / "console.log"
    lines = ["#!/bin/bash", f"#SBATCH --job-name={_sb(prep.name)}"]
    if spec.partition:
        lines.append(f"#SBATCH --partition={spec.partition}")
    lines += [f"#SBATCH --nodes={spec.nodes}", "#SBATCH --ntasks-per-node=1"]
    if spec.gpus_per_node > 0:
        lines.append(f"#SBATCH --gres=gpu:{spec.gpus_per_node}")
    if spec.cpus_per_task > 0:
        lines.append(f"#SBATCH --cpus-per-task={spec.cpus_per_task}")
    if spec.mem:
        lines.append(f"#SBATCH --mem={spec.mem}")
    if spec.time:
        lines.append(f"#SBATCH --time={spec.time}")
    if spec.account:
        lines.append(f"#SBATCH --account={spec.account}")
    if spec.qos:
        lines.append(f"#SBATCH --qos={spec.qos}")
    lines += [f"#SBATCH --output={_sb(log)}", f"#SBATCH --error={_sb(log)}", "#SBATCH --open-mode=append",
              f"#SBATCH --chdir={_sb(cwd or prep.request.cwd or Path.cwd())}",
              f"#SBATCH --comment={RUN_COMMENT}{prep.run_id}",
              "#",
              f"# Written by ftmllm-tui for run {prep.run_id} (ftmllm-tui runs / logs / stop {prep.run_id}).",
              "# Edit it before submitting if you like: #SBATCH lines are sbatch's options; the rest runs",
              "# on the job's first node.",
              f"RUN_DIR={_q(str(run_dir))}",
              'echo "# ftmllm-tui run ' + prep.run_id + ': Slurm job $SLURM_JOB_ID on $(hostname) '
              'started $(date \'+%F %T\')"',
              "# secrets from your environment: a 0600 file in the run folder, deleted as the job starts",
              f'if [ -f "$RUN_DIR/{SECRETS_NAME}" ]; then . "$RUN_DIR/{SECRETS_NAME}"; '
              f'rm -f "$RUN_DIR/{SECRETS_NAME}"; fi']
    for k, v in prep.env:
        if k in _DROP_ENV:
            continue
        lines.append(f"export {k}={_q(v)}")
    g = spec.gpus_per_node
    lines += ["# scancel --signal=INT --full (ftmllm-tui stop) reaches every process of the job; this shell",
              "# waits for the trainer and records its exit code",
              "trap 'echo \"# ftmllm-tui: SIGINT\"' INT",
              "trap 'echo \"# ftmllm-tui: SIGTERM\"' TERM"]
    cmd = shlex.join(argv)
    if spec.nodes <= 1:
        if g > 0:
            lines.append(f"export FORCE_TORCHRUN=1 NPROC_PER_NODE={g}  # torchrun over the allocated GPUs")
        lines.append(cmd)
    else:
        lines += [
            "# several nodes: one task per node; torchrun on each, LLaMA-Factory's multi-node variables",
            'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
            "export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))",
            f"export FORCE_TORCHRUN=1 NPROC_PER_NODE={max(1, g)}",
            "# NODE_RANK is the task's rank: with one task per node it is the node's index",
            "srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c "
            "'export NNODES=$SLURM_NTASKS NODE_RANK=$SLURM_PROCID; exec \"$@\"' ftmllm-node " + cmd,
        ]
    lines += ["rc=$?",
              'echo "# ftmllm-tui run ' + prep.run_id + ' ended $(date \'+%F %T\'), exit code $rc"',
              'echo "$rc" > "$RUN_DIR/.exit_code.tmp" && mv -f "$RUN_DIR/.exit_code.tmp" "$RUN_DIR/exit_code"',
              'exit "$rc"', ""]
    return "\n".join(lines)


def sbatch_environ(environ: Mapping[str, str], secret_names: tuple[str, ...]) -> dict[str, str]:
    """What sbatch exports to the job: the user's environment minus secrets and this machine's GPU
    choice (Slurm sets CUDA_VISIBLE_DEVICES for the allocation)."""
    return {k: v for k, v in environ.items() if k not in secret_names and k not in _DROP_ENV
            and not k.startswith("SBATCH_")}


def test_only(script: str, *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """``sbatch --test-only``: when and where the job would start; SlurmError says why it cannot."""
    fd, path = tempfile.mkstemp(prefix="ftmllm-test-", suffix=".sbatch")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(script)
        r = run(["sbatch", "--test-only", path], env=env)
        text = (r.stderr or r.stdout).strip().splitlines()
        msg = text[-1] if text else "sbatch --test-only: accepted"
        return re.sub(r"^sbatch: ", "", msg)
    finally:
        os.unlink(path)


def submit(prep: Prepared, spec: SlurmSpec, registry: Registry, *, script: str | None = None,
           environ: Mapping[str, str] | None = None, user: str = "") -> RunRecord:
    """Write the run folder and the script, submit it; the record carries the job id.
    SlurmError when sbatch refuses (the run folder is then removed)."""
    if not prep.ok:
        raise SlurmError("; ".join(str(p) for p in prep.problems if p.level == "error"))
    bad = spec.check()
    if bad:
        raise SlurmError("; ".join(bad))
    environ = dict(os.environ if environ is None else environ)
    run_dir = registry.dir(prep.run_id)
    text = script if script is not None else build_script(prep, spec, run_dir)
    req = prep.request
    if not user:
        from ftmllm_tui.core.gpus.processes import current_user

        user = current_user()
    record = RunRecord(
        id=prep.run_id, name=prep.name, kind=req.kind, config=str(req.config) if req.config else None,
        argv=tuple(str(run_dir / "config.yaml") if a == "{config}" else a for a in prep.argv),
        env=tuple((k, v) for k, v in prep.env if k not in _DROP_ENV), secret_env=prep.secret_env,
        gpus=None, cwd=str(req.cwd or Path.cwd()), user=user, host=socket.gethostname(),
        created_at=time.time(), output_dir=prep.output_dir, port=prep.port, url=prep.url,
        slurm_partition=spec.partition, slurm_nodes=spec.nodes, slurm_gpus_per_node=spec.gpus_per_node,
        overrides=req.overrides, user_env=req.env)
    registry.create(record, prep.config_text)
    script_path = run_dir / SCRIPT_NAME
    atomic_write(script_path, text, mode=0o700)
    with open(run_dir / "console.log", "a", encoding="utf-8") as f:
        f.write(f"# ftmllm-tui run {prep.run_id} submitted to Slurm {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    secrets = [(k, environ[k]) for k in prep.secret_env if environ.get(k)]
    if secrets:
        fd = os.open(run_dir / SECRETS_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(f"export {k}={_q(v)}\n" for k, v in secrets))
    try:
        r = run(["sbatch", "--parsable", str(script_path)],
                env=sbatch_environ(environ, prep.secret_env))
    except SlurmError:
        registry.forget(prep.run_id)
        raise
    job = r.stdout.strip().splitlines()[-1].split(";")[0].strip() if r.stdout.strip() else ""
    if not job:
        registry.forget(prep.run_id)
        raise SlurmError(f"sbatch printed no job id: {r.stdout.strip()!r} {r.stderr.strip()!r}")
    record = replace(record, slurm_job=job)
    registry.save(record)
    return record
