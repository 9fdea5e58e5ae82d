"""A throwaway OpenSSH server on 127.0.0.1 for tests and benchmarks.

Own host key, own user key, own sshd_config, PID file and log in a temporary directory; a free
high port; public-key login only, as the user running the tests (root in CI; any user otherwise:
an unprivileged sshd can log in as the user it runs as, and give the session a pty where devpts
is mounted with gid=tty, as on systemd hosts; where it is not, sshd cannot chown the pty and
drops pty sessions). Nothing outside the directory is touched, except that as root sshd needs
its privilege-separation directory (/run/sshd), which a system without a running sshd may lack:
it is created (root-owned, 0755), as the Debian service does.

    with Sshd(tmp) as s:
        subprocess.run(s.ssh("echo hi"))
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"  # sshd refuses to re-exec itself unless started by its absolute path
PRIVSEP_DIR = Path("/run/sshd")  # Debian's compiled-in privilege separation chroot


class SshdUnavailable(RuntimeError):
    """The server cannot run here (what to do is in the message)."""


def unavailable() -> str | None:
    """Why a real sshd cannot run here, or None."""
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} not found: install openssh-server (scripts/sysdeps.sh does)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "ssh / ssh-keygen not found: install openssh-client (scripts/sysdeps.sh does)"
    if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
        try:
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as e:
            return f"sshd as root needs {PRIVSEP_DIR}, which cannot be created: {e}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    def __init__(self, tmp: Path, *, log_level: str = "VERBOSE", client_alive: tuple[int, int] | None = None,
                 extra_config: str = ""):
        """``client_alive``: (ClientAliveInterval, ClientAliveCountMax), off by default as in a stock
        sshd_config. Note: OpenSSH 9.2 sends these probes only while the session is otherwise idle,
        so they never fire under a program that redraws every second."""
        self.dir = Path(tmp)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.user = getpass.getuser()
        self.host_key = self.dir / "ssh_host_ed25519_key"
        self.user_key = self.dir / "id_ed25519"
        self.authorized = self.dir / "authorized_keys"
        self.known_hosts = self.dir / "known_hosts"
        self.config = self.dir / "sshd_config"
        self.log = self.dir / "sshd.log"
        self.pidfile = self.dir / "sshd.pid"
        self.log_level = log_level
        self.client_alive = client_alive
        self.extra_config = extra_config  # more sshd_config lines (e.g. SetEnv HOME=...)
        self.port = 0
        self.proc: subprocess.Popen | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 10.0, *, same_port: bool = False) -> Sshd:
        """``same_port``: listen on the port of the previous start (a server that comes back)."""
        why = unavailable()
        if why:
            raise SshdUnavailable(why)
        for key in (self.host_key, self.user_key):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ftmllm-test",
                                "-f", str(key)], check=True, capture_output=True)
        self.authorized.write_text(self.user_key.with_suffix(".pub").read_text())
        for attempt in range(3):  # the free port may be taken between the probe and sshd's bind
            if not (same_port and self.port):
                self.port = free_port()
            self._write_config()
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-E", str(self.log), "-f", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
            if self._wait_listening(timeout):
                return self
            self.stop()
            if "Address already in use" not in self.log_text():
                break
        raise SshdUnavailable(f"sshd did not start listening on 127.0.0.1:{self.port}:\n{self.log_text()}")

    def _write_config(self) -> None:
        interval, count = self.client_alive or (0, 3)
        self.config.write_text(f"""\
ListenAddress 127.0.0.1
Port {self.port}
HostKey {self.host_key}
AuthorizedKeysFile {self.authorized}
PidFile {self.pidfile}
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers {self.user}
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowAgentForwarding no
ClientAliveInterval {interval}
ClientAliveCountMax {count}
LogLevel {self.log_level}
{self.extra_config}""")

    def _wait_listening(self, timeout: float) -> bool:
        """True once the port answers with an SSH banner (ours: the process is alive)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Kill the listener and every per-connection child it forked (its process group)."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None

    def kill_all(self) -> None:
        """The server and every session it serves gone (a host going down): the per-connection
        processes run in their own sessions, out of reach of :meth:`stop`'s process group."""
        import psutil

        if self.proc is None:
            return
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        self.stop()
        for c in children:
            try:
                c.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(children, timeout=3)

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    # -- the client ----------------------------------------------------------------------------
    def ssh(self, remote: str | None = None, *, tty: bool = True, keepalive: int = 5,
            extra: list[str] | None = None) -> list[str]:
        """argv of the real ssh client logging in to this server and running ``remote``.
        No user config, no agent, no escape character (every byte goes through).
        ``keepalive``: ServerAliveInterval (0: none, as in a stock ssh_config)."""
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.user_key), "-p", str(self.port),
                "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
                "-o", f"ServerAliveInterval={keepalive}", "-o", "ServerAliveCountMax=3", "-e", "none"]
        if tty:
            argv.append("-tt")
        argv += extra or []
        argv.append(f"{self.user}@127.0.0.1")
        if remote is not None:
            argv.append(remote)
        return argv


def remote_command(argv: list[str], env: dict[str, str], cwd: str | Path | None = None) -> str:
    """One shell line for the remote side: the SSH session starts with a clean environment, so
    everything the program needs is on the command line. ``exec``: the program replaces the
    login shell (it is the session leader of the remote pty, as when a person types it)."""
    line = "exec " + shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), *argv])
    if cwd is not None:
        line = f"cd {shlex.quote(str(cwd))} && {line}"
    return line
