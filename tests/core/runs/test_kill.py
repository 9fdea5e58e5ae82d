"""Stopping real process trees shaped like torchrun's (tests/standin/tree.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace

import psutil
import pytest

from ftmllm_tui.core.runs.kill import Audit, Stopper, make_plan, signal_processes
from ftmllm_tui.core.gpus.proctree import describe, run_processes
from standin.helpers import StandIn, alive


@pytest.fixture
def rid():
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def audit(tmp_path):
    return Audit(tmp_path / "audit.jsonl")


def audit_lines(audit):
    return [json.loads(line) for line in audit.path.read_text().splitlines()]


def test_cooperative_tree_stops_on_sigint_within_1_5s(tmp_path, rid, audit):
    s = StandIn(tmp_path, rid, "--workers", "2")
    try:
        procs = run_processes(rid, None)
        assert {p.pid for p in procs} == {s.proc.pid, *s.workers}
        # the workers are session leaders, like torchrun's: a group signal to the launcher misses them
        assert all(os.getsid(w) == w for w in s.workers)
        plan = make_plan(procs, run_id=rid)
        assert not plan.refused and len(plan.targets) == 3
        t0 = time.monotonic()
        report = Stopper(plan, audit=audit, grace_int=5, grace_term=2).run()
        took = time.monotonic() - t0
        assert report.all_gone and took < 1.5, report.outcomes
        assert {o.result for o in report.outcomes} == {"stopped"}
        assert not any(alive(p) for p in [s.proc.pid, *s.workers])
        lines = audit_lines(audit)
        assert lines[0]["signal"] == "SIGINT" and lines[0]["target"] == "process group"
        assert lines[0]["pids"] == [s.proc.pid] and lines[0]["actor"]
        assert all(line["signal"] == "SIGINT" for line in lines)  # nothing needed escalation
    finally:
        s.cleanup()


def test_a_worker_ignoring_sigint_gets_sigterm_after_the_grace(tmp_path, rid, audit):
    s = StandIn(tmp_path, rid, "--workers", "2", "--ignore-int", "1")
    try:
        plan = make_plan(run_processes(rid, None), run_id=rid)
        t0 = time.monotonic()
        report = Stopper(plan, audit=audit, grace_int=1.0, grace_term=2).run()
        took = time.monotonic() - t0
        assert report.all_gone and took <= 1.0 + 1.0, took
        stubborn = next(o for o in report.outcomes if o.pid == s.workers[1])
        # SIGTERM reaches it directly, or first through the launcher, which forwards it (then the
        # stopper finds it already gone when its turn comes): stopped either way, never killed
        assert stubborn.result == "stopped" and stubborn.last_signal in ("SIGTERM", None)
        assert [line["signal"] for line in audit_lines(audit)].count("SIGTERM") >= 1
    finally:
        s.cleanup()


def test_sigkill_when_sigint_and_sigterm_are_ignored(tmp_path, rid, audit):
    s = StandIn(tmp_path, rid, "--workers", "1", "--ignore-term", "0")
    try:
        plan = make_plan(run_processes(rid, None), run_id=rid)
        report = Stopper(plan, audit=audit, grace_int=0.5, grace_term=0.5).run()
        w = next(o for o in report.outcomes if o.pid == s.workers[0])
        assert (w.result, w.last_signal) == ("killed", "SIGKILL")
        assert report.all_gone
    finally:
        s.cleanup()


def test_orphans_of_a_killed_launcher_are_found_by_run_id_and_stopped(tmp_path, rid, audit):
    s = StandIn(tmp_path, rid, "--workers", "2")
    try:
        os.kill(s.proc.pid, signal.SIGKILL)  # what `kill -9 <launcher>` does: workers train on
        s.proc.wait()
        time.sleep(0.2)
        assert all(alive(w) for w in s.workers)
        procs = run_processes(rid, None)
        assert {p.pid for p in procs} == set(s.workers)
        assert all(p.ppid != s.proc.pid for p in procs)  # reparented
        report = Stopper(make_plan(procs, run_id=rid), audit=audit, grace_int=3).run()
        assert report.all_gone and not any(alive(w) for w in s.workers)
        assert {o.last_signal for o in report.outcomes} == {"SIGINT"}  # each got it directly
    finally:
        s.cleanup()


def test_a_reused_pid_is_skipped_not_signalled(tmp_path, rid, audit):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              start_new_session=True)
    try:
        p = describe(psutil.Process(victim.pid))
        stale = replace(p, create_time=p.create_time - 50)  # what we saw was an older process
        report = Stopper(make_plan([stale]), audit=audit, grace_int=0.2, grace_term=0.2).run()
        assert report.outcomes[0].result == "skipped (PID reused)"
        assert alive(victim.pid)
        assert audit_lines(audit)[0]["outcome"].startswith("skipped")
        report = signal_processes(make_plan([stale]), signal.SIGKILL, audit=audit)
        assert report.outcomes[0].result == "skipped (PID reused)" and alive(victim.pid)
    finally:
        victim.kill()
        victim.wait()


def test_never_pid_1_nor_this_process_nor_its_ancestors():
    me = describe(psutil.Process())
    parent = describe(psutil.Process().parent())
    init = describe(psutil.Process(1))
    procs = [p for p in (me, parent, init) if p is not None]
    plan = make_plan(procs, allow_others=True)
    assert plan.targets == ()
    reasons = {r.proc.pid: r.reason for r in plan.refused}
    assert "PID 1" in reasons[1] and "ancestors" in reasons[me.pid]


def test_other_users_processes_are_refused_and_root_needs_the_flag(tmp_path):
    p = describe(psutil.Process(os.getpid()))
    other = replace(p, pid=999_999, uid=p.uid + 4242, user="bob")
    # as a non-root caller: never offered
    plan = make_plan([other], my_uid=p.uid + 1 if p.uid == 0 else p.uid)
    assert plan.targets == () and "owned by bob" in plan.refused[0].reason
    # as root: only with the explicit flag
    assert make_plan([other], my_uid=0).targets == ()
    assert len(make_plan([other], my_uid=0, allow_others=True).targets) == 1


@pytest.mark.skipif(os.geteuid() != 0 or not __import__("shutil").which("useradd"),
                    reason="needs root to create a second Unix user")
def test_a_real_second_users_process(tmp_path, audit):
    user = "ftmtest"
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", user], check=True)
    other = subprocess.Popen(["runuser", "-u", user, "--", "sleep", "60"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        kid = None
        while kid is None and time.monotonic() < deadline:
            kids = psutil.Process(other.pid).children()
            kid = kids[0] if kids else None
            time.sleep(0.02)
        proc = describe(kid)
        assert proc.user == user
        plan = make_plan([proc])
        assert plan.targets == () and f"owned by {user}" in plan.refused[0].reason
        report = Stopper(plan, audit=audit, grace_int=0.1).run()
        assert report.outcomes == [] and alive(kid.pid)
        assert report.refused[0][0] == kid.pid
    finally:
        other.kill()
        subprocess.run(["pkill", "-u", user, "sleep"])
        other.wait()


def test_group_signal_only_when_the_group_is_all_targets(tmp_path, rid, audit):
    """Launcher in the test runner's own process group: a group SIGINT would hit pytest itself."""
    s = StandIn(tmp_path, rid, "--workers", "1", new_session=False)
    try:
        procs = run_processes(rid, None)
        assert os.getpgid(s.proc.pid) == os.getpgid(os.getpid())
        report = Stopper(make_plan(procs, run_id=rid), audit=audit, grace_int=3).run()
        assert report.all_gone
        first = audit_lines(audit)[0]
        assert first["target"] == "process" and first["pid"] == s.proc.pid  # not the group
    finally:
        s.cleanup()


