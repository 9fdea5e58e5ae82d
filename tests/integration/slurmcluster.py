"""A throwaway one-node Slurm cluster (Debian's slurmctld, slurmd, munge) for tests and benchmarks.

Everything lives in one temporary directory: slurm.conf, gres.conf, the munge key and socket,
spool and state dirs, pid and log files, and eight GPU "devices" (character devices made with
``mknod c 1 3``: Slurm rejects plain files and then allocates no GPU). Ports are free ones picked
at start. Clients find the cluster through ``SLURM_CONF`` (``cluster.env``). The daemons run as the
current user, which must be root here (slurmd needs it to start jobs as their owner).

    with SlurmCluster(tmp) as c:
        subprocess.run(["sinfo"], env=c.env)

Measured on this container: ProctrackType=proctrack/linuxproc and TaskPlugin=task/none work
without cgroups; ``sbatch --gres=gpu:2`` gets CUDA_VISIBLE_DEVICES=0,1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
NODE = "ftmnode1"
PARTITION = "gpu"
GPUS = 8
CPUS = 16  # configured (SlurmdParameters=config_overrides): several small jobs fit on 2 real cores


def _sbin(name: str) -> str | None:
    for d in SBIN:
        p = Path(d) / name
        if os.access(p, os.X_OK):
            return str(p)
    return shutil.which(name)


def unavailable() -> str | None:
    """Why a throwaway Slurm cannot run here, or None."""
    missing = [n for n in ("slurmctld", "slurmd", "munged") if _sbin(n) is None]
    missing += [n for n in ("sinfo", "squeue", "sbatch", "scancel", "scontrol", "srun")
                if shutil.which(n) is None]
    if missing:
        return (f"Slurm is not installed here ({', '.join(missing)} missing): scripts/sysdeps.sh installs "
                "slurmctld, slurmd, munge and slurm-client")
    if os.geteuid() != 0:
        return "a throwaway Slurm needs root here (slurmd starts jobs as their owner)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmUnavailable(RuntimeError):
    pass


class SlurmCluster:
    def __init__(self, tmp: Path, *, partition: str = PARTITION, node: str = NODE):
        self.dir = Path(tmp)
        self.partition = partition
        self.node = node
        self.conf = self.dir / "slurm.conf"
        self.procs: list[subprocess.Popen] = []
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        for k in list(self.env):
            if k.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SINFO_", "SRUN_", "SALLOC_")) and k != "SLURM_CONF":
                del self.env[k]

    # -- setup -----------------------------------------------------------------------------------------

    def _write(self) -> None:
        d = self.dir
        for sub in ("state", "spool", "log", "run", "munge", "dev"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / "munge", 0o711)  # the socket must be reachable
        for i in range(GPUS):
            dev = d / "dev" / f"gpu{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # a character device, like /dev/null
        key = d / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            os.chmod(key, 0o400)
        self.munge_socket = d / "munge" / "munge.socket"
        self.spool = d / "spool"
        if len(str(d)) > 60:  # Unix socket paths (munge's, slurmd's per-step ones) must fit in 108 bytes
            import tempfile

            self._short = Path(tempfile.mkdtemp(prefix="ftm-slurm-", dir="/tmp"))
            os.chmod(self._short, 0o711)
            self.munge_socket = self._short / "munge.socket"
            self.spool = self._short / "spool"
            self.spool.mkdir()
        ctld_port, slurmd_port = free_port(), free_port()
        host = socket.gethostname().split(".")[0]
        self.conf.write_text(f"""\
