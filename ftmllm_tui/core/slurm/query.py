"""Read a Slurm cluster: nodes with their GPUs, partitions and jobs, in one round of calls.

Slurm is read through its parseable text formats, not ``--json`` (which changed shape in 22.05,
23.11 and 24.05, is several times slower, and on 22.05 ``squeue --json`` exits 0 with the failure
only inside ``errors[]``):

* ``scontrol -d -o show node``: one line per node, ``Key=Value`` pairs (CfgTRES, AllocTRES, Gres,
  GresUsed, State, Reason, Partitions);
* ``squeue -h -O Field:0<US>,...``: every field followed by the ASCII unit separator, so job names
  with spaces or ``|`` stay intact; size 0 means no padding;
* ``sinfo -h -O ...`` for the partitions (availability, time limit).

GPUs come from TRES (``gres/gpu=N`` in CfgTRES / AllocTRES / tres-alloc) when the cluster tracks
them (``AccountingStorageTRES=gres/gpu``), else from the GRES fields (``Gres=gpu:h200:8``,
``GresUsed=gpu:h200:2(IDX:0-1)``, a job's tres-per-node / tres-per-job), never from ``%b`` (it
misses ``--gpus-per-node`` jobs). The three commands of a refresh run concurrently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

US = "\x1f"  # field delimiter for squeue/sinfo -O (never in a job name a shell lets one type)
TIMEOUT_S = 15.0
RUN_COMMENT = "ftmllm-tui:"  # sbatch --comment=ftmllm-tui:<run id> marks the jobs the app submitted

JOB_FIELDS = ("JobID", "Name", "UserName", "State", "Reason", "Partition", "NumNodes", "NodeList",
              "tres-alloc", "tres-per-node", "tres-per-job", "tres-per-task", "NumTasks", "TimeUsed",
              "TimeLimit", "SubmitTime", "StartTime", "Account", "QOS", "Comment", "StdOut", "WorkDir")
PART_FIELDS = ("Partition", "Available", "Time", "Nodes", "NodeList")  # the default one ends in *


class SlurmError(RuntimeError):
    """A Slurm command failed; the message is one line that says what to do."""


@dataclass(frozen=True)
class Node:
    name: str
    state: str  # lower case, e.g. idle, mixed, allocated, drained, down; flags kept (drain, not_responding)
    partitions: tuple[str, ...] = ()
    gpu_type: str = ""  # e.g. h200 (from Gres); "" untyped or none
    gpus_total: int = 0
    gpus_alloc: int = 0
    cpus_total: int = 0
    cpus_alloc: int = 0
    mem_total_mb: int = 0
    mem_alloc_mb: int = 0
    reason: str = ""  # why it is drained/down

    @property
    def gpus_free(self) -> int:
        if not self.usable:
            return 0
        return max(0, self.gpus_total - self.gpus_alloc)

    @property
    def usable(self) -> bool:
        return not any(w in self.state for w in ("drain", "down", "fail", "maint", "not_responding",
                                                 "reserved", "future", "power"))


@dataclass(frozen=True)
class Partition:
    name: str
    available: str  # up / down / drain / inactive
    time_limit: str
    nodes: int
    nodelist: str
    default: bool = False


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    user: str
    state: str  # PENDING, RUNNING, COMPLETING, ...
    reason: str  # None, Priority, Resources, JobHeldUser, ...
    partition: str = ""
    nodes: int = 0
    nodelist: str = ""
    gpus: int = 0
    elapsed: str = ""
    time_limit: str = ""
    submit_time: str = ""
    start_time: str = ""
    account: str = ""
    qos: str = ""
    comment: str = ""
    stdout: str = ""
    workdir: str = ""

    @property
    def run_id(self) -> str | None:
        """The app's run id when the app submitted this job (its --comment)."""
        if self.comment.startswith(RUN_COMMENT):
            return self.comment[len(RUN_COMMENT):].strip() or None
        return None

    @property
    def pending(self) -> bool:
        return self.state == "PENDING"