def test_roles_of_a_llamafactory_tree():
    from ftmllm_tui.core.runs.kill import role_of

    def proc(*cmd):
        return replace(describe(psutil.Process()), cmdline=cmd)

    lf = ".venv/lib/python3.11/site-packages/llamafactory/launcher.py"
    assert role_of(proc("python", ".venv/bin/llamafactory-cli", "train", "x.yaml"), None) == "launcher"
    assert role_of(proc("python", ".venv/bin/torchrun", "--nproc_per_node", "2", lf, "x.yaml"),
                   None) == "launcher"
    assert role_of(proc("python", "-u", lf, "x.yaml"), None) == "worker"
    assert role_of(proc("python", "-m", "ftmllm_tui.core.runs.runner", "d"), os.getpid()) == "runner"


def test_a_worker_that_already_exited_is_reported_as_gone(tmp_path, rid, audit):
    s = StandIn(tmp_path, rid, "--workers", "2", "--early-exit", "0")
    try:
        procs = run_processes(rid, None)
        deadline = time.monotonic() + 5
        while alive(s.workers[0]) and time.monotonic() < deadline:  # it exits after 0.3 s
            time.sleep(0.05)
        report = Stopper(make_plan(procs, run_id=rid), audit=audit, grace_int=3).run()
        early = next(o for o in report.outcomes if o.pid == s.workers[0])
        assert early.result == "already gone" and early.last_signal is None
        assert report.all_gone
        # nothing was sent to the PID of the process that had exited
        assert all(line.get("pid") != s.workers[0] for line in audit_lines(audit))
    finally:
        s.cleanup()


