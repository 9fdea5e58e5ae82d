"""GPU usage of a running job, on demand (never on the refresh path): one task per node of the job
through ``srun --jobid=JOB --overlap``, running the app's own ``snapshot --json`` there, or
``nvidia-smi`` CSV where the app cannot run on the node."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ftmllm_tui.core.slurm.query import SlurmError, run

SMI = ("nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total "
       "--format=csv,noheader,nounits")


@dataclass(frozen=True)
class GpuUse:
    index: int
    name: str
    util_pct: float | None
    mem_used_mib: float | None
    mem_total_mib: float | None


@dataclass(frozen=True)
class NodeUsage:
    node: str
    source: str = ""  # "app" (snapshot --json), "nvidia-smi", or "" when neither worked
    gpus: tuple[GpuUse, ...] = ()
    processes: tuple[dict, ...] = field(default=())  # the snapshot's processes of this job's run, if known
    error: str = ""


def usage_argv(job_id: str, nodes: int, *, python: str | None = None,
               snapshot_args: Sequence[str] = ("snapshot", "--json")) -> list[str]:
    app = shlex.join([python or sys.executable, "-m", "ftmllm_tui.cli", *snapshot_args])
    script = (f'echo "@node $(hostname -s)"; e=$(mktemp); out=$({app} 2>"$e") && printf "%s\\n" "$out" || '
              f'{{ printf "@app %s\\n" "$(tail -n 1 "$e")"; echo "@smi"; {SMI} 2>&1; }} '
              '|| echo "@none neither ftmllm-tui nor nvidia-smi works on this node"; rm -f "$e"')
    return ["srun", f"--jobid={job_id}", "--overlap", f"--nodes={max(1, nodes)}", "--ntasks-per-node=1",
            "--label", "sh", "-c", script]


def parse_usage(text: str, run_id: str | None = None) -> list[NodeUsage]:
    """srun --label output: each line "<task>: ..." (the task number, one per node)."""
    by_task: dict[str, list[str]] = {}
    for line in text.splitlines():
        task, sep, rest = line.partition(": ")
        if not sep or not task.strip().isdigit():
            task, rest = task.rstrip(":"), ""
        by_task.setdefault(task.strip(), []).append(rest)
    out = []
    for task in sorted(by_task, key=lambda t: int(t) if t.isdigit() else 0):
        lines = by_task[task]
        node = next((ln.split(None, 1)[1] for ln in lines if ln.startswith("@node ")), f"task {task}")
        body = [ln for ln in lines if not ln.startswith("@node ")]
        app_err = next((ln[5:] for ln in body if ln.startswith("@app ")), "")
        body = [ln for ln in body if not ln.startswith("@app ")]
        none = [ln for ln in body if ln.startswith("@none")]
        if none:
            why = "; ".join(x for x in [app_err.removeprefix("ftmllm-tui: ")] +
                            [ln for ln in body if not ln.startswith("@")] if x)[:300]
            out.append(NodeUsage(node, error=none[0][6:] + (f": {why}" if why else "")))
            continue
        if body and body[0] == "@smi":
            gpus = []
            for ln in body[1:]:
                parts = [p.strip() for p in ln.split(",")]
                if len(parts) >= 5 and parts[0].isdigit():
                    gpus.append(GpuUse(int(parts[0]), parts[1], _f(parts[2]), _f(parts[3]), _f(parts[4])))
            out.append(NodeUsage(node, "nvidia-smi", tuple(gpus),
                                 error="" if gpus else " ".join(body[1:])[:200] or "nvidia-smi printed nothing"))
            continue
        try:
            snap = json.loads("\n".join(body))
        except ValueError:
            out.append(NodeUsage(node, error=" ".join(body)[:200] or "no answer"))
            continue
        gpus = tuple(GpuUse(g["index"], g.get("name") or "?", g.get("utilization_pct"),
                            _mib(g.get("memory_used_bytes")), _mib(g.get("memory_total_bytes")))
                     for g in snap.get("gpus", []))
        procs = tuple(p for p in snap.get("processes", []) if run_id is None or p.get("run") == run_id)
        out.append(NodeUsage(node, "app", gpus, procs))
    return out


def _f(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def _mib(v) -> float | None:
    return None if v is None else v / 2**20


def job_gpu_usage(job_id: str, nodes: int, *, run_id: str | None = None, env: Mapping[str, str] | None = None,
                  python: str | None = None, snapshot_args: Sequence[str] = ("snapshot", "--json"),
                  timeout: float = 60.0) -> list[NodeUsage]:
    """SlurmError when srun cannot get into the job (ended, not yours, controller down)."""
    r = run(usage_argv(job_id, nodes, python=python, snapshot_args=snapshot_args), env=env, timeout=timeout)
    nodes_out = parse_usage(r.stdout, run_id)
    if not nodes_out:
        raise SlurmError(f"srun into job {job_id} printed nothing")
    return nodes_out