@dataclass(frozen=True)
class ClusterState:
    """One refresh: nodes, partitions, jobs, and how long the calls took."""

    nodes: tuple[Node, ...] = ()
    partitions: tuple[Partition, ...] = ()
    jobs: tuple[Job, ...] = ()
    version: str = ""
    user: str = ""
    took_s: float = 0.0
    at: float = 0.0
    problems: tuple[str, ...] = field(default=())  # lines that could not be parsed

    @property
    def gpus_total(self) -> int:
        return sum(n.gpus_total for n in self.nodes)

    @property
    def gpus_alloc(self) -> int:
        return sum(n.gpus_alloc for n in self.nodes)

    @property
    def gpus_free(self) -> int:
        return sum(n.gpus_free for n in self.nodes)

    def holders(self) -> dict[str, int]:
        """GPUs held per user (running jobs), most first."""
        out: dict[str, int] = {}
        for j in self.jobs:
            if j.state in ("RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED") and j.gpus:
                out[j.user] = out.get(j.user, 0) + j.gpus
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def jobs_for(self, user: str | None) -> list[Job]:
        """Jobs of ``user`` (None: everybody's), the user's own first, then running before pending."""
        jobs = [j for j in self.jobs if user is None or j.user == user]
        order = {"RUNNING": 0, "COMPLETING": 1, "CONFIGURING": 1, "SUSPENDED": 2, "PENDING": 3}
        return sorted(jobs, key=lambda j: (j.user != self.user, order.get(j.state, 4), _job_num(j.id)))


def _job_num(job_id: str) -> tuple[int, str]:
    m = re.match(r"\d+", job_id)
    return (int(m.group()) if m else 0, job_id)


# -- running commands ------------------------------------------------------------------------------

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = TIMEOUT_S,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a Slurm command; SlurmError (one line) when it is missing, hangs or fails."""
    try:
        r = subprocess.run(list(argv), capture_output=True, text=True, env=dict(env) if env else None,
                           timeout=timeout, input=input, errors="replace")
    except FileNotFoundError:
        raise SlurmError(f"{argv[0]} not found: Slurm's client commands are not on PATH here") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{argv[0]} did not answer within {timeout:g} s (the controller is busy or "
                         "unreachable)") from None
    if r.returncode != 0:
        raise SlurmError(error_line(argv[0], r.stderr or r.stdout))
    return r


def error_line(cmd: str, text: str) -> str:
    """Slurm's own error, condensed to one line with a hint for the usual causes."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    msg = lines[-1] if lines else f"{cmd} failed"
    for ln in lines:
        if "error" in ln.lower():
            msg = ln
            break
    msg = re.sub(r"^(sbatch|squeue|sinfo|scontrol|scancel|srun|sacct): (error: )?", "", msg)
    low = msg.lower()
    if "unable to contact slurm controller" in low or "connection refused" in low:
        return f"{cmd}: {msg} — the Slurm controller is down or unreachable from here (try `sinfo`)"
    if "could not establish a configuration source" in low or "fetch_config" in low:
        return f"{cmd}: no Slurm configuration found — set SLURM_CONF or run this on the cluster's login node"
    if "invalid partition" in low:
        return f"{cmd}: {msg} — pick one of the partitions `sinfo` lists"
    return f"{cmd}: {msg}"


def available(env: Mapping[str, str] | None = None) -> bool:
    path = (env or os.environ).get("PATH")
    return shutil.which("sinfo", path=path) is not None


_VERSION: dict[str, str] = {}
_ACCOUNTING: dict[str, str] = {}


def version(env: Mapping[str, str] | None = None) -> str:
    """``sinfo --version`` (e.g. ``22.05.8``), read once per process and configuration."""
    key = (env or os.environ).get("SLURM_CONF", "")
    if key not in _VERSION:
        r = run(["sinfo", "--version"], env=env)
        _VERSION[key] = r.stdout.strip().split()[-1] if r.stdout.strip() else "?"
    return _VERSION[key]


def accounting(env: Mapping[str, str] | None = None) -> str:
    """AccountingStorageType of the cluster (``accounting_storage/none`` means no sacct), read once."""
    key = (env or os.environ).get("SLURM_CONF", "")
    if key not in _ACCOUNTING:
        r = run(["scontrol", "show", "config"], env=env)
        m = re.search(r"^AccountingStorageType\s*=\s*(\S+)", r.stdout, re.M)
        _ACCOUNTING[key] = m.group(1) if m else "?"
    return _ACCOUNTING[key]


def accounting_on(env: Mapping[str, str] | None = None) -> bool:
    return accounting(env) not in ("accounting_storage/none", "?", "(null)")


