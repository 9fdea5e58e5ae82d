"""core/hosts without SSH: host specs, the ssh argv and its quoting (run by a real sh), failure kinds,
the stream format (a real `ftmllm-tui stream` child), and the nvidia-smi fallback parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftmllm_tui.core.hosts.smi import SmiDecoder, smi_loop
from ftmllm_tui.core.hosts.ssh import (
    HostSpecError,
    SshOptions,
    classify,
    control_path,
    parse_host,
    parse_hosts,
    remote_line,
    split_ref,
    ssh_argv,
)
from ftmllm_tui.core.hosts.stream import STREAM_SCHEMA, StreamDecoder, StreamError

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
SYNTH = DATA / "h200x8_synth.jsonl"
HOSTILE = ["it's", "a b", "$(touch pwned)", "`id`", "x;rm -rf /", 'q"uote', "new\nline", "-flag", "*", "~"]


@pytest.mark.parametrize("text,target,user,port", [
    ("gpu3", "gpu3", None, None),
    ("alice@gpu3", "gpu3", "alice", None),
    ("gpu3:2222", "gpu3", None, 2222),
    ("alice@10.0.0.7:2222", "10.0.0.7", "alice", 2222),
    ("[::1]:2200", "::1", None, 2200),
])
def test_parse_host(text, target, user, port):
    h = parse_host(text)
    assert (h.name, h.target, h.user, h.port) == (text, target, user, port)


@pytest.mark.parametrize("bad", ["", "gpu3:99999", "gpu3:x", "bad user@gpu3", "-oProxyCommand=x", "a b"])
def test_parse_host_rejects(bad):
    with pytest.raises(HostSpecError):
        parse_host(bad)


def test_parse_hosts_and_refs():
    assert [h.name for h in parse_hosts("gpu1, gpu2,,gpu1")] == ["gpu1", "gpu2"]
    assert split_ref("gpu1:20261130-run") == ("gpu1", "20261130-run")
    assert split_ref("me@gpu1:2222:run") == ("me@gpu1:2222", "run")
    assert split_ref("run-only") == (None, "run-only")


def test_argv_options_and_short_control_path(tmp_path):
    deep = tmp_path / ("d" * 120)
    opts = SshOptions(deep, ssh_config="/cfg", extra=("-o", "Compression=no"))
    h = parse_host("me@gpu:2222")
    argv = ssh_argv(opts, h, "true")
    assert argv[:3] == ["ssh", "-F", "/cfg"] and argv[3:5] == ["-o", "Compression=no"]  # user's first: it wins
    for opt in ("BatchMode=yes", "ControlMaster=auto", "ControlPersist=no", "ServerAliveInterval=3"):
        assert opt in argv
    assert argv[-3:] == ["--", "me@gpu", "true"] and argv[argv.index("-p") + 1] == "2222"
    cp = next(a for a in argv if a.startswith("ControlPath="))
    assert len(cp) - len("ControlPath=") + 22 <= 100  # fits a Unix socket even from a deep state dir
    assert control_path(deep, h) != control_path(deep, parse_host("gpu"))


def test_remote_line_quotes_every_argument_through_a_real_login_shell(tmp_path):
    """The line as a remote sshd would run it: `$SHELL -c LINE`; each hostile string arrives intact."""
    line = remote_line(f"{sys.executable} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'", HOSTILE)
    env = {"SHELL": "/bin/sh", "HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=10, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == HOSTILE
    assert not (tmp_path / "pwned").exists()


def test_remote_line_without_the_login_shell(tmp_path):
    """login_shell = false: sshd's own shell runs the line; the profile is not read; quoting the same."""
    (tmp_path / ".profile").write_text("echo profile-was-read\n")
    cmd = f"{sys.executable} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'"
    env = {"SHELL": "/bin/sh", "HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    for login, profile in ((True, True), (False, False)):
        line = SshOptions(tmp_path, remote_command=cmd, login_shell=login).remote(parse_host("h"), HOSTILE)
        out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=10, check=False)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert ("profile-was-read" in lines) == profile and json.loads(lines[-1]) == HOSTILE