def test_hurry_skips_the_grace_period(tmp_path, rid, audit):
    """A stubborn run with long graces: "Next signal now" ends each wait at once (SIGTERM, then SIGKILL)."""
    import threading

    s = StandIn(tmp_path, rid, "--workers", "1", "--ignore-term", "0")
    try:
        plan = make_plan(run_processes(rid, None), run_id=rid)
        hurry = threading.Event()
        lines: list[str] = []

        def progress(m: str) -> None:
            lines.append(m)
            if m.startswith(("SIGINT", "SIGTERM")):  # as a user pressing the button in each wait
                threading.Timer(0.3, hurry.set).start()

        t0 = time.monotonic()
        report = Stopper(plan, audit=audit, grace_int=60, grace_term=60, progress=progress, hurry=hurry).run()
        took = time.monotonic() - t0
        assert report.all_gone and took < 5, (took, lines)
        w = next(o for o in report.outcomes if o.pid == s.workers[0])
        assert (w.result, w.last_signal) == ("killed", "SIGKILL")
        assert sum("next signal now" in m for m in lines) == 2
    finally:
        s.cleanup()


def test_stop_and_save_reports_the_real_sequence(tmp_path, rid, audit):
    """A runner (the real one) over a stand-in tree whose workers save on SIGABRT and exit 0: the report
    says SIGABRT → saved at step N → exited 0; outcomes say who got SIGABRT and who exited after; the
    record keeps last_signal, the saved adapter and its step."""
    from ftmllm_tui.core.runs.registry import Registry, RunRecord
    from ftmllm_tui.core.runs.runctl import execute_stop, plan_run_stop
    from standin.helpers import TREE

    reg = Registry(tmp_path / "runs")
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    rec = RunRecord(id=rid, name="save", kind="train", config=None, output_dir=str(out), cwd=str(tmp_path),
                    argv=(sys.executable, str(TREE), "launcher", "--workers", "2", "--ready", str(ready),
                          "--save-dir", str(out)), env=(("FTMLLM_RUN_ID", rid),))
    reg.create(rec, None)
    runner = subprocess.Popen([sys.executable, "-m", "ftmllm_tui.core.runs.runner", str(reg.dir(rid))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=dict(os.environ, FTMLLM_RUN_ID=rid), start_new_session=True)
    try:
        end = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < end:
            time.sleep(0.05)
        workers = [int(x) for x in ready.read_text().split()]
        plan = plan_run_stop(reg, rec)
        plan = replace(plan, targets=tuple(replace(t, role="worker") if t.proc.pid in workers else t
                                           for t in plan.targets))
        assert {t.role for t in plan.targets} >= {"runner", "worker"}
        report = execute_stop(reg, None, rec, plan, audit=audit, grace_int=5, grace_term=2, save_first=True,
                              save_timeout=20)
        assert report.all_gone, report.outcomes
        by_role = {o.pid: o for o in report.outcomes}
        for w in workers:
            assert by_role[w].result == "stopped" and by_role[w].last_signal == "SIGABRT"
            assert by_role[w].gone_after_s is not None
        assert {o.result for o in report.outcomes if o.pid not in workers} == {"exited"}
        assert report.exit_code == 0 and report.save["saved"] and report.save["step"] >= 1100
        assert report.summary().startswith(f"SIGABRT → saved at step {report.save['step']} → exited 0 in ")
        assert report.took_s > 0
        saved = reg.load(rid)
        assert saved.saved_adapter == str(out) and saved.saved_step == report.save["step"]
        assert [o["last_signal"] for o in saved.stop_report if o["pid"] in workers] == ["SIGABRT", "SIGABRT"]
    finally:
        runner.kill()
        runner.wait()
