"""Several hosts over real OpenSSH: throwaway sshd servers on 127.0.0.1 (one per host, own port), a
test ssh_config with aliases and a known_hosts file, the real ssh client, the real app as the remote
streamer (`stream --replay`, no GPU here) and a real shell loop around an nvidia-smi stand-in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from ftmllm_tui.core.hosts.cluster import Cluster, collect, totals
from ftmllm_tui.core.hosts.ssh import SshOptions, control_path, parse_hosts

from .conftest import run_pids
from .sshd import Sshd, SshdUnavailable, unavailable

ROOT = Path(__file__).resolve().parents[2]
APP = str(Path(sys.executable).with_name("ftmllm-tui"))
SYNTH8 = ROOT / "tests" / "data" / "h200x8_synth.jsonl"
REC2 = ROOT / "tests" / "data" / "h200x2_ftmllm_record.jsonl"
SMI_GPU = """\
0, NVIDIA H200, GPU-698bbe9b-ab4b-1c46-a8df-8130f9f59663, 00000000:00:06.0, 100, 17, 12892, 143771, 58, 531.49, 700.00
1, NVIDIA H200, GPU-b12d1044-bf05-b762-9c8a-9c36fe89f685, 00000000:00:07.0, 0, 0, 0, 143771, 40, 92.10, 700.00
"""
SMI_APPS = "GPU-698bbe9b-ab4b-1c46-a8df-8130f9f59663, 586, /opt/conda/envs/llm/bin/python3, 3786\n"

pytestmark = pytest.mark.skipif(bool(unavailable()), reason=unavailable() or "")


def until(cond, timeout: float, what: str, step: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def host_block(alias: str, s: Sshd, known: Path, key: Path | None = None) -> str:
    return f"""Host {alias}
  HostName 127.0.0.1
  Port {s.port}
  User {s.user}
  IdentityFile {key or s.user_key}
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile {known}
  LogLevel ERROR
