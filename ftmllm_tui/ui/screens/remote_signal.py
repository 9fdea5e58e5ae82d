"""`k` in the home view of another host: the same dialog as a local signal, but the plan (guard) and
the signals are the app's on that host (`ftmllm-tui signal ... --dry-run / --yes --json` over SSH),
and the audit line is written there."""

from __future__ import annotations

import json

from textual import work

from ...core.gpus.proctree import Proc
from ...core.hosts.runs import _json_start, run_remote
from ...core.runs.kill import Outcome, Plan, Refusal, Report, Target
from .kill import KillScreen

SIG_ARGS = {2: "int", 15: "term", 9: "kill"}


def _proc(d: dict) -> Proc:
    return Proc(pid=int(d["pid"]), create_time=float(d["create_time"]), ppid=int(d.get("ppid") or 0),
                pgid=int(d.get("pgid") or 0), sid=int(d.get("sid") or 0), uid=int(d.get("uid") or -1),
                user=str(d.get("user") or "?"), cmdline=tuple(d.get("cmdline") or ()), run_id=d.get("run_id"))


class RemoteKillScreen(KillScreen):
    HELP_TITLE = "Signal processes on another host"

    def __init__(self, picked, cluster, host: str):
        super().__init__(picked)
        self.cluster, self.host = cluster, host

    def _idents(self) -> list[str]:
        return [f"{pid}@{ct}" if ct is not None else str(pid) for pid, ct, _g, _m in self.picked]

    def _call(self, *args: str) -> dict:
        link = self.cluster.links[self.host]
        rc, out, err = run_remote(self.cluster.opts, link.spec, ["signal", *self._idents(), *args, "--json"],
                                  timeout=60)
        try:
            return json.loads(out[_json_start(out):])
        except json.JSONDecodeError:
            return {"error": (err.strip().splitlines() or [f"{self.host}: signal exited {rc}"])[-1]}

    @work(thread=True, exclusive=True, group="kill-plan")
    def _plan(self, allow_others: bool) -> None:
        d = self._call("--dry-run", *(["--allow-others"] if allow_others else []))
        if "error" in d:
            self.app.call_from_thread(self.notify, d["error"], severity="error", timeout=8)
            d = {"targets": [], "refused": []}
        gpu = {pid: (g, m) for pid, _ct, g, m in self.picked}
        plan = Plan(tuple(Target(_proc(t), t.get("role") or "process", *gpu.get(int(t["pid"]), ((), None)))
                          for t in d["targets"]),
                    tuple(Refusal(_proc(r), r.get("reason") or "refused") for r in d["refused"]))
        self.app.call_from_thread(self._planned, plan)

    @work(thread=True, exclusive=True, group="kill-send")
    def _send(self, sig: int) -> None:
        d = self._call("--sig", SIG_ARGS.get(int(sig), "term"), "--yes")
        report = Report(run_id=None)
        if "error" in d:
            self.app.call_from_thread(self.notify, d["error"], severity="error", timeout=8)
        for o in d.get("outcomes", []):
            report.outcomes.append(Outcome(**{k: o.get(k) for k in Outcome.__dataclass_fields__}))
        for r in d.get("refused", []):
            report.refused.append((r.get("pid"), r.get("command", ""), r.get("reason", "")))
        self.app.call_from_thread(self._done, report)
