"""tmux through libtmux: one session per run, tagged with the run id (session option @ftmllm_run).

Every call spawns ``tmux`` (4–7 ms): callers keep it off the UI thread. The socket is the user's
default server unless a name is given (``tmux -L NAME``; FTMLLM_TMUX_SOCKET / --tmux-socket).
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass

TAG = "@ftmllm_run"


class TmuxError(RuntimeError):
    pass


def _libtmux():
    """Import libtmux (~80 ms, so only when needed). It reads ``sys.stdout.encoding`` on import,
    which a UI toolkit's print capture may not have: give it one."""
    import sys

    if "libtmux" not in sys.modules and getattr(sys.stdout, "encoding", None) is None:
        try:
            sys.stdout.encoding = "utf-8"  # type: ignore[misc]
        except (AttributeError, TypeError):
            pass
    import libtmux

    return libtmux


def tmux_missing() -> str | None:
    """None when tmux can be used, else what to do about it."""
    if shutil.which("tmux") is None:
        return "tmux is not installed (apt-get install tmux); runs need it to survive SSH drops"
    return None


def session_name(run_id: str) -> str:
    return "ftm-" + run_id.replace(".", "-").replace(":", "-")


@dataclass(frozen=True)
class SessionInfo:
    name: str
    run_id: str | None
    pane_pid: int | None
    created: float | None


class Tmux:
    def __init__(self, socket_name: str | None = None):
        self.socket_name = socket_name or None
        self._server = None

    @property
    def server(self):
        if self._server is None:
            missing = tmux_missing()
            if missing:
                raise TmuxError(missing)
            self._server = _libtmux().Server(socket_name=self.socket_name)
        return self._server

    def _cmd(self, *args: str) -> list[str]:
        r = self.server.cmd(*args)
        if r.stderr and any(line.strip() for line in r.stderr):
            raise TmuxError("tmux: " + " ".join(r.stderr).strip())
        return r.stdout

    def new_session(self, name: str, command: list[str], *, cwd: str | None, run_id: str,
                    width: int = 200, height: int = 50) -> int | None:
        """Start ``command`` (argv) detached in a new session; returns the pane pid."""
        if self.has_session(name):
            raise TmuxError(f"a tmux session named {name} exists already")
        try:
            session = self.server.new_session(
                session_name=name, window_name=name[:30], window_command=shlex.join(command),
                start_directory=cwd, attach=False, x=width, y=height)
        except Exception as e:  # libtmux raises its own exception types
            raise TmuxError(f"tmux could not start the session: {e}") from e
        try:
            session.set_option(TAG, run_id)
            session.set_option("remain-on-exit", "off")
        except Exception:
            pass
        try:
            return int(session.active_pane.pane_pid)
        except Exception:
            return None

    def has_session(self, name: str) -> bool:
        try:
            return bool(self.server.has_session(name))
        except TmuxError:
            raise
        except Exception:
            return False

    def sessions(self) -> dict[str, SessionInfo]:
        """Every session of this server, with its run tag and first pane pid."""
        try:
            out = self.server.cmd("list-panes", "-a", "-F",
                                  "#{session_name}\t#{" + TAG + "}\t#{pane_pid}\t#{session_created}")
        except Exception as e:
            raise TmuxError(f"tmux: {e}") from e
        found: dict[str, SessionInfo] = {}
        for line in out.stdout:
            parts = line.split("\t")
            if len(parts) != 4 or parts[0] in found:
                continue
            name, tag, pid, created = parts
            found[name] = SessionInfo(name, tag or None, int(pid) if pid.isdigit() else None,
                                      float(created) if created.isdigit() else None)
        return found

    def kill_session(self, name: str) -> bool:
        try:
            if not self.server.has_session(name):
                return False
            self.server.kill_session(name)
            return True
        except Exception:
            return False

    def capture(self, name: str, lines: int = 50) -> list[str]:
        try:
            out = self.server.cmd("capture-pane", "-p", "-t", name, "-S", f"-{lines}")
            return list(out.stdout)
        except Exception:
            return []

    def attach_argv(self, name: str) -> list[str]:
        """The command that shows the session: switch-client inside tmux, attach outside."""
        base = ["tmux"] + (["-L", self.socket_name] if self.socket_name else [])
        if os.environ.get("TMUX") and not self.socket_name:
            return base + ["switch-client", "-t", name]
        if os.environ.get("TMUX"):  # inside tmux, attaching to another server nests a client
            return ["env", "-u", "TMUX", *base, "attach-session", "-t", name]
        return base + ["attach-session", "-t", name]