"""


class Hosts:
    """Three hosts: gpu-a (8 GPUs, the app), gpu-b (2 GPUs, the app), gpu-smi (no app: nvidia-smi on the
    PATH its login profile sets). Plus aliases that fail: a refused key, a wrong host key."""

    def __init__(self, root: Path):
        self.root = root
        self.servers: dict[str, Sshd] = {}
        self.known = root / "known_hosts"
        self.config = root / "ssh_config"

    def start(self) -> Hosts:
        smi_home = self.root / "smi-home"
        (smi_home / "bin").mkdir(parents=True)
        (smi_home / "gpu.csv").write_text(SMI_GPU)
        (smi_home / "apps.csv").write_text(SMI_APPS)
        smi = smi_home / "bin" / "nvidia-smi"
        smi.write_text(f'#!/bin/sh\ncase "$1" in --query-gpu=*) cat {smi_home}/gpu.csv;; '
                       f'--query-compute-apps=*) cat {smi_home}/apps.csv;; esac\n')
        smi.chmod(0o755)
        # a login shell reads $HOME/.profile: that is how the user's PATH reaches the remote commands
        # ... and a profile that greets on stdout (gpu-b, gpu-smi): the stream and JSON readers skip it
        (smi_home / ".profile").write_text(f'PATH="{smi_home}/bin:$PATH"\necho "Welcome! (a profile greeting)"\n')
        for name, extra in (("gpu-a", ""), ("gpu-b", f"SetEnv HOME={smi_home}\n"),
                            ("gpu-smi", f"SetEnv HOME={smi_home}\n")):
            self.servers[name] = Sshd(self.root / name, log_level="ERROR", extra_config=extra).start()
        self.write()
        return self

    def write(self) -> None:
        lines, blocks = [], []
        for name, s in self.servers.items():
            pub = s.host_key.with_suffix(".pub").read_text().split()
            lines.append(f"[127.0.0.1]:{s.port} {pub[0]} {pub[1]}")
            blocks.append(host_block(name, s, self.known))
        a = self.servers["gpu-a"]
        wrong_key = self.root / "wrong_key"
        if not wrong_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
        blocks.append(host_block("gpu-nokey", a, self.known, key=wrong_key))
        bad_known = self.root / "known_hosts.wrong"
        other = self.servers["gpu-b"].host_key.with_suffix(".pub").read_text().split()
        bad_known.write_text(f"[127.0.0.1]:{a.port} {other[0]} {other[1]}\n")
        blocks.append(host_block("gpu-badhostkey", a, bad_known))
        self.known.write_text("\n".join(lines) + "\n")
        self.config.write_text("".join(blocks))

    def opts(self, control: Path, **kw) -> SshOptions:
        per = {"gpu-a": f"{APP} --replay {SYNTH8}", "gpu-b": f"{APP} --replay {REC2}",
               "gpu-smi": "ftmllm-tui-is-not-installed-here"}
        return SshOptions(control, ssh_config=str(self.config), remote_command=f"{APP} --replay {SYNTH8}",
                          per_host_command=per, **kw)

    def settings_toml(self) -> str:
        return (f'[cluster]\nssh_config = "{self.config}"\nremote_command = "{APP} --replay {SYNTH8}"\n'
                f'[host.gpu-b]\nremote_command = "{APP} --replay {REC2}"\n'
                '[host.gpu-smi]\nremote_command = "ftmllm-tui-is-not-installed-here"\n')

    def stop(self) -> None:
        for s in self.servers.values():
            s.kill_all()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    h = Hosts(tmp_path_factory.mktemp("hosts"))
    try:
        h.start()
    except SshdUnavailable as e:
        pytest.fail(str(e))
    yield h
    h.stop()


@pytest.fixture
def control(tmp_path):
    """The control dir; every master left in it is closed afterwards (ssh -O exit via Cluster.stop)."""
    d = tmp_path / "ctl"
    yield d
    close_masters(d)


ALIASES = ("gpu-a", "gpu-b", "gpu-smi", "gpu-nokey", "gpu-badhostkey", "nohost.invalid", "gpu-flaky")


def sockets(control: Path) -> list[Path]:
    return [p for p in (control_path(control, h) for h in parse_hosts(",".join(ALIASES))) if p.exists()]


def close_masters(control: Path) -> None:
    for sock in sockets(control):
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True, timeout=5, check=False)


def test_snapshot_hosts_json_every_host_and_every_failure(hosts, tmp_path):
    """One CLI call: three hosts with data (two streams, one nvidia-smi fallback) and three that fail,
    each with its own one-line reason; nobody waits for anybody."""
    cfg = tmp_path / "config" / "ftmllm-tui" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(hosts.settings_toml())
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"))
    t0 = time.monotonic()
    out = subprocess.run([APP, "snapshot", "--json", "--hosts",
                          "gpu-a,gpu-b,gpu-smi,gpu-nokey,gpu-badhostkey,nohost.invalid"],
                         capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL, check=False)
    took = time.monotonic() - t0
    try:
        doc = json.loads(out.stdout)
        by = {h["host"]: h for h in doc["hosts"]}
        assert out.returncode == 1, out.stderr  # some hosts failed
        a, b, smi = by["gpu-a"], by["gpu-b"], by["gpu-smi"]
        assert (a["state"], a["gpu_count"], a["free_gpus"], a["mode"]) == ("up", 8, 4, "app")
        assert a["users"] == {"alice": 2, "root": 2} and a["snapshot"]["source"] == "replay"
        assert (b["gpu_count"], b["free_gpus"]) == (2, 0) and b["users"] == {"root": 2, "alice": 1}
        assert (smi["state"], smi["mode"], smi["gpu_count"], smi["free_gpus"]) == ("up", "smi", 2, 1)
        assert "install ftmllm-tui" in smi["note"]
        assert [p["pid"] for p in smi["snapshot"]["processes"]] == [586]
        assert by["gpu-nokey"]["kind"] == "auth"
        assert "needs an interactive login: run `ssh gpu-nokey` once" in by["gpu-nokey"]["error"]
        assert by["gpu-badhostkey"]["kind"] == "hostkey" and "never accepted automatically" in \
            by["gpu-badhostkey"]["error"]
        assert by["nohost.invalid"]["kind"] == "dns"
        assert doc["totals"]["gpus"] == 12 and doc["totals"]["free"] == 5
        assert took < 20, took
        # gpu-b's profile greets on stdout before `runs --json` prints: still read
        r = subprocess.run([APP, "runs", "--json", "--hosts", "gpu-b"], capture_output=True, text=True, env=env,
                           timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert r.returncode == 0 and json.loads(r.stdout)["errors"] == [], r.stdout + r.stderr
    finally:
        close_masters(tmp_path / "state" / "ftmllm-tui" / "ssh")


def test_snapshot_hosts_text_and_bad_host(hosts, tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_STATE_HOME=str(tmp_path / "s"))
    bad = subprocess.run([APP, "snapshot", "--hosts", "gpu1:99999"], capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert bad.returncode == 2 and "not a port" in bad.stderr and bad.stderr.count("\n") == 1
    bad = subprocess.run([APP, "snapshot", "--json", "--hosts=-oProxyCommand=touch_x"], capture_output=True,
                         text=True, env=env, timeout=60, check=False)
    assert bad.returncode == 2 and "error" in json.loads(bad.stdout)


def test_cluster_overview_down_and_back(hosts, tmp_path, control):
    """A host whose sshd dies is marked within seconds; it comes back on its own; the other host
    never stops updating meanwhile."""
    s = Sshd(tmp_path / "flaky", log_level="ERROR").start()
    pub = s.host_key.with_suffix(".pub").read_text().split()
    known = tmp_path / "known"
    known.write_text(f"[127.0.0.1]:{s.port} {pub[0]} {pub[1]}\n")
    cfg = tmp_path / "ssh_config"
    cfg.write_text(hosts.config.read_text() + host_block("gpu-flaky", s, known))
    opts = SshOptions(control, ssh_config=str(cfg), remote_command=f"{APP} --replay {SYNTH8}")
    cluster = Cluster(parse_hosts("gpu-a,gpu-flaky"), opts, interval=0.5).start()
    try:
        a, flaky = cluster.links["gpu-a"], cluster.links["gpu-flaky"]
        until(lambda: a.state.state == "up" and flaky.state.state == "up", 20, "both hosts up")
        s.kill_all()
        t0 = time.monotonic()
        until(lambda: flaky.state.state in ("stale", "down"), 15, "the dead host marked")
        marked = time.monotonic() - t0
        st = flaky.state
        assert st.kind in ("dropped", "timeout", "refused", "crashed"), st
        assert st.error and st.error.startswith("gpu-flaky: ")
        seen = a.state.last_data
        until(lambda: a.state.last_data > seen, 5, "the other host still updating")
        until(lambda: flaky.state.kind == "refused", 20, "reconnect attempts see the refusal")
        s.start(same_port=True)
        until(lambda: flaky.state.state == "up", 25, "the host back")
        assert totals(cluster.states()).gpus == 16
        assert marked < 10, marked
    finally:
        cluster.stop()
        s.kill_all()


def test_stalled_streamer_is_marked_stale(hosts, tmp_path, control):
    opts = hosts.opts(control)
    from ftmllm_tui.core.hosts.link import HostLink

    link = HostLink(parse_hosts("gpu-b")[0], opts, interval=0.5, stale_after=2.0).start()
    stopped: list[psutil.Process] = []
    try:
        until(lambda: link.state.state == "up", 20, "up")
        sshd = psutil.Process(hosts.servers["gpu-b"].proc.pid)

        def streamer():
            for p in sshd.children(recursive=True):
                try:
                    if "stream" in p.cmdline():
                        return p
                except psutil.Error:
                    pass
            return None

        proc = until(streamer, 5, "the remote streamer")
        proc.send_signal(signal.SIGSTOP)
        stopped.append(proc)
        until(lambda: link.state.state == "stale", 8, "stale")
        st = link.state
        assert st.age() >= 2 and st.snapshot is not None  # the last data stays, with its age
        proc.send_signal(signal.SIGCONT)
        stopped.clear()
        until(lambda: link.state.state == "up", 8, "up again")
    finally:
        for p in stopped:
            p.send_signal(signal.SIGCONT)
        link.stop()


def test_collect_closes_nothing_it_should_not(hosts, tmp_path, control):
    """The masters outlive one `snapshot --hosts` (ControlPersist, for the next call) and answer -O check;
    Cluster.stop() ends them."""
    opts = hosts.opts(control)
    states = collect(parse_hosts("gpu-a"), opts, timeout=20)
    assert states[0].snapshot is not None
    [sock] = sockets(control)
    check = ["ssh", "-o", f"ControlPath={sock}", "-O", "check", "x"]
    assert subprocess.run(check, capture_output=True, timeout=5, check=False).returncode == 0
    cluster = Cluster(parse_hosts("gpu-a"), opts, interval=0.5).start()
    until(lambda: cluster.links["gpu-a"].state.state == "up", 10, "up on the existing master")
    cluster.stop()
    assert subprocess.run(check, capture_output=True, timeout=5, check=False).returncode != 0


# -- runs on another host: launch there, list, follow, stop; the app on that host does each -----------
LF = ROOT / ".venv-lf" / "bin" / "llamafactory-cli"
HOSTILE_NAME = "tiny it's $(touch pwned) `id`"


@pytest.mark.timeout(300)
def test_remote_launch_follow_and_stop_of_a_real_llamafactory_run(hosts, tmux_env, tmp_path, control):
    """The real tiny LLaMA-Factory run on "gpu-a" (a real sshd here), driven from this side with
    launch --host, runs --hosts, logs HOST:RUN and stop HOST:RUN; the run's name is hostile shell text."""
    import shlex

    from .test_e2e_llamafactory import _lf, build, yaml_output_dir

    if not LF.exists():
        pytest.fail("the LLaMA-Factory test environment is missing: run `sh scripts/lf_env.sh`")
    cfg = build(tmp_path, "--epochs", "200")
    remote_env = _lf().train_env(cfg.parent, 1, base={
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmux_env["HOME"],
        "XDG_STATE_HOME": str(tmp_path / "remote-state"), "XDG_CONFIG_HOME": str(tmp_path / "remote-config"),
        "FTMLLM_TMUX_SOCKET": tmux_env["FTMLLM_TMUX_SOCKET"], "FTMLLM_LLAMAFACTORY_CLI": str(LF)})
    # the remote app's environment rides in the remote command (as `conda run ...` would)
    remote_cmd = shlex.join(["env", *(f"{k}={v}" for k, v in sorted(remote_env.items())
                                      if k in ("PATH", "HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "TMPDIR",
                                               "MPLCONFIGDIR", "HF_HUB_OFFLINE", "FTMLLM_TMUX_SOCKET",
                                               "FTMLLM_LLAMAFACTORY_CLI")), APP])
    local_cfg = tmp_path / "local-config" / "ftmllm-tui" / "config.toml"
    local_cfg.parent.mkdir(parents=True)
    local_cfg.write_text(f'[cluster]\nssh_config = "{hosts.config}"\nhosts = ["gpu-a"]\n'
                         f'[host.gpu-a]\nremote_command = {json.dumps(remote_cmd)}\n')
    local = dict(tmux_env, XDG_CONFIG_HOME=str(local_cfg.parent.parent), XDG_STATE_HOME=str(tmp_path / "local-state"),
                 FTMLLM_TMUX_SOCKET="nobody-local")

    def app(*args, timeout=60):
        return subprocess.run([APP, *args], capture_output=True, text=True, env=local, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=tmp_path, check=False)

    try:
        r = app("launch", "--host", "gpu-a", str(cfg), "--gpus", "none", "--name", HOSTILE_NAME, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "on gpu-a: exec $SHELL -l -c " in r.stderr  # the exact remote command, shown
        run_id = r.stdout.strip().splitlines()[-1]
        assert not (tmp_path / "pwned").exists() and not (Path(tmux_env["HOME"]) / "pwned").exists()

        def listed():
            r = app("runs", "--json", "--hosts", "gpu-a")
            assert r.returncode == 0, r.stderr
            mine = [x for x in json.loads(r.stdout)["runs"] if x["id"] == run_id]
            return mine[0] if mine and (mine[0].get("progress") or {}).get("step") else None

        x = until(listed, 180, "the remote run training, seen from here", step=1.0)
        # the name arrived whole (the remote app made it a safe name, as a local launch does)
        assert x["host"] == "gpu-a" and x["name"] == "tiny-it-s-touch-pwned-id" and x["state"] == "running"
        text = app("runs", "--hosts", "gpu-a")
        assert text.returncode == 0 and text.stdout.startswith("HOST") and run_id[:34] in text.stdout
        logs = app("logs", f"gpu-a:{run_id}", "-n", "5")
        assert logs.returncode == 0 and logs.stdout.strip(), logs.stderr
        assert app("logs", "gpu-a:no-such-run").returncode != 0
        pids = run_pids(run_id)
        assert pids
        assert subprocess.run([APP, "--readonly", "stop", f"gpu-a:{run_id}", "--yes"], capture_output=True,
                              text=True, env=local, check=False).returncode == 2
        # the Runs view: the run with its HOST, stopped with x (the app on gpu-a does it)
        import asyncio

        asyncio.run(_stop_in_runs_view(local, run_id))
        until(lambda: run_pids(run_id) == [], 60, "every process of the run gone")
        again = app("stop", f"gpu-a:{run_id}", "--yes", timeout=120)
        assert again.returncode == 0 and "no live process" in again.stdout, again.stdout + again.stderr
        audit = (tmp_path / "remote-state" / "ftmllm-tui" / "audit.jsonl").read_text()
        assert str(pids[0]) in audit or run_id in audit  # written on that host
        assert Path(yaml_output_dir(cfg)).exists()
    finally:
        close_masters(tmp_path / "local-state" / "ftmllm-tui" / "ssh")


async def _stop_in_runs_view(env: dict[str, str], run_id: str) -> None:
    """FtmApp with the configured cluster (real links), Runs view, the remote row, x, confirm."""
    from unittest import mock

    from ftmllm_tui.cli.hosts import tui_cluster
    from ftmllm_tui.context import RunContext
    from ftmllm_tui.core.gpus.samplers import ReplaySampler
    from ftmllm_tui.settings import load_settings
    from ftmllm_tui.ui.app import FtmApp
    from ftmllm_tui.ui.screens.runs import RunsScreen, RunsTable

    from ..ui.conftest import screen_text
    from ..ui.conftest import until as ui_until

    with mock.patch.dict(os.environ, env):
        settings = load_settings()
        cluster = tui_cluster(SimpleNamespace(hosts=None, sub_hosts=None), settings)
        app = FtmApp(ReplaySampler(SYNTH8), settings=settings, ctx=RunContext.create(settings), autostart=False,
                     cluster=cluster)
        async with app.run_test(size=(120, 30)) as pilot:
            app.open_runs()
            key = f"gpu-a:{run_id}"
            def listed() -> bool:
                tables = app.screen.query(RunsTable) if isinstance(app.screen, RunsScreen) else []
                return any(key in t.order for t in tables)

            await ui_until(pilot, listed, timeout=30)
            rows = screen_text(app)
            assert rows[1].split()[0] == "HOST" and any(r.split()[:1] == ["gpu-a"] for r in rows[2:])
            app.screen.query_one(RunsTable).move_cursor_to_key(key)
            await pilot.press("x")
            await ui_until(pilot, lambda: "Stop " in " ".join(screen_text(app)))
            from ftmllm_tui.ui.screens.confirm import ConfirmScreen

            assert isinstance(app.screen, ConfirmScreen)  # focused on Cancel
            await pilot.click("#yes")
            await ui_until(pilot, lambda: any("gpu-a:" in str(n.message) and "gone" in str(n.message)
                                              for n in app._notifications), timeout=90)


async def test_signal_from_the_home_view_of_another_host(hosts, tmp_path, control):
    """k on a remote host's process: the dialog's plan comes from the app there (guard included: PID 1
    refused), SIGTERM is sent there, the audit line is written there."""
    import shlex

    from ftmllm_tui.core.gpus.samplers import ReplaySampler
    from ftmllm_tui.ui.app import FtmApp
    from ftmllm_tui.ui.screens.remote_signal import RemoteKillScreen

    from ..ui.conftest import screen_text
    from ..ui.conftest import until as ui_until

    victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        ctime = psutil.Process(victim.pid).create_time()
        remote_state = tmp_path / "remote-state"
        opts = SshOptions(control, ssh_config=str(hosts.config), per_host_command={
            "gpu-a": shlex.join(["env", f"XDG_STATE_HOME={remote_state}", APP])})
        cluster = Cluster(parse_hosts("gpu-a"), opts)  # not started: the dialog only runs commands
        app = FtmApp(ReplaySampler(SYNTH8), autostart=False)
        async with app.run_test(size=(120, 30)) as pilot:
            app.push_screen(RemoteKillScreen([(victim.pid, ctime, (0,), 2**30), (1, None, (), None)], cluster, "gpu-a"))
            await ui_until(pilot, lambda: "refused" in " ".join(screen_text(app)), timeout=30)
            text = "\n".join(screen_text(app))
            assert "sleep 300" in text and "PID 1 is never signalled" in text
            assert psutil.pid_exists(victim.pid)  # nothing sent yet; Cancel is focused
            assert app.focused is not None and app.focused.id == "cancel"
            await pilot.click("#term")
            await ui_until(pilot, lambda: victim.poll() is not None, timeout=60)
            await ui_until(pilot, lambda: "signalled" in " ".join(screen_text(app)), timeout=30)
        assert victim.returncode == -15
        audit = [json.loads(x) for x in (remote_state / "ftmllm-tui" / "audit.jsonl").read_text().splitlines()]
        assert [(a["pid"], a["signal"]) for a in audit] == [(victim.pid, "SIGTERM")]
    finally:
        victim.kill()
        victim.wait()


async def test_overview_over_real_links(hosts, tmp_path, control):
    """The TUI started with three real hosts: the overview first, one row per host with its GPUs, the
    nvidia-smi host marked as such; Enter shows that host's GPUs in the home view."""
    from ftmllm_tui.core.gpus.samplers import ReplaySampler
    from ftmllm_tui.ui.app import FtmApp
    from ftmllm_tui.ui.screens.cluster import ClusterScreen
    from ftmllm_tui.ui.screens.home import HomeScreen

    from ..ui.conftest import screen_text
    from ..ui.conftest import until as ui_until

    cluster = Cluster(parse_hosts("gpu-a,gpu-b,gpu-smi"), hosts.opts(control), interval=1.0)
    app = FtmApp(ReplaySampler(SYNTH8), autostart=False, cluster=cluster)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await ui_until(pilot, lambda: isinstance(app.screen, ClusterScreen) and
                           "5 of 12 GPUs free" in screen_text(app)[0], timeout=30)
            rows = {r.split()[0]: r for r in screen_text(app)[3:6]}
            assert set(rows) == {"gpu-a", "gpu-b", "gpu-smi"}
            assert "4/8" in rows["gpu-a"] and "0/2" in rows["gpu-b"] and "1/2" in rows["gpu-smi"]
            assert rows["gpu-smi"].rstrip().endswith("up smi") and "alice:2" in rows["gpu-a"]
            await pilot.press("down", "enter")
            await ui_until(pilot, lambda: isinstance(app.screen, HomeScreen) and app.snapshot is not None
                           and len(app.snapshot.gpus) == 2, timeout=10)
            assert app.sampler.host == "gpu-b"
    finally:
        cluster.stop()


async def test_launch_from_the_overview_on_another_host(hosts, tmux_env, tmp_path, control):
    """n on a host row: the arguments, the exact remote command in the confirmation, the run started by
    the app there (the stand-in llamafactory-cli), seen with runs --json there."""
    import shlex

    from ftmllm_tui.core.gpus.samplers import ReplaySampler
    from ftmllm_tui.ui.app import FtmApp
    from ftmllm_tui.ui.screens.cluster import ClusterScreen
    from ftmllm_tui.ui.screens.confirm import ConfirmScreen

    from ..ui.conftest import screen_text
    from ..ui.conftest import until as ui_until

    cfg = tmp_path / "it's a cfg.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\nsteps: 2\n")
    env = {k: tmux_env[k] for k in ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "FTMLLM_TMUX_SOCKET",
                                    "FTMLLM_LLAMAFACTORY_CLI", "PYTHONPATH")}
    def cmd(rec):
        return shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), APP, "--replay", str(rec)])

    opts = SshOptions(control, ssh_config=str(hosts.config), per_host_command={"gpu-a": cmd(SYNTH8), "gpu-b": cmd(REC2)})
    cluster = Cluster(parse_hosts("gpu-a,gpu-b"), opts, interval=1.0)
    app = FtmApp(ReplaySampler(SYNTH8), autostart=False, cluster=cluster)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await ui_until(pilot, lambda: isinstance(app.screen, ClusterScreen) and
                           "4 of 10 GPUs free" in screen_text(app)[0], timeout=30)
            await pilot.press("N")  # auto: gpu-a has 4 free GPUs, gpu-b none
            await pilot.pause()
            for ch in f"{shlex.quote(str(cfg))} --gpus none --name from-overview":
                await pilot.press(ch if ch != " " else "space")
            await pilot.press("enter")
            await ui_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=5)
            text = " ".join(screen_text(app))
            assert "Launch on gpu-a?" in text and "exec $SHELL -l -c" in text
            await pilot.click("#yes")
            await ui_until(pilot, lambda: any("Started on gpu-a" in str(n.message) for n in app._notifications),
                           timeout=60)
    finally:
        cluster.stop()
    runs = json.loads(subprocess.run([APP, "runs", "--json"], capture_output=True, text=True, env=tmux_env,
                                     timeout=60, check=False).stdout)
    runs = [r for r in runs if not r["external"]]  # (LLaMA-Factory processes of other tests are listed too)
    assert [r["name"] for r in runs] == ["from-overview"] and runs[0]["config"] == str(cfg)


