"""The app over a real SSH link: a throwaway OpenSSH server on 127.0.0.1 (tests/integration/sshd.py),
the real `ssh -tt` client in a tmux pane (private socket), the app started by the remote command
with a clean environment, replaying the bundled recording.

* keys travel through ssh (home, Runs and back, filter, help, quit; the client returns 0);
* the link drops with a run launched from the TUI in that session: the client is killed, or
  sshd's per-connection process is killed (the server end tears down), or the client is killed
  while the app ignores SIGHUP (then only the terminal's hangup can tell it). Each time the remote
  app exits within seconds without spinning, and the run (its processes, its tmux session) lives.

Not tested: a link that goes dark without closing (client stopped). With OpenSSH 9.2, sshd's
ClientAlive probes did not fire while the session kept producing output (ClientAliveInterval 1,
CountMax 3, output every 0.5-1 s: still connected after 15 s; with no output it gave up after
~6 s), so such a session lasts until TCP's retransmission timeout; then it is the hang-up above.

Bytes per second over the link are measured by bench/bench_ssh.py, not asserted here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import yaml

from ftmllm_tui.core.gpus.samplers import bundled_recording

from .conftest import cli, run_pids
from .sshd import Sshd, SshdUnavailable, remote_command, unavailable

ROOT = Path(__file__).resolve().parents[2]
COLS, ROWS = 120, 40

pytestmark = pytest.mark.timeout(90)


# -- the server, the terminal, the remote app -----------------------------------------------------
@pytest.fixture
def sshd(tmp_path):
    why = unavailable()
    if why:
        pytest.fail(why)
    server = Sshd(tmp_path / "sshd")
    try:
        server.start()
    except SshdUnavailable as e:
        pytest.fail(str(e))
    try:
        probe = subprocess.run(server.ssh("true"), capture_output=True, text=True, timeout=20)
        if probe.returncode != 0:
            log = server.log_text()
            msg = f"cannot log in over ssh (with a pty) as {server.user}: {probe.stderr.strip()}\n{log[-2000:]}"
            if os.geteuid() != 0:
                # an unprivileged sshd cannot chown the session's pty to the tty group: it works where
                # devpts is mounted gid=5 (systemd hosts), not where it is not (some containers);
                # or the account has no usable login shell
                why = "chown" in log and "/dev/pts" in log
                pytest.skip(("an unprivileged sshd cannot give the session a pty here (devpts not "
                             "mounted with gid=tty); run as root or on a normal host. " if why else "") + msg)
            pytest.fail(msg)
        yield server
    finally:
        server.stop()


class Term:
    """A tmux pane (own server, private socket) that plays the user's terminal."""

    def __init__(self, tmp: Path):
        self.sock = f"ftmssh-{uuid.uuid4().hex[:8]}"
        self.conf = tmp / "term.tmux.conf"
        self.rc = tmp / "client.rc"
        # remain-on-exit: the pane stays, dead, when the client returns, so its last screen can be read
        self.conf.write_text("set -g remain-on-exit on\nset -g status off\nset -sg escape-time 0\n")

    def tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.sock, "-f", str(self.conf), *args], capture_output=True,
                              text=True, timeout=10)

    def start(self, argv: list[str], cols: int = COLS, rows: int = ROWS) -> None:
        env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        # the client's exit status comes from a shell that waited for it, not from tmux's
        # #{pane_dead_status}: a tmux linked with libutempter (Debian's) loses the SIGCHLD of a pane
        # process that exits while utempter's helper runs for the closed pty (SIGCHLD is SIG_DFL
        # then), so the pane stays dead with no status for good: about one q in three here
        wrapped = ["sh", "-c", f'"$@"; echo $? > {shlex.quote(str(self.rc))}', "sh", *argv]
        subprocess.run(["tmux", "-L", self.sock, "-f", str(self.conf), "new-session", "-d", "-s", "t",
                        "-x", str(cols), "-y", str(rows), *wrapped], env=env, check=True, timeout=10)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t").stdout

    def wait(self, cond, what: str, timeout: float = 15.0) -> str:
        if isinstance(cond, str):
            text = cond
            cond = lambda s: text in s  # noqa: E731
        end = time.monotonic() + timeout
        s = ""
        while time.monotonic() < end:
            s = self.screen()
            if cond(s):
                return s
            time.sleep(0.1)
        raise AssertionError(f"{what}: not on screen within {timeout} s:\n{s}")

    def keys(self, *keys: str) -> None:
        for k in keys:  # one at a time: an escape sequence must not run into the next key
            self.tmux("send-keys", "-t", "t", k)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def click(self, x: int, y: int) -> None:
        """A left click at column x, row y (0-based), as an xterm sends it (SGR mouse mode): focus
        lands exactly there, whatever the focus chain looks like."""
        seq = f"\x1b[<0;{x + 1};{y + 1}M\x1b[<0;{x + 1};{y + 1}m".encode()
        self.tmux("send-keys", "-t", "t", "-H", *(f"{b:02x}" for b in seq))

    def find(self, pattern: str, group: int = 0) -> tuple[int, int]:
        """(column, row) of a regex match (or of one of its groups) on the screen."""
        for y, line in enumerate(self.screen().splitlines()):
            m = re.search(pattern, line)
            if m:
                return m.start(group), y
        raise AssertionError(f"{pattern!r} not on screen:\n{self.screen()}")

    def client(self, timeout: float = 5.0) -> psutil.Process:
        """The program started in the pane (ssh), a child of the shell that records its status."""
        pid = int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").stdout)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            kids = psutil.Process(pid).children()
            if kids:
                return kids[0]
            time.sleep(0.02)
        raise AssertionError("no client process in the pane")

    def exit_status(self, timeout: float = 10.0) -> int | None:
        """The client's exit status once it returned (None if it did not within timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.rc.read_text() if self.rc.exists() else ""
            if text.endswith("\n"):
                return int(text)
            time.sleep(0.05)
        return None

    def kill(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def term(tmp_path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is required (make test installs it)")
    t = Term(tmp_path)
    yield t
    t.kill()
    sock = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / t.sock
    sock.unlink(missing_ok=True)  # kill-server leaves the socket file behind


def start_tui(term: Term, sshd: Sshd, env: dict, tmp_path: Path, *, ignore_hup: bool = False) -> str:
    """ssh -tt in the pane, the remote command starting the app; returns the app's marker (an
    environment variable only the remote app carries)."""
    mark = uuid.uuid4().hex
    remote_env = {
        "FTMLLM_SSH_MARK": mark,
        "HOME": env["HOME"],
        "PATH": f"{Path(env['FTMLLM_LLAMAFACTORY_CLI']).parent}:{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"],
        "XDG_STATE_HOME": env["XDG_STATE_HOME"],
        "FTMLLM_TMUX_SOCKET": env["FTMLLM_TMUX_SOCKET"],
        "FTMLLM_LLAMAFACTORY_CLI": env["FTMLLM_LLAMAFACTORY_CLI"],
        "TERM": "xterm-256color",
    }
    cmd = remote_command([sys.executable, "-m", "ftmllm_tui.cli", "--interval", "1",
                          "--replay", str(bundled_recording())], remote_env, cwd=tmp_path)
    if ignore_hup:  # an ignored signal stays ignored across exec: the app never sees the hangup
        cmd = f"trap '' HUP; {cmd}"
    term.start(sshd.ssh(cmd))
    term.wait(lambda s: "Processes 3" in s and "Filter" in s, "the home view over ssh", timeout=30)
    return mark


def remote_app(mark: str, timeout: float = 5.0) -> psutil.Process:
    """The app started by the remote command: it carries the marker and is the session leader of
    the remote pty (what it launches inherits the marker too: the run, the tmux server)."""
    end = time.monotonic() + timeout
    found: list[psutil.Process] = []
    while time.monotonic() < end:
        found = []
        for p in psutil.process_iter():
            try:
                if (p.environ().get("FTMLLM_SSH_MARK") == mark and "ftmllm_tui.cli" in p.cmdline()
                        and os.getsid(p.pid) == p.pid):
                    found.append(p)
            except (psutil.Error, OSError):
                pass
        if len(found) == 1:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"the remote app process was not found: {found}")


def ignores_sighup(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGHUP - 1)))
    return False


def gone(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(p: psutil.Process, timeout: float, t0: float | None = None,
              c0: float | None = None) -> tuple[float | None, float]:
    """(seconds from t0 until the process was gone or None, CPU seconds it used since c0)."""
    t0 = time.monotonic() if t0 is None else t0
    if c0 is None:
        try:
            c0 = sum(p.cpu_times()[:2])
        except psutil.Error:
            return time.monotonic() - t0, 0.0
    used = 0.0
    while time.monotonic() - t0 < timeout:
        if gone(p):
            return time.monotonic() - t0, used
        try:
            used = sum(p.cpu_times()[:2]) - c0
        except psutil.Error:
            pass
        time.sleep(0.02)
    return None, used


# -- keys over ssh ------------------------------------------------------------------------------
def test_keys_over_ssh_then_q_returns_the_client(tmux_env, sshd, term, tmp_path):
    mark = start_tui(term, sshd, tmux_env, tmp_path)
    app = remote_app(mark)
    assert app.parent() is not None and app.parent().name().startswith("sshd")  # really behind sshd
    s = term.screen()
    assert "GPU 0 · NVIDIA H200" in s and "GPU 1 · NVIDIA H200" in s and "REPLAY" in s, s
    assert "alice" in s and "train_stand_in.py" in s, s

    term.keys("r")  # the Runs view ...
    term.wait(lambda s: re.search(r"NAME\s+KIND\s+STATE", s) and "Processes 3" not in s, "Runs view")
    term.keys("Escape")  # ... and back
    term.wait("Processes 3", "home after Esc")

    term.keys("/")  # filter by a user name: only alice's process is left
    # the field is shown and has the focus (the footer is down to the field's keys): type
    term.wait(lambda s: "Enter keeps it" in s and "Mine" not in s.splitlines()[-1], "filter field focused")
    term.type("alice")
    s = term.wait("Processes 1", "filtered table")
    assert "--gpu 0 --gb 3" in s and "--gb 8" not in s, s
    term.keys("Enter")  # kept: the field closes, the table stays filtered
    s = term.wait(lambda s: "Enter keeps it" not in s and "Mine" in s.splitlines()[-1], "filter field closed")
    assert "Processes 1" in s and "--gb 8" not in s, s
    term.keys("Escape")  # cleared
    s = term.wait("Processes 3", "filter cleared")
    assert "--gb 8" in s

    term.keys("?")
    s = term.wait("Esc closes", "help")
    assert "Filter processes" in s and "Runs:" in s, s
    term.keys("Escape")
    term.wait(lambda s: "Esc closes" not in s and "Processes 3" in s, "help closed")

    ssh = term.client()
    assert ssh.name() == "ssh"
    t0 = time.monotonic()
    term.keys("q")
    took = wait_gone(ssh, 10, t0)[0]  # the client returns ...
    assert took is not None and took < 5, (took, term.screen(), sshd.log_text()[-1500:])
    status = term.exit_status()
    assert status == 0, (status, term.screen(), sshd.log_text()[-1500:])  # ... with 0
    assert wait_gone(app, 5)[0] is not None, "the remote app outlived the ssh session"


# -- the link drops -----------------------------------------------------------------------------
def fill(term: Term, line_pattern: str, value: str, done) -> str:
    """Click into the field whose label the regex's group 1 matches (the field starts 8 columns
    after its label), clear it, type; again if the screen does not show the result."""
    for _ in range(3):
        x, y = term.find(line_pattern, 1)
        term.click(x + 10, y)
        term.keys("C-e", "C-u")  # end, delete to the start
        term.type(value)
        try:
            return term.wait(done, f"{value!r} typed", timeout=4)
        except AssertionError:
            continue
    return term.wait(done, f"{value!r} typed", timeout=1)


def launch_in_the_tui(term: Term, tmux_env: dict, tmp_path: Path) -> str:
    """n, fill the dialog (the mouse puts the focus, the keyboard types), Start; returns the run id."""
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(
        {"stage": "sft", "do_train": True, "output_dir": str(tmp_path / "out"), "steps": 2, "sleep": 120}))
    term.keys("n")
    term.wait(lambda s: "Launch a run" in s and "train needs a config file" in s, "launch dialog, checked")
    # relative to the app's cwd (the remote command cd's to tmp_path)
    fill(term, r"(Config)\s", "tiny.yaml", lambda s: re.search(r"Config\s+tiny\.yaml\s", s))
    fill(term, r"Kind\s.*(GPUs)\s", "none",
         lambda s: re.search(r"GPUs\s+none\s", s) and "✓ ready" in s)
    for _ in range(3):
        x, y = term.find(r"Cancel\s+(Start)\s", 1)
        term.click(x + 2, y)
        try:
            s = term.wait(lambda s: "Started tiny (" in s, "run started", timeout=10)
            break
        except AssertionError:
            if "Launch a run" not in term.screen():
                raise
    else:
        raise AssertionError(f"Start did not start the run:\n{term.screen()}")
    run_id = re.search(r"Started tiny \(([^)\s]+)\)", s).group(1)
    end = time.monotonic() + 15
    while not run_pids(run_id) and time.monotonic() < end:
        time.sleep(0.05)
    runs = json.loads(cli(tmux_env, "runs", "--json").stdout)
    assert [r["state"] for r in runs if r["id"] == run_id] == ["running"], runs
    return run_id


def tmux_session_exists(env: dict, run_id: str) -> bool:
    r = subprocess.run(["tmux", "-L", env["FTMLLM_TMUX_SOCKET"], "has-session", "-t", f"=ftm-{run_id}"],
                       capture_output=True, env=env, timeout=10)
    return r.returncode == 0


DROPS = {
    "client-killed": "SIGKILL to the local ssh client (the laptop's end vanishes; TCP closes)",
    "server-killed": "SIGKILL to sshd's per-connection process (the server end tears down)",
    "client-killed-hup-ignored": "SIGKILL to the client, the app started with SIGHUP ignored: only the "
                                 "terminal's EOF/EIO can tell it",
}


@pytest.mark.parametrize("drop", list(DROPS))
def test_link_drop_ends_the_app_and_the_run_survives(tmux_env, sshd, term, tmp_path, drop):
    mark = start_tui(term, sshd, tmux_env, tmp_path, ignore_hup=drop.endswith("hup-ignored"))
    run_id = launch_in_the_tui(term, tmux_env, tmp_path)
    pids = sorted(run_pids(run_id))
    assert pids and tmux_session_exists(tmux_env, run_id)
    app = remote_app(mark)
    ssh = term.client()
    assert ssh.name() == "ssh"
    per_conn = app.parent()
    assert per_conn.name().startswith("sshd"), per_conn
    assert ignores_sighup(app.pid) == drop.endswith("hup-ignored")
    try:
        c0 = sum(app.cpu_times()[:2])
        t0 = time.monotonic()
        if drop.startswith("client-killed"):
            ssh.kill()
        else:
            per_conn.kill()
        took, cpu = wait_gone(app, 15, t0, c0)
        print(f"\n{drop}: the remote app was gone {took} s after the drop, {cpu:.3f} s CPU meanwhile")
        assert took is not None, f"the remote app still runs 15 s after the drop ({DROPS[drop]})\n" \
                                 f"{sshd.log_text()[-1500:]}"
        assert took < 10, took
        assert cpu < 0.5 + 0.2 * took, f"it spun: {cpu:.2f} s CPU in {took:.2f} s"
        # the run does not depend on the session that launched it
        assert sorted(run_pids(run_id)) == pids
        assert tmux_session_exists(tmux_env, run_id)
        runs = json.loads(cli(tmux_env, "runs", "--json").stdout)
        assert [r["state"] for r in runs if r["id"] == run_id] == ["running"], runs
        assert sorted(run_pids(run_id)) == pids
    finally:
        try:
            ssh.kill()  # psutil: only if it is still that process
        except psutil.Error:
            pass
        r = cli(tmux_env, "stop", run_id, "--force", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert run_pids(run_id) == []
