"""Hosts and the OpenSSH command lines that reach them.

A host is what the user types to ``ssh``: an alias of their ``~/.ssh/config`` (``gpu3``) or
``user@host:port``. Everything goes through the system ``ssh`` client with the user's config,
agent and keys; one master connection per host (``ControlMaster=auto``) under the state dir carries
the stream and every command for that host. ``BatchMode=yes``: never a password prompt; a host
key is never accepted automatically.

Every string that reaches a remote shell goes through :func:`shlex.quote` (see :func:`remote_line`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


class HostSpecError(ValueError):
    """A host as written cannot be used (the message says why)."""


@dataclass(frozen=True)
class HostSpec:
    """One host: ``name`` is what the views show and what ``HOST:RUN`` refers to."""

    name: str
    target: str  # what ssh gets as its destination (alias or host name)
    user: str | None = None
    port: int | None = None

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.target}" if self.user else self.target


def parse_host(text: str) -> HostSpec:
    """``gpu3``, ``alice@gpu3``, ``gpu3:2222``, ``alice@10.0.0.7:2222``, ``[::1]:2222``."""
    raw = text.strip()
    if not raw:
        raise HostSpecError("an empty host name")
    user = None
    rest = raw
    if "@" in raw:
        user, _, rest = raw.rpartition("@")
        if not _USER.match(user):
            raise HostSpecError(f"{raw!r}: {user!r} is not a user name")
    port = None
    if rest.startswith("["):  # [IPv6]:port
        host, sep, tail = rest[1:].partition("]")
        if not sep:
            raise HostSpecError(f"{raw!r}: missing ']'")
        if tail:
            if not tail.startswith(":"):
                raise HostSpecError(f"{raw!r}: expected :PORT after ']'")
            port = _port(raw, tail[1:])
    elif rest.count(":") == 1:
        host, _, p = rest.partition(":")
        port = _port(raw, p)
    else:
        host = rest
    if not host or (not _NAME.match(host) and ":" not in host):
        raise HostSpecError(f"{raw!r}: {host!r} is not a host name or SSH alias")
    return HostSpec(name=raw, target=host, user=user, port=port)


def _port(raw: str, p: str) -> int:
    if not p.isdigit() or not 0 < int(p) < 65536:
        raise HostSpecError(f"{raw!r}: {p!r} is not a port (1-65535)")
    return int(p)


def parse_hosts(items: Sequence[str] | str) -> list[HostSpec]:
    """A list or a comma-separated string of hosts, duplicates dropped (first one wins)."""
    if isinstance(items, str):
        items = [x for x in items.split(",")]
    out: list[HostSpec] = []
    seen: set[str] = set()
    for item in items:
        if not item.strip():
            continue
        spec = parse_host(item)
        if spec.name not in seen:
            seen.add(spec.name)
            out.append(spec)
    return out


def split_ref(ref: str) -> tuple[str | None, str]:
    """``HOST:RUN`` -> (host, run); a plain run id -> (None, run). The last ':' splits, so
    ``user@host:2222:RUN`` works; a run id never holds ':'."""
    host, sep, run = ref.rpartition(":")
    if not sep or not host:
        return None, ref
    return host, run


@dataclass(frozen=True)
class SshOptions:
    """How to call ssh: the user's config file (``-F``) and extra options, plus the control dir."""

    control_dir: Path
    ssh_config: str = ""
    extra: tuple[str, ...] = ()
    connect_timeout: int = 5
    alive_interval: int = 3
    alive_count: int = 2
    persist_s: int = 60
    compression: bool = True
    remote_command: str = "ftmllm-tui"
    per_host_command: Mapping[str, str] = field(default_factory=dict)
    login_shell: bool = True  # run remote commands through the user's login shell (profile PATHs)

    def command_for(self, host: HostSpec) -> str:
        return self.per_host_command.get(host.name) or self.per_host_command.get(host.target) \
            or self.remote_command

    def remote(self, host: HostSpec, args: Sequence[str] = ()) -> str:
        """The remote shell line running the app on ``host`` with ``args`` (each quoted)."""
        return remote_line(self.command_for(host), args, login=self.login_shell)


SOCKET_PATH_MAX = 100  # sun_path is 104 (macOS) or 108 (Linux) bytes; ssh adds a suffix while binding


def control_path(control_dir: Path, host: HostSpec) -> Path:
    """A short socket path (Unix sockets hold ~104 bytes): the dir plus a hash of the host; where the
    state dir is too deep for that, a private dir in /tmp (named by the user id and the state dir)."""
    digest = hashlib.sha1(host.name.encode()).hexdigest()[:12]
    path = control_dir / f"cm-{digest}"
    if len(str(path)) + 22 <= SOCKET_PATH_MAX:  # ssh binds "PATH.XXXXXXXXXXXXXXXX" first
        return path
    where = hashlib.sha1(str(control_dir).encode()).hexdigest()[:8]
    return Path("/tmp") / f"ftmllm-{os.getuid()}-{where}" / f"cm-{digest}"