async def test_launch_dialog_on_another_host_copies_the_config(hosts, tmux_env, tmp_path, control):
    """The ordinary launch dialog with hosts: Host gpu-a, copy the config there first, Start: the local
    file goes to gpu-a's state dir and the app there launches that copy (the overview's start)."""
    import shlex

    from textual.widgets import Checkbox, Select, Static

    from ftmllm_tui.core.gpus.samplers import ReplaySampler
    from ftmllm_tui.ui.app import FtmApp
    from ftmllm_tui.ui.screens.cluster import ClusterScreen
    from ftmllm_tui.ui.screens.launch import LaunchScreen

    from ..ui.conftest import screen_text
    from ..ui.conftest import until as ui_until

    cfg = tmp_path / "dialog cfg.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\nsteps: 1\n")
    remote_state = tmp_path / "remote-state"
    env = {k: tmux_env[k] for k in ("HOME", "XDG_CONFIG_HOME", "FTMLLM_TMUX_SOCKET", "FTMLLM_LLAMAFACTORY_CLI",
                                    "PYTHONPATH")}
    env["XDG_STATE_HOME"] = str(remote_state)
    cmd = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), APP, "--replay", str(SYNTH8)])
    opts = SshOptions(control, ssh_config=str(hosts.config), per_host_command={"gpu-a": cmd})
    cluster = Cluster(parse_hosts("gpu-a"), opts, interval=1.0)
    app = FtmApp(ReplaySampler(SYNTH8), autostart=False, cluster=cluster)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await ui_until(pilot, lambda: cluster.links["gpu-a"].state.state == "up", timeout=30)
            assert not isinstance(app.screen, ClusterScreen)  # one host: the home view shows it
            app.open_launch(config=str(cfg), gpus="none", name="from-dialog")
            await ui_until(pilot, lambda: isinstance(app.screen, LaunchScreen), timeout=5)
            dlg = app.screen
            await pilot.pause()
            dlg.query_one("#host", Select).value = "gpu-a"
            await pilot.pause()
            dlg.query_one("#copy-config", Checkbox).value = True
            await ui_until(pilot, lambda: "<the copy there>" in str(dlg.query_one("#preview", Static).content),
                           timeout=5)
            assert "ssh gpu-a exec $SHELL -l -c" in " ".join(screen_text(app))
            await pilot.click("#start")
            await ui_until(pilot, lambda: not isinstance(app.screen, LaunchScreen), timeout=90)
            assert any("Started on gpu-a" in str(n.message) for n in app._notifications)
    finally:
        cluster.stop()
    copied = next((remote_state / "ftmllm-tui" / "uploads").iterdir())
    assert copied.read_text() == cfg.read_text() and copied.name.endswith("dialog_cfg.yaml")
    runs = json.loads(subprocess.run([APP, "runs", "--json"], capture_output=True, text=True,
                                     env=dict(tmux_env, XDG_STATE_HOME=str(remote_state)), timeout=60,
                                     check=False).stdout)
    assert [r["config"] for r in runs if r["name"] == "from-dialog"] == [str(copied)]