@pytest.mark.parametrize("rc,stderr,kind", [
    (255, "ssh: Could not resolve hostname nope: Name or service not known", "dns"),
    (255, "ssh: connect to host 127.0.0.1 port 1: Connection refused", "refused"),
    (255, "root@127.0.0.1: Permission denied (publickey).", "auth"),
    (255, "Host key verification failed.", "hostkey"),
    (255, "ssh: connect to host 10.255.255.1 port 22: Connection timed out", "timeout"),
    (255, "Connection to 127.0.0.1 closed by remote host.", "dropped"),
    (255, "Timeout, server 127.0.0.1 not responding.", "dropped"),
    (127, "bash: line 1: ftmllm-tui: command not found", "notfound"),
    (1, "Traceback...\nRuntimeError: NVML exploded", "crashed"),
])
def test_classify(rc, stderr, kind):
    got, msg = classify(rc, stderr, parse_host("gpu3"))
    assert got == kind and msg.startswith("gpu3: ")
    if kind == "auth":
        assert "run `ssh gpu3` once" in msg
    if kind == "crashed":
        assert "NVML exploded" in msg  # the streamer's last stderr line


def test_decoder_reports_an_unknown_schema_and_data_before_the_header():
    d = StreamDecoder("me")
    with pytest.raises(StreamError, match="version 99"):
        d.feed(json.dumps({"meta": {"stream_schema": 99}}))
    with pytest.raises(StreamError, match="before its header"):
        StreamDecoder("me").feed(json.dumps({"devices": []}))
    d = StreamDecoder("me")  # a login profile that greets on stdout: skipped, up to a point
    assert d.feed("Welcome to gpu3! Last login: ...") is None and d.meta is None
    d.feed(json.dumps({"meta": {"stream_schema": STREAM_SCHEMA}}))
    assert d.meta is not None
    with pytest.raises(StreamError, match="not a ftmllm-tui stream"):
        d = StreamDecoder("me")
        for _ in range(StreamDecoder.MAX_NOISE + 1):
            d.feed("motd line")