ClusterName=ftmtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={d / 'state'}
SlurmdSpoolDir={self.spool}
SlurmctldPidFile={d / 'run' / 'slurmctld.pid'}
SlurmdPidFile={d / 'run' / 'slurmd.pid'}
SlurmctldLogFile={d / 'log' / 'slurmctld.log'}
SlurmdLogFile={d / 'log' / 'slurmd.log'}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
AccountingStorageType=accounting_storage/none
DefMemPerCPU=256
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MinJobAge=30
MaxJobCount=20000
SchedulerParameters=sched_interval=2
MessageTimeout=10
NodeName={self.node} NodeAddr=127.0.0.1 NodeHostname={host} CPUs={CPUS} RealMemory=16000 Gres=gpu:h200:{GPUS} State=UNKNOWN
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        (d / "gres.conf").write_text(
            f"AutoDetect=off\nNodeName={self.node} Name=gpu Type=h200 File={d / 'dev'}/gpu[0-{GPUS - 1}]\n")

    def _spawn(self, argv: list[str], name: str) -> subprocess.Popen:
        log = open(self.dir / "log" / f"{name}.out", "ab")
        p = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def start(self, timeout: float = 60.0) -> SlurmCluster:
        why = unavailable()
        if why:
            raise SlurmUnavailable(why)
        self._write()
        d = self.dir
        self._spawn([_sbin("munged"), "-F", "--force", f"--socket={self.munge_socket}",
                     f"--key-file={d / 'munge' / 'munge.key'}", f"--pid-file={d / 'run' / 'munged.pid'}",
                     f"--log-file={d / 'log' / 'munged.log'}", f"--seed-file={d / 'munge' / 'munged.seed'}"],
                    "munged")
        self._wait(lambda: self.munge_socket.exists(), 10, "munged did not create its socket")
        self._spawn([_sbin("slurmctld"), "-D", "-i", "-f", str(self.conf)], "slurmctld")
        self._spawn([_sbin("slurmd"), "-D", "-N", self.node, "-f", str(self.conf)], "slurmd")

        def idle() -> bool:
            r = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env, capture_output=True, text=True)
            return r.returncode == 0 and r.stdout.strip().rstrip("*") in ("idle", "mixed", "allocated")

        self._wait(idle, timeout, "the node did not become idle")
        return self

    def _wait(self, cond, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return
            for p in self.procs:
                if p.poll() is not None:
                    self.stop()
                    raise SlurmUnavailable(f"{what}: {Path(p.args[0]).name} exited with {p.returncode}; "
                                           f"logs in {self.dir / 'log'}:\n{self.logs()}")
            time.sleep(0.1)
        self.stop()
        raise SlurmUnavailable(f"{what} within {timeout:g} s; logs:\n{self.logs()}")

    def logs(self, tail: int = 2000) -> str:
        out = []
        for f in sorted((self.dir / "log").glob("*")):
            try:
                out.append(f"== {f.name}\n{f.read_text(errors='replace')[-tail:]}")
            except OSError:
                pass
        return "\n".join(out)

    def run(self, *argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), env=kw.pop("env", self.env), capture_output=True, text=True,
                              check=check, timeout=kw.pop("timeout", 30), **kw)

    def cancel_all(self) -> None:
        subprocess.run(["scancel", "--full", "-p", self.partition], env=self.env, capture_output=True)

    def wait_empty(self, timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = subprocess.run(["squeue", "-h", "-o", "%i"], env=self.env, capture_output=True, text=True)
            if r.returncode == 0 and not r.stdout.strip():
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if any(p.poll() is None for p in self.procs):
            self.cancel_all()
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)
        self.procs.clear()
        self._kill_job_leftovers()
        if getattr(self, "_short", None) is not None:
            shutil.rmtree(self._short, ignore_errors=True)

    def _kill_job_leftovers(self) -> None:
        """slurmstepd processes of this cluster that outlived slurmd (they carry our SLURM_CONF)."""
        import psutil

        me = os.getpid()
        marker = f"SLURM_CONF={self.conf}\0".encode()
        for p in psutil.process_iter(["cmdline"]):
            try:
                # raw bytes: slurmstepd sets its title over the start of its environment block, which
                # psutil's environ() then reads as empty
                with open(f"/proc/{p.pid}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                env = b""
            try:
                if p.pid != me and (marker in env or f"{self.dir}/" in " ".join(p.info["cmdline"] or [])):
                    p.kill()
            except psutil.Error:
                pass

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