# -- parsing ----------------------------------------------------------------------------------------

_KV = re.compile(r"(\S+?)=(.*?)(?=\s+\S+?=|\s*$)")


def parse_kv_line(line: str) -> dict[str, str]:
    """``scontrol -o`` output: Key=Value pairs separated by spaces (values may hold spaces, e.g. a
    drain Reason, and '=' as in CfgTRES)."""
    out: dict[str, str] = {}
    for m in _KV.finditer(line.strip()):
        out[m.group(1)] = m.group(2).strip()
    return out


def tres_gpus(tres: str) -> int | None:
    """GPUs in a TRES string (``cpu=4,mem=8G,gres/gpu=2,gres/gpu:h200=2``); None when it has none."""
    if not tres or tres in ("N/A", "(null)"):
        return None
    plain = re.search(r"(?:^|,)gres/gpu=(\d+)", tres)
    if plain:
        return int(plain.group(1))
    typed = re.findall(r"(?:^|,)gres/gpu:[^=,]+=(\d+)", tres)
    return sum(int(x) for x in typed) if typed else None


def gres_gpus(gres: str) -> tuple[int, str]:
    """(count, type) from a GRES string: ``gpu:h200:8``, ``gpu:8(S:0-1)``, ``gres:gpu:2``,
    ``gres/gpu:h200:3``, ``gpu:a100:2,gpu:v100:1``; (0, "") without GPUs."""
    total, types = 0, []
    if not gres or gres in ("(null)", "N/A"):
        return 0, ""
    for part in re.split(r",(?![^()]*\))", gres):
        part = re.sub(r"\(.*?\)", "", part.strip())
        part = re.sub(r"^gres[:/]", "", part)
        bits = part.split(":")
        if not bits or bits[0] != "gpu":
            continue
        if len(bits) == 1:
            total += 1
            continue
        count = bits[-1]
        if not count.isdigit():  # gpu:h200 (type only): one
            types.append(count)
            total += 1
            continue
        total += int(count)
        if len(bits) >= 3:
            types.append(bits[1])
    return total, ",".join(dict.fromkeys(types))


def _mem_mb(tres: str) -> int:
    m = re.search(r"(?:^|,)mem=([\d.]+)([KMGTP]?)", tres or "")
    if not m:
        return 0
    mult = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}[m.group(2)]
    return int(float(m.group(1)) * mult)