def _stream(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ftmllm_tui.cli", "--replay", str(SYNTH), "stream",
                             "--interval", "0.2", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def test_stream_parses_into_snapshots_and_ends_on_stdin_eof():
    p = _stream()
    try:
        d = StreamDecoder("me")
        assert d.feed(p.stdout.readline()) is None  # the header
        assert d.meta["stream_schema"] == STREAM_SCHEMA and d.meta["host"] and d.meta["source"] == "replay"
        snaps = [d.feed(p.stdout.readline()) for _ in range(2)]
        assert all(len(s.gpus) == 8 for s in snaps) and snaps[0].is_replay
        assert {r.user for r in snaps[0].processes} == {"alice", "root"}
        t0 = time.monotonic()
        p.stdin.close()  # the link closed
        assert p.wait(timeout=5) == 0 and time.monotonic() - t0 < 2
    finally:
        p.kill()
        p.wait()


def test_stream_ends_quietly_when_stdout_closes():
    p = _stream()
    try:
        p.stdout.readline()
        p.stdout.close()
        assert p.wait(timeout=5) == 0
        assert b"Traceback" not in p.stderr.read()
    finally:
        p.kill()
        p.wait()


def test_stream_path_never_imports_textual():
    code = ("import sys; from ftmllm_tui.cli import main; "
            f"rc = main(['--replay', {str(SYNTH)!r}, 'stream', '--count', '1']); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'libtmux') or "
            "m.startswith('ftmllm_tui.ui')]; "
            "print(bad, file=sys.stderr); sys.exit(rc or (3 if bad else 0))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 2  # header + one sweep


def test_stream_without_gpu_or_recording_says_what_to_do(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "--replay", str(tmp_path / "none.jsonl"),
                          "stream"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert out.returncode == 2 and "recording not found" in out.stderr and out.stdout == ""


# real `nvidia-smi --query-compute-apps` rows from fixtures/nvml/nvidia-smi.txt (noheader,nounits form)
SMI_BLOCK = """\
@@gpu
0, NVIDIA H200, GPU-698bbe9b-ab4b-1c46-a8df-8130f9f59663, 00000000:00:06.0, 100, 17, 12892, 143771, 58, 531.49, 700.00
1, NVIDIA H200, GPU-b12d1044-bf05-b762-9c8a-9c36fe89f685, 00000000:00:07.0, 0, 0, 0, 143771, 40, 92.10, 700.00
@@apps
GPU-698bbe9b-ab4b-1c46-a8df-8130f9f59663, 586, /opt/conda/envs/llm/bin/python3, 3786
GPU-698bbe9b-ab4b-1c46-a8df-8130f9f59663, 662, /opt/conda/envs/llm/bin/python, 8906
@@end
"""


def test_smi_decoder():
    d = SmiDecoder("me")
    snaps = [s for s in (d.feed(line) for line in SMI_BLOCK.splitlines()) if s is not None]
    assert len(snaps) == 1
    s = snaps[0]
    assert [g.short_name for g in s.gpus] == ["H200", "H200"] and s.free == (1,)
    assert s.gpus[0].memory_used_bytes == 12892 * 2**20 and s.gpus[0].power_w == pytest.approx(531.49)
    assert [(r.gpu_index, r.pid, r.gpu.gpu_memory_bytes) for r in s.processes] == \
        [(0, 586, 3786 * 2**20), (0, 662, 8906 * 2**20)]
    assert s.processes[0].info.command == "/opt/conda/envs/llm/bin/python3"


def test_smi_loop_runs_a_stand_in_under_sh(tmp_path):
    """The fallback loop as the remote login shell runs it, with an nvidia-smi stand-in on PATH."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    gpu, apps = SMI_BLOCK.split("@@apps\n")
    (tmp_path / "gpu.csv").write_text(gpu.removeprefix("@@gpu\n"))
    (tmp_path / "apps.csv").write_text(apps.removesuffix("@@end\n"))
    smi = bin_ / "nvidia-smi"
    smi.write_text(f'#!/bin/sh\ncase "$1" in --query-gpu=*) cat {tmp_path}/gpu.csv;; '
                   f'--query-compute-apps=*) cat {tmp_path}/apps.csv;; esac\n')
    smi.chmod(0o755)
    env = {"PATH": f"{bin_}:/usr/bin:/bin"}
    p = subprocess.Popen(["/bin/sh", "-c", smi_loop(0.2)], stdout=subprocess.PIPE, env=env)
    try:
        d = SmiDecoder("me")
        snaps = []
        while len(snaps) < 2:
            s = d.feed(p.stdout.readline())
            if s is not None:
                snaps.append(s)
        assert all(len(s.gpus) == 2 and len(s.processes) == 2 for s in snaps)
        p.stdout.close()  # the link closed: the loop ends on its next write
        p.wait(timeout=5)  # ends (SIGPIPE) instead of looping forever
    finally:
        p.kill()
        p.wait()


def test_local_is_a_host_without_ssh(tmp_path):
    """`--hosts local,...`: this machine's sampler in its own thread, the same LinkState as a remote host;
    a machine without a driver says so on its row."""
    from ftmllm_tui.core.gpus.nvml import NvmlUnavailable
    from ftmllm_tui.core.gpus.samplers import ReplaySampler
    from ftmllm_tui.core.hosts.cluster import collect, totals

    opts = SshOptions(tmp_path / "ctl")
    [st] = collect(parse_hosts("local"), opts, timeout=10, open_local=lambda: ReplaySampler(SYNTH))
    assert (st.state, st.mode, len(st.snapshot.gpus), len(st.snapshot.free)) == ("up", "local", 8, 4)
    assert totals([st]).line().startswith("4 of 8 GPUs free")

    def no_driver():
        raise NvmlUnavailable("no NVIDIA driver found")

    [st] = collect(parse_hosts("local"), opts, timeout=10, open_local=no_driver)
    assert st.state == "down" and st.error == "local: no NVIDIA driver found"
    assert not (tmp_path / "ctl").exists()  # no SSH at all


def test_real_live_stream_from_an_h200():
    """Lines a real `ftmllm-tui stream` printed on a lent H200 under load (bench/gpu_stream.sh): the same
    decoder the links use gives live snapshots with users, run ids and the remote login as "me"."""
    d = StreamDecoder("someone-else")
    snaps = [s for s in (d.feed(line) for line in (DATA / "stream_h200x1_live.jsonl").read_text().splitlines())
             if s is not None]
    assert d.meta["source"] == "nvml" and d.meta["host"] and len(snaps) == 5
    s = snaps[-1]
    assert not s.is_replay and s.gpus[0].short_name == "H200" and s.gpus[0].utilization_pct is not None
    assert {r.user for r in s.processes} == {"alice", "root"} and s.me == "root"
    assert any(r.info.run_id and r.info.run_id.startswith("stream-") for r in s.processes)


def test_real_nvidia_smi_csv_from_an_h200():
    """`nvidia-smi --query-gpu/--query-compute-apps --format=csv,noheader,nounits` as printed on a lent H200."""
    d = SmiDecoder("me")
    [s] = [s for s in (d.feed(line) for line in (DATA / "nvidia-smi_query_h200x1.txt").read_text().splitlines())
           if s is not None]
    g = s.gpus[0]
    assert (g.short_name, g.utilization_pct, g.memory_used_bytes, g.temperature_c) == ("H200", 100, 13383 * 2**20, 71)
    assert [(r.pid, r.gpu.gpu_memory_bytes // 2**20, r.info.command) for r in s.processes] == \
        [(785, 3844, "python3"), (845, 9524, "/opt/torch/.venv/bin/python")]
    assert s.free == ()