def ensure_control_dir(opts: SshOptions, host: HostSpec) -> None:
    """The private (0700) directory of the host's control socket exists."""
    opts.control_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    control_path(opts.control_dir, host).parent.mkdir(parents=True, exist_ok=True, mode=0o700)


def ssh_argv(opts: SshOptions, host: HostSpec, remote: str | None = None, *, tty: bool = False,
             master: bool = True, extra: Sequence[str] = (), persist: bool = False) -> list[str]:
    """The full ssh argv for ``host`` running the remote shell line ``remote`` (already quoted);
    creates the control socket's directory.
    A client rides on the host's master when it is up; when it is not, the client connects on its
    own and ends with its session (``ControlPersist=no``: no background master holding its pipes)."""
    ensure_control_dir(opts, host)
    argv = ["ssh"]
    if opts.ssh_config:
        argv += ["-F", opts.ssh_config]
    argv += list(opts.extra)  # first: for ssh the first value given for an option wins
    argv += ["-o", "BatchMode=yes",
             "-o", f"ConnectTimeout={opts.connect_timeout}",
             "-o", f"ServerAliveInterval={opts.alive_interval}",
             "-o", f"ServerAliveCountMax={opts.alive_count}"]
    if master:
        argv += ["-o", "ControlMaster=auto",
                 "-o", f"ControlPath={control_path(opts.control_dir, host)}",
                 "-o", f"ControlPersist={opts.persist_s if persist else 'no'}"]
    if opts.compression:
        argv += ["-o", "Compression=yes"]
    if host.port:
        argv += ["-p", str(host.port)]
    argv += list(extra)
    argv.append("-tt" if tty else "-T")
    argv += ["--", host.destination]
    if remote is not None:
        argv.append(remote)
    return argv


def remote_line(command: str, args: Sequence[str] = (), *, login: bool = True) -> str:
    """The remote shell line: ``command`` (the user's setting, e.g. ``conda run -n x ftmllm-tui``,
    trusted as shell text) plus ``args`` quoted one by one, run by the user's login shell so that
    conda / venv PATHs from their profile apply (the inner line is quoted once more for ``-c``);
    ``login=False``: by the shell sshd starts, without reading the profile (faster where the profile
    is slow, e.g. ``conda init``; then ``command`` should be an absolute path)."""
    inner = " ".join([command, *(shlex.quote(str(a)) for a in args)])
    if not login:
        return f"exec {inner}"
    return f"exec $SHELL -l -c {shlex.quote(inner)}"


def master_argv(opts: SshOptions, host: HostSpec) -> list[str]:
    """Start the host's master in the background (``-f -N``): returns once logged in (exit 0) or
    failed (255, why on stderr). Started on its own so that no client's pipes stay held by it."""
    argv = ssh_argv(opts, host, extra=["-f", "-N"], persist=True)
    i = argv.index("ControlMaster=auto")
    argv[i] = "ControlMaster=yes"
    return argv


def check_argv(opts: SshOptions, host: HostSpec) -> list[str]:
    """``ssh -O check``: is the master up (exit 0)?"""
    return ssh_argv(opts, host, extra=["-O", "check"])


def exit_master_argv(opts: SshOptions, host: HostSpec) -> list[str]:
    return ssh_argv(opts, host, extra=["-O", "exit"])


# -- what went wrong, from ssh's exit status and stderr -----------------------------------------------
def classify(rc: int | None, stderr: str, host: HostSpec) -> tuple[str, str]:
    """(kind, one-line message) for a failed ssh/remote command. Kinds: dns, refused, auth, hostkey,
    timeout, dropped, notfound, crashed, error."""
    text = stderr.strip()
    last = _last_line(text)
    low = text.lower()
    name = host.name
    if "could not resolve hostname" in low or "name or service not known" in low:
        return "dns", f"{name}: host name not found (DNS): {last}"
    if "connection refused" in low:
        return "refused", f"{name}: connection refused (no SSH server on that port?)"
    if "host key verification failed" in low or "remote host identification has changed" in low \
            or "no ecdsa host key is known" in low or "no ed25519 host key is known" in low \
            or "host key for" in low and "has changed" in low:
        return "hostkey", (f"{name}: host key not accepted (unknown or changed): check it with `ssh {name}` "
                           "once; it is never accepted automatically")
    if "permission denied" in low or "too many authentication failures" in low:
        return "auth", f"{name}: needs an interactive login: run `ssh {name}` once (key or agent refused)"
    if rc == 255 and ("broken pipe" in low or "closed by remote host" in low or "connection reset" in low
                      or "not responding" in low or "closed by" in low):
        return "dropped", f"{name}: link dropped ({last})"
    if "timed out" in low or "timeout" in low and rc == 255:
        return "timeout", f"{name}: connection timed out"
    if "no route to host" in low or "network is unreachable" in low:
        return "timeout", f"{name}: {last}"
    if rc == 127 or "command not found" in low or ": not found" in low:
        return "notfound", f"{name}: {last or 'command not found'}"
    if rc == 255:
        return "error", f"{name}: ssh failed: {last or 'exit 255'}"
    return "crashed", f"{name}: remote program ended (exit {rc}): {last or 'no message'}"


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line and not line.startswith("debug"):
            return line[:200]
    return ""