def _int(v: str, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def parse_nodes(text: str) -> tuple[list[Node], list[str]]:
    nodes, bad = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        kv = parse_kv_line(line)
        if "NodeName" not in kv:
            bad.append(f"scontrol show node: unreadable line {line[:60]!r}")
            continue
        g_total, g_type = gres_gpus(kv.get("Gres", ""))
        cfg = tres_gpus(kv.get("CfgTRES", ""))
        alloc = tres_gpus(kv.get("AllocTRES", ""))
        if alloc is None:
            used, _ = gres_gpus(kv.get("GresUsed", ""))
            alloc = used
        reason = kv.get("Reason", "")
        reason = "" if reason in ("(null)", "none", "None") else reason
        nodes.append(Node(
            name=kv["NodeName"], state=kv.get("State", "?").lower(),
            partitions=tuple(p for p in kv.get("Partitions", "").split(",") if p and p != "(null)"),
            gpu_type=g_type, gpus_total=cfg if cfg is not None else g_total, gpus_alloc=alloc or 0,
            cpus_total=_int(kv.get("CPUTot")), cpus_alloc=_int(kv.get("CPUAlloc")),
            mem_total_mb=_int(kv.get("RealMemory")), mem_alloc_mb=_int(kv.get("AllocMem")),
            reason=reason))
    return nodes, bad


def _na(v: str) -> str:
    return "" if v.strip() in ("N/A", "(null)", "None", "n/a") else v


def job_gpus(f: dict[str, str]) -> int:
    """GPUs of a job: allocated TRES when tracked, else what it asked for (per job / node / task)."""
    alloc = tres_gpus(f.get("tres-alloc", ""))
    if alloc is not None:
        return alloc
    nodes = max(1, _int(f.get("NumNodes"), 1))
    per_job, _ = gres_gpus(_na(f.get("tres-per-job", "")))
    if per_job:
        return per_job
    per_node, _ = gres_gpus(_na(f.get("tres-per-node", "")))
    if per_node:
        return per_node * nodes
    per_task, _ = gres_gpus(_na(f.get("tres-per-task", "")))
    if per_task:
        return per_task * max(1, _int(f.get("NumTasks"), 1))
    return 0


def parse_jobs(text: str) -> tuple[list[Job], list[str]]:
    jobs, bad = [], []
    n = len(JOB_FIELDS)
    for line in text.split("\n"):
        if not line.strip():
            continue
        vals = line.split(US)
        if len(vals) < n:
            bad.append(f"squeue: unreadable line {line[:60]!r}")
            continue
        f = dict(zip(JOB_FIELDS, vals[:n]))
        jobs.append(Job(
            id=f["JobID"], name=f["Name"], user=f["UserName"], state=f["State"],
            reason=_na(f["Reason"]), partition=f["Partition"], nodes=_int(f["NumNodes"]),
            nodelist=_na(f["NodeList"]), gpus=job_gpus(f), elapsed=f["TimeUsed"],
            time_limit=f["TimeLimit"], submit_time=_na(f["SubmitTime"]),
            start_time=_na(f["StartTime"]), account=_na(f["Account"]), qos=_na(f["QOS"]),
            comment=_na(f["Comment"]), stdout=_na(f["StdOut"]), workdir=_na(f["WorkDir"])))
    return jobs, bad


def parse_partitions(text: str) -> list[Partition]:
    out = []
    for line in text.split("\n"):
        vals = line.split(US)
        if len(vals) < len(PART_FIELDS):
            continue
        f = dict(zip(PART_FIELDS, vals))
        name = f["Partition"].strip()
        out.append(Partition(name=name.rstrip("*"), available=f["Available"], time_limit=f["Time"],
                             nodes=_int(f["Nodes"]), nodelist=f["NodeList"], default=name.endswith("*")))
    return out


def _fmt(fields: Sequence[str]) -> str:
    return ",".join(f"{name}:0{US}" for name in fields)


def job_argv(job_ids: Sequence[str] = ()) -> list[str]:
    argv = ["squeue", "-h", "-O", _fmt(JOB_FIELDS)]
    if job_ids:
        argv += ["-j", ",".join(job_ids)]
    return argv


NODE_ARGV = ["scontrol", "-d", "-o", "show", "node"]
PART_ARGV = ["sinfo", "-h", "-O", _fmt(PART_FIELDS)]


def _parallel(calls: dict[str, list[str]], env: Mapping[str, str] | None,
              timeout: float) -> dict[str, subprocess.CompletedProcess[str] | SlurmError]:
    out: dict[str, subprocess.CompletedProcess[str] | SlurmError] = {}

    def one(key: str, argv: list[str]) -> None:
        try:
            out[key] = run(argv, env=env, timeout=timeout)
        except SlurmError as e:
            out[key] = e

    threads = [threading.Thread(target=one, args=(k, a), daemon=True) for k, a in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def read_cluster(*, env: Mapping[str, str] | None = None, user: str | None = None,
                 timeout: float = TIMEOUT_S) -> ClusterState:
    """One refresh: nodes, partitions and every job (three commands, run at the same time).
    Raises SlurmError when the cluster cannot be read at all."""
    t0 = time.perf_counter()
    ver = version(env)
    res = _parallel({"nodes": NODE_ARGV, "jobs": job_argv(), "parts": PART_ARGV}, env, timeout)
    for key in ("nodes", "jobs"):
        if isinstance(res[key], SlurmError):
            raise res[key]  # type: ignore[misc]
    nodes, bad = parse_nodes(res["nodes"].stdout)  # type: ignore[union-attr]
    jobs, bad_jobs = parse_jobs(res["jobs"].stdout)  # type: ignore[union-attr]
    parts = [] if isinstance(res["parts"], SlurmError) else parse_partitions(res["parts"].stdout)
    problems = bad + bad_jobs + ([str(res["parts"])] if isinstance(res["parts"], SlurmError) else [])
    if user is None:
        from ftmllm_tui.core.gpus.processes import current_user

        user = current_user()
    return ClusterState(nodes=tuple(nodes), partitions=tuple(parts), jobs=tuple(jobs), version=ver,
                        user=user, took_s=time.perf_counter() - t0, at=time.time(),
                        problems=tuple(problems))


def read_jobs(job_ids: Sequence[str], *, env: Mapping[str, str] | None = None,
              timeout: float = TIMEOUT_S) -> dict[str, Job]:
    """The given jobs still in the queue (one squeue call), by id."""
    if not job_ids:
        return {}
    r = run(job_argv(job_ids), env=env, timeout=timeout)
    jobs, _ = parse_jobs(r.stdout)
    return {j.id: j for j in jobs}


def job_detail(job_id: str, *, env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """``scontrol -o show job ID`` as a dict (also for jobs that ended less than MinJobAge ago);
    None when Slurm no longer knows the job."""
    try:
        r = run(["scontrol", "-o", "show", "job", job_id], env=env)
    except SlurmError as e:
        if "invalid job id" in str(e).lower():
            return None
        raise
    line = r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""
    return parse_kv_line(line) if line else None


@dataclass(frozen=True)
class FinishedJob:
    id: str
    name: str
    user: str
    state: str
    exit_code: str
    elapsed: str
    partition: str
    nodelist: str
    gpus: int


SACCT_FIELDS = ("JobID", "JobName", "User", "State", "ExitCode", "Elapsed", "Partition", "NodeList",
                "AllocTRES")


def finished_jobs(*, env: Mapping[str, str] | None = None, user: str | None = None,
                  since: str = "now-1days") -> tuple[list[FinishedJob], str | None]:
    """Finished jobs from ``sacct`` when accounting is on; else ([], a note saying why not)."""
    acct = accounting(env)
    if not accounting_on(env):
        return [], (f"accounting is off on this cluster (AccountingStorageType={acct}): finished jobs "
                    "are not kept by Slurm; runs launched by ftmllm-tui keep their exit codes")
    argv = ["sacct", "-X", "-n", "-P", "-S", since, "-s", "CD,F,CA,TO,OOM,NF",
            "-o", ",".join(SACCT_FIELDS)]
    argv += ["-u", user] if user else ["-a"]
    r = run(argv, env=env)
    return parse_sacct(r.stdout), None


def parse_sacct(text: str) -> list[FinishedJob]:
    """``sacct -X -n -P -o JobID,JobName,User,State,ExitCode,Elapsed,Partition,NodeList,AllocTRES``."""
    out = []
    for line in text.splitlines():
        vals = line.split("|")
        if len(vals) < len(SACCT_FIELDS):
            continue
        if len(vals) > len(SACCT_FIELDS):  # a job name with '|' in it: the extra fields belong to the name
            extra = len(vals) - len(SACCT_FIELDS)
            vals = [vals[0], "|".join(vals[1:2 + extra])] + vals[2 + extra:]
        f = dict(zip(SACCT_FIELDS, vals))
        out.append(FinishedJob(id=f["JobID"], name=f["JobName"], user=f["User"], state=f["State"],
                               exit_code=f["ExitCode"], elapsed=f["Elapsed"], partition=f["Partition"],
                               nodelist=f["NodeList"], gpus=tres_gpus(f["AllocTRES"]) or 0))
    return out


def detect(setting: str = "auto", *, env: Mapping[str, str] | None = None,
           timeout: float = 5.0) -> tuple[bool, str]:
    """(Slurm mode on?, why) for ``[slurm] enabled``: "false" off; "true" on; "auto" on when sinfo is
    on PATH and answers (a controller is reachable)."""
    if setting == "false":
        return False, "Slurm is turned off in the settings ([slurm] enabled = false)"
    if not available(env):
        return (setting == "true"), "sinfo is not on PATH: Slurm's client commands are not installed here"
    if setting == "true":
        return True, "[slurm] enabled = true"
    try:
        run(["sinfo", "-h", "-o", "%P"], env=env, timeout=timeout)
    except SlurmError as e:
        return False, str(e)
    return True, "sinfo answers"


def state_from_text(nodes: str, jobs: str, parts: str = "", *, version: str = "?", user: str = "",
                    took_s: float = 0.0, at: float = 0.0) -> ClusterState:
    """A ClusterState from the three commands' recorded output (tests, replays of a bug report)."""
    n, bad = parse_nodes(nodes)
    j, bad_jobs = parse_jobs(jobs)
    return ClusterState(nodes=tuple(n), partitions=tuple(parse_partitions(parts)), jobs=tuple(j), version=version,
                        user=user, took_s=took_s, at=at, problems=tuple(bad + bad_jobs))
