"""Several hosts over real SSH: what the cluster view costs as hosts are added (1, 4, 16 by default).

Each host is a throwaway OpenSSH server on 127.0.0.1 (tests/integration/sshd.py) whose remote command
is the app streaming the synthetic 8-GPU recording (`ftmllm-tui --replay h200x8_synth.jsonl stream`),
so the bytes and the parsing are those of a busy 8×H200 host with 16 processes. Per host count:

* data_s: from starting the links to every host's first snapshot (the code the TUI runs; the overview
  is complete then), median of --repeats cold starts (masters closed between them);
* wire_Bps_per_host: bytes the SSH master reads from its TCP socket per second per host, at a 2 s
  refresh, with and without SSH compression (`-o Compression=no` in [cluster] ssh_options);
* streamer_cpu_pct / streamer_rss_mb: one remote `ftmllm-tui stream` (median of the hosts), 1 s refresh;
* tui_*: the TUI with --hosts at 120×40 under a pty (bench/ptyrun.py), 1 s refresh, on the overview:
  first frame, CPU % of a core (app + its ssh clients) and bytes/s to the terminal in the steady state.

    python bench/bench_hosts.py [--counts 1,4,16] [--seconds 30]     one JSON line per host count
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from integration.sshd import Sshd
from ptyrun import measure

from ftmllm_tui.core.hosts.cluster import Cluster
from ftmllm_tui.core.hosts.ssh import SshOptions, control_path, parse_hosts

APP = str(Path(sys.executable).with_name("ftmllm-tui"))
SYNTH8 = ROOT / "tests" / "data" / "h200x8_synth.jsonl"


def _io(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Farm:
    def __init__(self, root: Path, n: int):
        self.root = root
        self.servers = [Sshd(root / f"h{i}", log_level="ERROR").start() for i in range(n)]
        known, blocks = [], []
        for i, s in enumerate(self.servers):
            pub = s.host_key.with_suffix(".pub").read_text().split()
            known.append(f"[127.0.0.1]:{s.port} {pub[0]} {pub[1]}")
            blocks.append(f"Host gpu{i:02d}\n  HostName 127.0.0.1\n  Port {s.port}\n  User {s.user}\n"
                          f"  IdentityFile {s.user_key}\n  IdentitiesOnly yes\n  IdentityAgent none\n"
                          f"  UserKnownHostsFile {root / 'known_hosts'}\n  LogLevel ERROR\n")
        (root / "known_hosts").write_text("\n".join(known) + "\n")
        self.config = root / "ssh_config"
        self.config.write_text("".join(blocks))
        self.names = [f"gpu{i:02d}" for i in range(n)]
        self.command = f"{APP} --replay {SYNTH8}"

    login_shell = True

    def opts(self, control: Path, compression: bool = True) -> SshOptions:
        return SshOptions(control, ssh_config=str(self.config), remote_command=self.command,
                          extra=() if compression else ("-o", "Compression=no"), login_shell=self.login_shell)

    def streamers(self) -> list[psutil.Process]:
        out = []
        for s in self.servers:
            try:
                for p in psutil.Process(s.proc.pid).children(recursive=True):
                    if "stream" in p.cmdline() and p.name().startswith(("python", "ftmllm")):
                        out.append(p)
            except psutil.Error:
                pass
        return out

    def stop(self) -> None:
        for s in self.servers:
            s.kill_all()


def master_pids(opts: SshOptions, names: list[str]) -> list[int]:
    pids = []
    for h in parse_hosts(",".join(names)):
        r = subprocess.run(["ssh", "-o", f"ControlPath={control_path(opts.control_dir, h)}", "-O", "check", "x"],
                           capture_output=True, text=True, timeout=5, check=False)
        if "pid=" in r.stderr:
            pids.append(int(r.stderr.split("pid=")[1].split(")")[0]))
    return pids


def time_to_data(farm: Farm, control: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        cluster = Cluster(parse_hosts(",".join(farm.names)), farm.opts(control), interval=1.0)
        t0 = time.monotonic()
        cluster.start()
        end = t0 + 60
        while time.monotonic() < end and not all(st.snapshot is not None for st in cluster.states()):
            time.sleep(0.01)
        times.append(time.monotonic() - t0)
        cluster.stop()  # closes the masters: the next repeat starts cold
    return statistics.median(times)


def wire(farm: Farm, control: Path, compression: bool, seconds: float) -> tuple[float, float]:
    """(wire bytes/s per host read by the masters, payload bytes/s per host) at a 2 s refresh."""
    cluster = Cluster(parse_hosts(",".join(farm.names)), farm.opts(control, compression), interval=2.0)
    cluster.start()
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and not all(st.state == "up" for st in cluster.states()):
            time.sleep(0.05)
        time.sleep(2.5)
        pids = master_pids(farm.opts(control, compression), farm.names)
        r0 = sum(_io(p, "rchar") for p in pids)
        b0 = sum(link.bytes_in for link in cluster.links.values())
        t0 = time.monotonic()
        time.sleep(seconds)
        dt = time.monotonic() - t0
        r1 = sum(_io(p, "rchar") for p in pids)
        b1 = sum(link.bytes_in for link in cluster.links.values())
        n = max(1, len(pids))
        return (r1 - r0) / dt / n, (b1 - b0) / dt / len(farm.names)
    finally:
        cluster.stop()


def streamer_cost(farm: Farm, control: Path, seconds: float) -> tuple[float, float]:
    cluster = Cluster(parse_hosts(",".join(farm.names)), farm.opts(control), interval=1.0)
    cluster.start()
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and not all(st.state == "up" for st in cluster.states()):
            time.sleep(0.05)
        time.sleep(2)
        procs = farm.streamers()
        c0 = {p.pid: sum(p.cpu_times()[:2]) for p in procs}
        t0 = time.monotonic()
        time.sleep(seconds)
        dt = time.monotonic() - t0
        cpu, rss = [], []
        for p in procs:
            try:
                cpu.append(100 * (sum(p.cpu_times()[:2]) - c0[p.pid]) / dt)
                rss.append(p.memory_info().rss / 1e6)
            except psutil.Error:
                pass
        return (statistics.median(cpu) if cpu else float("nan"), statistics.median(rss) if rss else float("nan"))
    finally:
        cluster.stop()


def tui(farm: Farm, tmp: Path, seconds: float) -> dict:
    cfg = tmp / "xdg" / "ftmllm-tui" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f'[cluster]\nssh_config = "{farm.config}"\nremote_command = "{farm.command}"\n'
                   f'login_shell = {"true" if farm.login_shell else "false"}\n')
    env = {"XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_STATE_HOME": str(tmp / "state"), "HOME": str(tmp)}
    hosts = ",".join(farm.names)
    try:
        return measure([APP, "--hosts", hosts, "--interval", "1"], 120, 40, seconds, min(10.0, seconds / 2),
                       env=env)
    finally:
        control = tmp / "state" / "ftmllm-tui" / "ssh"
        for h in parse_hosts(hosts):
            subprocess.run(["ssh", "-o", f"ControlPath={control_path(control, h)}", "-O", "exit", "x"],
                           capture_output=True, timeout=5, check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="1,4,16")
    ap.add_argument("--seconds", type=float, default=30.0, help="steady-state seconds of each measure")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-login-shell", action="store_true", help="[cluster] login_shell = false")
    a = ap.parse_args()
    for n in [int(x) for x in a.counts.split(",")]:
        with tempfile.TemporaryDirectory(prefix="bh") as d:
            tmp = Path(d)
            farm = Farm(tmp / "farm", n)
            farm.login_shell = not a.no_login_shell
            control = tmp / "ctl"
            try:
                row = {"hosts": n, "gpus": 8 * n, "login_shell": farm.login_shell}
                row["data_s"] = round(time_to_data(farm, control, a.repeats), 3)
                wc, pc = wire(farm, control, True, a.seconds / 2)
                wn, _ = wire(farm, control, False, a.seconds / 2)
                row.update(wire_Bps_per_host_compressed=round(wc, 1), wire_Bps_per_host_plain=round(wn, 1),
                           payload_Bps_per_host=round(pc, 1))
                cpu, rss = streamer_cost(farm, control, a.seconds / 2)
                row.update(streamer_cpu_pct=round(cpu, 2), streamer_rss_mb=round(rss, 1))
                t = tui(farm, tmp, a.seconds)
                row.update(tui_first_frame_s=t["first_frame_s"], tui_cpu_pct=t["cpu_pct_steady"],
                           tui_Bps_120x40=t["bytes_per_s_steady"], tui_rss_mb=t["rss_peak_mb"])
            finally:
                farm.stop()
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TZ", "UTC")
    main()