def test_launch_copies_a_local_config_when_asked(hosts, tmux_env, tmp_path, control):
    import shlex

    cfg = tmp_path / "local only.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\nsteps: 2\n")
    remote_state = tmp_path / "remote-state"
    env = {k: tmux_env[k] for k in ("HOME", "XDG_CONFIG_HOME", "FTMLLM_TMUX_SOCKET", "FTMLLM_LLAMAFACTORY_CLI",
                                    "PYTHONPATH")}
    env["XDG_STATE_HOME"] = str(remote_state)
    local_cfg = tmp_path / "local-config" / "ftmllm-tui" / "config.toml"
    local_cfg.parent.mkdir(parents=True)
    remote_cmd = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), APP])
    local_cfg.write_text(f'[cluster]\nssh_config = "{hosts.config}"\n'
                         f'[host.gpu-a]\nremote_command = {json.dumps(remote_cmd)}\n')
    local = dict(tmux_env, XDG_CONFIG_HOME=str(local_cfg.parent.parent), XDG_STATE_HOME=str(tmp_path / "ls"))
    try:
        r = subprocess.run([APP, "launch", "--host", "gpu-a", "--copy-config", str(cfg), "--gpus", "none",
                            "--name", "copied"], capture_output=True, text=True, env=local, timeout=120,
                           stdin=subprocess.DEVNULL, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        copied = next((remote_state / "ftmllm-tui" / "uploads").iterdir())
        assert copied.read_text() == cfg.read_text() and copied.name.endswith("local_only.yaml")
        assert f"copied {cfg} to gpu-a:{copied}" in r.stderr
        runs = json.loads(subprocess.run([APP, "runs", "--json", "--hosts", "gpu-a"], capture_output=True,
                                         text=True, env=local, timeout=60, check=False).stdout)["runs"]
        assert [x["config"] for x in runs if x["name"] == "copied"] == [str(copied)]
        bad = subprocess.run([APP, "launch", "--host", "gpu-a", "--copy-config", str(tmp_path / "nope.yaml")],
                             capture_output=True, text=True, env=local, timeout=60, check=False)
        assert bad.returncode == 2 and "cannot read" in bad.stderr
    finally:
        close_masters(tmp_path / "ls" / "ftmllm-tui" / "ssh")


def test_attach_to_a_run_on_another_host(hosts, tmux_env, tmp_path, control):
    """attach HOST:RUN in a terminal (a tmux pane here): ssh -t to the app there, which attaches to the
    run's tmux session: the run's own output shows up in this terminal."""
    import shlex
    import uuid

    cfg = tmp_path / "sleepy.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\nsteps: 1\nsleep: 60\n")
    env = {k: tmux_env[k] for k in ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "FTMLLM_TMUX_SOCKET",
                                    "FTMLLM_LLAMAFACTORY_CLI", "PYTHONPATH")}
    remote_cmd = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), APP])
    local_cfg = tmp_path / "lc" / "ftmllm-tui" / "config.toml"
    local_cfg.parent.mkdir(parents=True)
    local_cfg.write_text(f'[cluster]\nssh_config = "{hosts.config}"\n'
                         f'[host.gpu-a]\nremote_command = {json.dumps(remote_cmd)}\n')
    local = dict(tmux_env, XDG_CONFIG_HOME=str(tmp_path / "lc"), XDG_STATE_HOME=str(tmp_path / "ls"),
                 FTMLLM_TMUX_SOCKET="nobody-local")
    outer = f"ftmouter-{uuid.uuid4().hex[:8]}"
    try:
        r = subprocess.run([APP, "launch", "--host", "gpu-a", str(cfg), "--gpus", "none", "--name", "sleepy"],
                           capture_output=True, text=True, env=local, timeout=120, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        run_id = r.stdout.strip().splitlines()[-1]
        no_tty = subprocess.run([APP, "attach", f"gpu-a:{run_id}"], capture_output=True, text=True, env=local,
                                timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert no_tty.returncode == 2 and "needs a terminal" in no_tty.stderr
        subprocess.run(["tmux", "-L", outer, "-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30",
                        "env", *(f"{k}={v}" for k, v in local.items() if k.startswith(("XDG_", "HOME", "PATH"))),
                        APP, "attach", f"gpu-a:{run_id}"], check=True, env={**local, "TMUX": ""})

        def pane() -> str:
            return subprocess.run(["tmux", "-L", outer, "capture-pane", "-p"], capture_output=True, text=True,
                                  check=False).stdout

        # the stand-in's first line ends "... config.yaml gpus= key=unset" (the run's own output, on gpu-a)
        until(lambda: "config.yaml gpus= key=unset" in pane(), 30, "the remote run's output in this terminal")
        stop = subprocess.run([APP, "stop", f"gpu-a:{run_id}", "--yes"], capture_output=True, text=True,
                              env=local, timeout=120, check=False)
        assert stop.returncode == 0, stop.stdout + stop.stderr
    finally:
        subprocess.run(["tmux", "-L", outer, "kill-server"], capture_output=True, check=False)
        close_masters(tmp_path / "ls" / "ftmllm-tui" / "ssh")
