"""Slurm as the engine, against a real throwaway one-node Slurm (Debian's slurmctld, slurmd, munge;
tests/integration/slurmcluster.py): cluster and jobs output, submitting the real tiny LLaMA-Factory
run (.venv-lf, CPU) as a batch job, following it, stopping it and stop-and-save, a pending job with
its reason, a failing job, sbatch refusing a bad partition, the controller down, and the multi-node
script's environment (a two-node allocation is impossible on one node, so its srun line is run
with two tasks on the one node, as the test says where it edits the script).

One cluster per module; every test cancels what it submitted. Skips with the reason where Slurm is
not installed or cannot run (not root).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from .conftest import ROOT, cli, run_pids
from .slurmcluster import SlurmCluster, SlurmUnavailable, unavailable

LF = ROOT / ".venv-lf" / "bin" / "llamafactory-cli"
BUILD = ROOT / "tests" / "lf" / "build_tiny.py"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = unavailable()
    if why:
        pytest.skip(why)
    c = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
    except SlurmUnavailable as e:
        pytest.fail(f"the throwaway Slurm did not start: {e}")
    yield c
    c.stop()


@pytest.fixture
def senv(cluster, tmp_path):
    """Environment for the CLI: the test cluster, private state and settings."""
    from ftmllm_tui.core.slurm import runs as slurm_runs

    slurm_runs.forget_cache()
    env = dict(cluster.env, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               PYTHONPATH=str(ROOT), HOME=str(tmp_path))
    for k in ("SWANLAB_API_KEY", "TMUX"):
        env.pop(k, None)
    yield env
    cluster.cancel_all()
    assert cluster.wait_empty(60), cluster.run("squeue", check=False).stdout


def sbatch(cluster, tmp_path, *args, wrap="sleep 300"):
    r = cluster.run("sbatch", "--parsable", "-o", str(tmp_path / "slurm-%j.out"), *args, "--wrap", wrap)
    return r.stdout.strip().split(";")[0]


def wait(pred, timeout, step=0.3, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def slurm_json(env, *args):
    r = cli(env, "slurm", "--json", *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def runs(env):
    r = cli(env, "runs", "--json")
    assert r.returncode == 0, r.stderr
    return {x["id"]: x for x in json.loads(r.stdout)}


def standin(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "bin" / "llamafactory-cli"
    p.parent.mkdir(exist_ok=True)
    p.write_text("#!/bin/bash\n" + body)
    p.chmod(0o755)
    return p


def settings(env, text: str) -> None:
    p = Path(env["XDG_CONFIG_HOME"]) / "ftmllm-tui" / "config.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


# -- seeing the cluster -----------------------------------------------------------------------------

def test_cluster_and_jobs_with_gpus_reasons_and_holders(cluster, senv, tmp_path):
    a = sbatch(cluster, tmp_path, "--gres=gpu:2", "-J", "two gpus|odd name")
    b = sbatch(cluster, tmp_path, "--gpus-per-node=3")  # not in %b: read from TRES / tres-per-node
    held = sbatch(cluster, tmp_path, "--hold", "--gres=gpu:1")
    wait(lambda: {j["id"]: j["state"] for j in slurm_json(senv, "--all")["jobs"]}.get(b) == "RUNNING"
         and {j["id"]: j["state"] for j in slurm_json(senv, "--all")["jobs"]}.get(a) == "RUNNING", 30,
         what="both jobs running")
    big = sbatch(cluster, tmp_path, "--gres=gpu:4")  # 5 of 8 held: waits for resources
    data = wait(lambda: (d := slurm_json(senv, "--all")) and
                any(j["id"] == big and j["reason"] in ("Resources", "Priority") for j in d["jobs"]) and d,
                30, what="the pending job's reason")
    assert data["version"].startswith(("2", "1"))
    (node,) = data["nodes"]
    assert (node["gpus_total"], node["gpus_alloc"], node["gpus_free"], node["gpu_type"]) == (8, 5, 3, "h200")
    assert node["state"] == "mixed" and node["partitions"] == ["gpu"]
    jobs = {j["id"]: j for j in data["jobs"]}
    assert jobs[a]["name"] == "two gpus|odd name" and jobs[a]["gpus"] == 2
    assert jobs[b]["gpus"] == 3 and jobs[big]["gpus"] == 4 and jobs[big]["state"] == "PENDING"
    assert jobs[held]["reason"] == "JobHeldUser"
    assert data["holders"] == {"root": 5}
    assert data["partitions"][0]["name"] == "gpu" and data["partitions"][0]["default"]
    assert "accounting is off" in data["accounting_note"]
    r = cli(senv, "slurm", "--all")
    assert r.returncode == 0, r.stderr
    assert "8 GPUs: 5 allocated, 3 free" in r.stdout and "JobHeldUser" in r.stdout
    assert "Resources" in r.stdout or "Priority" in r.stdout
    assert "two gpus|odd name" in r.stdout and "finished jobs: accounting is off" in r.stdout


def test_drained_node_shows_its_reason(cluster, senv):
    cluster.run("scontrol", "update", f"NodeName={cluster.node}", "State=DRAIN", "Reason=bad fan on gpu3")
    try:
        (node,) = wait(lambda: [n for n in slurm_json(senv)["nodes"] if "drain" in n["state"]], 20,
                       what="the node drained")
        assert node["reason"].startswith("bad fan on gpu3") and node["gpus_free"] == 0  # + [who@when]
        assert "bad fan on gpu3" in cli(senv, "slurm").stdout
    finally:
        cluster.run("scontrol", "update", f"NodeName={cluster.node}", "State=RESUME")
    wait(lambda: slurm_json(senv)["nodes"][0]["state"] == "idle", 20, what="the node idle again")


def test_controller_down_and_slurm_off_say_so(cluster, senv, tmp_path):
    from .slurmcluster import free_port

    conf = tmp_path / "down.conf"
    conf.write_text("\n".join(f"SlurmctldPort={free_port()}" if ln.startswith("SlurmctldPort=") else ln
                              for ln in Path(cluster.conf).read_text().splitlines()) + "\n")
    t0 = time.monotonic()
    r = cli(dict(senv, SLURM_CONF=str(conf)), "slurm", "--json")
    assert r.returncode == 2 and time.monotonic() - t0 < 30
    err = json.loads(r.stdout)["error"]
    assert "Slurm mode is off" in err and "\n" not in err and "Traceback" not in r.stderr
    settings(senv, "[slurm]\nenabled = false\n")
    r = cli(senv, "slurm")
    assert r.returncode == 2 and "enabled = false" in r.stderr and "Traceback" not in r.stderr


# -- submitting -------------------------------------------------------------------------------------

def test_bad_partition_is_refused_with_one_clear_line(senv, tmp_path):
    fake = standin(tmp_path, "echo never\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n")
    settings(senv, "[configs]\ncheck_on_launch = false\n")
    env = dict(senv, FTMLLM_LLAMAFACTORY_CLI=str(fake))
    r = cli(env, "launch", str(cfg), "--slurm", "--partition", "nosuchpart")
    assert r.returncode == 1, r.stdout + r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and "nosuchpart" in err[0].lower() or "invalid partition" in err[0].lower(), r.stderr
    assert "Traceback" not in r.stderr
    assert not (Path(senv["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs").exists() or not any(
        (Path(senv["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs").iterdir())
    r = cli(env, "launch", str(cfg), "--slurm", "--time", "soon")
    assert r.returncode == 2 and "--time 'soon'" in r.stderr


def test_dry_run_prints_the_script_and_test_only(senv, tmp_path):
    fake = standin(tmp_path, "echo never\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n")
    settings(senv, '[configs]\ncheck_on_launch = false\n[slurm]\naccount = ""\nqos = ""\nmem = "2G"\n'
                   'cpus_per_task = 2\n[runs.env]\nHF_HOME = "/data/hf"\n')
    env = dict(senv, FTMLLM_LLAMAFACTORY_CLI=str(fake), SWANLAB_API_KEY="sk-secret-123")
    r = cli(env, "launch", str(cfg), "--slurm", "--gpus-per-node", "2", "--time", "1:00:00", "--dry-run",
            "--name", "dry")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for line in ("#SBATCH --job-name=dry", "#SBATCH --gres=gpu:2", "#SBATCH --time=1:00:00",
                 "#SBATCH --cpus-per-task=2", "#SBATCH --mem=2G", "export HF_HOME=/data/hf",
                 "export FORCE_TORCHRUN=1 NPROC_PER_NODE=2", "export LLAMABOARD_ENABLED=1"):
        assert line in out, line
    assert "sk-secret-123" not in out and "SWANLAB_API_KEY" in out  # named, never shown
    assert "sbatch --test-only: Job" in out and "to start at" in out
    assert "dry run: nothing submitted" in out


def test_failing_job_exit_code_and_first_error(cluster, senv, tmp_path):
    fake = standin(tmp_path, 'echo "loading $2"\necho "Traceback (most recent call last):"\n'
                             'echo "ValueError: Some keys are not used: [bogus]" >&2\nexit 3\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\nbogus: 1\n")
    settings(senv, "[configs]\ncheck_on_launch = false\n[slurm]\ngpus_per_node = 0\n")
    # a state folder with a space: the script's #SBATCH paths are quoted (LLaMA-Factory's own torchrun
    # launch splits its command line on spaces, so the real runs below keep the default folder)
    env = dict(senv, FTMLLM_LLAMAFACTORY_CLI=str(fake), XDG_STATE_HOME=str(tmp_path / "st ate"))
    r = cli(env, "launch", str(cfg), "--slurm", "--name", "fails")
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    x = wait(lambda: (x := runs(env)[run_id]) and x["state"] == "failed" and x, 60, what="the job failed")
    assert x["exit_code"] == 3 and x["slurm_job"]
    log = cli(env, "logs", run_id)
    assert "ValueError: Some keys are not used: [bogus]" in log.stdout and "exit code 3" in log.stdout


def test_pending_job_reason_then_cancelled(cluster, senv, tmp_path):
    hog = sbatch(cluster, tmp_path, "--gres=gpu:8")
    wait(lambda: cluster.run("squeue", "-h", "-j", hog, "-o", "%T").stdout.strip() == "RUNNING", 30,
         what="the hog running")
    fake = standin(tmp_path, "sleep 300\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n")
    settings(senv, "[configs]\ncheck_on_launch = false\n")
    env = dict(senv, FTMLLM_LLAMAFACTORY_CLI=str(fake))
    r = cli(env, "launch", str(cfg), "--slurm", "--gpus-per-node", "2", "--name", "waits")
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    job = wait(lambda: [j for j in slurm_json(env)["jobs"] if j["run_id"] == run_id
                        and j["reason"] in ("Resources", "Priority")], 30, what="the reason")[0]
    assert job["state"] == "PENDING" and job["gpus"] == 2
    assert runs(env)[run_id]["state"] == "starting"
    r = cli(env, "stop", run_id, "--yes")
    assert r.returncode == 0 and "scancel (pending job): sent" in r.stdout and "all gone" in r.stdout, r.stdout
    assert runs(env)[run_id]["state"] == "stopped"
    audit = (Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "audit.jsonl").read_text().splitlines()
    assert any(json.loads(a).get("job") == job["id"] and "scancel" in json.loads(a)["signal"] for a in audit)


def test_multinode_script_environment_with_two_tasks_on_one_node(cluster, senv, tmp_path):
    """A 2-node allocation is impossible on this one-node cluster: the script is generated for
    --nodes 2 and its allocation lines are edited to two tasks on one node (srun --ntasks=2), which
    exercises the per-task NNODES / NODE_RANK / MASTER_ADDR / MASTER_PORT logic unchanged."""
    from ftmllm_tui.core.runs.launch import LaunchRequest, prepare
    from ftmllm_tui.core.runs.registry import Registry
    from ftmllm_tui.core.slurm.submit import SlurmSpec, build_script, submit

    fake = standin(tmp_path, 'echo "rank NODE_RANK=$NODE_RANK NNODES=$NNODES MASTER_ADDR=$MASTER_ADDR '
                             'MASTER_PORT=$MASTER_PORT FORCE_TORCHRUN=$FORCE_TORCHRUN '
                             'NPROC_PER_NODE=$NPROC_PER_NODE RUN=$FTMLLM_RUN_ID CFG=$2"\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n")
    reg = Registry(tmp_path / "st ate" / "ftmllm-tui" / "runs")  # a space: #SBATCH paths are quoted
    prep = prepare(LaunchRequest(config=cfg, gpus="none", name="multi", cwd=tmp_path),
                   llamafactory_cli=str(fake), environ=dict(senv))
    assert prep.ok, prep.problems
    spec = SlurmSpec(nodes=2, gpus_per_node=4)
    script = build_script(prep, spec, reg.dir(prep.run_id))
    assert "#SBATCH --nodes=2" in script and "srun --ntasks-per-node=1" in script
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in script
    one_node = (script.replace("#SBATCH --nodes=2", "#SBATCH --nodes=1\n#SBATCH --ntasks=2")
                .replace("#SBATCH --ntasks-per-node=1\n", "")
                .replace("srun --ntasks-per-node=1", "srun --ntasks=2"))
    rec = submit(prep, spec, reg, script=one_node, environ=dict(senv))
    log = reg.dir(rec.id) / "console.log"
    wait(lambda: (reg.dir(rec.id) / "exit_code").exists(), 60, what="the job's end")
    text = log.read_text()
    ranks = sorted(ln for ln in text.splitlines() if ln.startswith("rank "))
    port = 20000 + int(rec.slurm_job) % 20000
    assert ranks == [f"rank NODE_RANK={i} NNODES=2 MASTER_ADDR={cluster.node} MASTER_PORT={port} "
                     f"FORCE_TORCHRUN=1 NPROC_PER_NODE=4 RUN={rec.id} CFG={reg.dir(rec.id) / 'config.yaml'}"
                     for i in (0, 1)], text
    assert (reg.dir(rec.id) / "exit_code").read_text().strip() == "0"


def test_gpu_usage_of_a_running_job_through_srun_overlap(cluster, senv, tmp_path, monkeypatch):
    """srun --jobid --overlap into a real running job: the app's snapshot there (a recording stands in
    for NVML: this machine has no GPU), and without one the clear 'neither works' line."""
    from ftmllm_tui.core.gpus.samplers import bundled_recording
    from ftmllm_tui.core.slurm.usage import job_gpu_usage

    monkeypatch.setenv("SLURM_CONF", str(cluster.conf))
    job = sbatch(cluster, tmp_path, "--gres=gpu:2")
    wait(lambda: cluster.run("squeue", "-h", "-j", job, "-o", "%T").stdout.strip() == "RUNNING", 30,
         what="the job running")
    (node,) = job_gpu_usage(job, 1, snapshot_args=("snapshot", "--json", "--replay", str(bundled_recording())))
    assert node.source == "app" and len(node.gpus) == 2 and node.gpus[0].name == "NVIDIA H200"
    r = cli(senv, "slurm", "--usage", job)
    assert r.returncode == 0 and "neither ftmllm-tui nor nvidia-smi works on this node" in r.stdout, r.stdout
    assert "no NVIDIA driver" in r.stdout
    held = sbatch(cluster, tmp_path, "--hold")
    r = cli(senv, "slurm", "--usage", held, "--json")
    assert r.returncode == 1 and "not running (pending)" in json.loads(r.stdout)["error"]


# -- the real LLaMA-Factory as a Slurm job ------------------------------------------------------------

def _build(tmp_path: Path) -> Path:
    r = subprocess.run([str(ROOT / ".venv-lf" / "bin" / "python"), str(BUILD), str(tmp_path / "ws"),
                        "--epochs", "200"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return Path(r.stdout.strip().splitlines()[-1])


def _lf_env(senv, cfg: Path) -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_tiny", BUILD)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.train_env(cfg.parent, 1, base=dict(senv, FTMLLM_LLAMAFACTORY_CLI=str(LF)))


def _output_dir(cfg: Path) -> Path:
    import yaml

    return Path(yaml.safe_load(cfg.read_text())["output_dir"])


@pytest.fixture
def lf(senv, tmp_path):
    if not LF.exists():
        pytest.fail("the LLaMA-Factory test environment is missing: run `sh scripts/lf_env.sh` "
                    "(make test does it)")
    cfg = _build(tmp_path)
    return cfg, _lf_env(senv, cfg)


def _job_pids(run_id: str) -> list[int]:
    return run_pids(run_id)


def _alive(pid: int, create_time: float) -> bool:
    try:
        p = psutil.Process(pid)
        return p.create_time() == create_time and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.timeout(240)
def test_real_llamafactory_job_followed_then_stopped(cluster, lf):
    cfg, env = lf
    r = cli(env, "launch", str(cfg), "--slurm", "--name", "tiny-slurm", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sbatch --test-only: Job" in r.stdout and "submitted as Slurm job" in r.stdout
    run_id = r.stdout.strip().splitlines()[-1]
    run_dir = Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id
    assert (run_dir / "job.sbatch").exists() and (run_dir / "config.yaml").exists()
    log = _output_dir(cfg) / "trainer_log.jsonl"
    wait(lambda: log.exists() and len(log.read_text().splitlines()) >= 5, 150, 0.5, "training steps")
    x = runs(env)[run_id]
    assert x["state"] == "running" and x["slurm_job"] and x["progress"]["step"] >= 5
    assert x["progress"]["loss"] is not None
    job = [j for j in slurm_json(env)["jobs"] if j["run_id"] == run_id][0]
    assert job["state"] == "RUNNING" and job["gpus"] == 1 and job["name"] == "tiny-slurm"
    logs = cli(env, "logs", run_id)
    assert logs.returncode == 0 and "'loss'" in logs.stdout
    plot = cli(env, "plot", run_id, "--width", "60", "--height", "10")
    assert plot.returncode == 0 and "loss" in plot.stdout
    before = [(p, psutil.Process(p).create_time()) for p in _job_pids(run_id) if psutil.pid_exists(p)]
    assert before  # the torchrun tree runs here (the one node is this machine)
    r = cli(env, "stop", run_id, "--yes", timeout=120)
    assert r.returncode == 0 and "all gone" in r.stdout, r.stdout + r.stderr
    assert "SIGINT (scancel --signal=INT --full): sent" in r.stdout
    # by (pid, create time): PIDs wrap fast here. A process in the middle of exiting has an empty
    # environ and is not yet a zombie, so wait on the identities seen before the stop, not on the run id
    wait(lambda: _job_pids(run_id) == [] and not [p for p, t in before if _alive(p, t)], 20,
         what="every process of the job gone")
    assert cluster.run("squeue", "-h", "-j", x["slurm_job"], check=False).stdout.strip() == ""
    assert runs(env)[run_id]["state"] == "stopped"


@pytest.mark.timeout(240)
def test_real_llamafactory_job_stop_and_save_writes_the_adapter(cluster, lf):
    cfg, env = lf
    r = cli(env, "launch", str(cfg), "--slurm", "--name", "tiny-save", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    out = _output_dir(cfg)
    log = out / "trainer_log.jsonl"
    wait(lambda: log.exists() and len(log.read_text().splitlines()) >= 3, 150, 0.5, "training steps")
    r = cli(env, "stop", run_id, "--yes", "--save", timeout=200)
    assert r.returncode == 0 and "all gone" in r.stdout, r.stdout + r.stderr
    assert "saved and stopped" in r.stdout, r.stdout
    assert (out / "adapter_model.safetensors").exists()
    run_dir = Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "runs" / run_id
    assert (run_dir / "exit_code").read_text().strip() == "0"
    steps = [json.loads(ln).get("current_steps") for ln in log.read_text().splitlines()]
    assert max(s for s in steps if s) < 4000
    assert runs(env)[run_id]["state"] == "stopped"
    audit = [json.loads(a) for a in (Path(env["XDG_STATE_HOME"]) / "ftmllm-tui" / "audit.jsonl")
             .read_text().splitlines()]
    assert any(a.get("signal") == "SIGABRT" and a.get("run") == run_id for a in audit)
    wait(lambda: _job_pids(run_id) == [], 20, what="every process of the job gone")


# -- the TUI: the Slurm view, the stop dialog, the submit dialog (Pilot, the same real cluster) -----------

def _app(tmp_path):
    from ftmllm_tui.core.gpus.samplers import ReplaySampler, bundled_recording
    from ftmllm_tui.settings import Settings
    from ftmllm_tui.ui.app import FtmApp

    return FtmApp(ReplaySampler(bundled_recording(), me="root"), autostart=False,
                  settings=Settings(check_on_launch=False, refresh_s=1.0))


async def test_slurm_view_shows_nodes_jobs_reasons_and_stops_only_after_confirming(cluster, senv, tmp_path,
                                                                                     monkeypatch):
    from textual.widgets import Button

    from ftmllm_tui.ui.screens.slurm import SlurmScreen, SlurmStopScreen
    from tests.ui.conftest import screen_text, until

    monkeypatch.setenv("SLURM_CONF", str(cluster.conf))
    run_job = sbatch(cluster, tmp_path, "--gres=gpu:3", "-J", "mine-run")
    wait(lambda: cluster.run("squeue", "-h", "-j", run_job, "-o", "%T").stdout.strip() == "RUNNING", 30,
         what="the job running")
    held = sbatch(cluster, tmp_path, "--hold", "--gres=gpu:1", "-J", "mine-held")
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen) and app.screen.data.state is not None, 20)
        text = "\n".join(screen_text(app))
        assert "5 of 8 GPUs free" in text.splitlines()[0]
        assert "mine-run" in text and "mine-held" in text and "JobHeldUser" in text
        assert "GPUs held: root 3" in text and "accounting is off" in text
        screen = app.screen
        screen.query_one("#sjobs").move_cursor_to_key(run_job)
        await pilot.press("u")  # GPU usage, on demand: srun --overlap into the job
        await until(pilot, lambda: "neither ftmllm-tui nor nvidia-smi" in "\n".join(screen_text(app)), 30)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen))
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, SlurmStopScreen))
        assert app.focused.id == "cancel"
        assert "Slurm enforces that only your own jobs can be cancelled" in "\n".join(screen_text(app))
        await pilot.press("enter")  # Cancel: nothing sent
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen))
        assert cluster.run("squeue", "-h", "-j", run_job, "-o", "%T").stdout.strip() == "RUNNING"
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, SlurmStopScreen))
        app.screen.query_one("#stop", Button).press()
        await until(pilot, lambda: app.screen.query("#close"), 30)
        assert "left the queue" in "\n".join(screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen))
        await until(pilot, lambda: run_job not in app.screen._job_by_id, 20)
        assert held in app.screen._job_by_id
    assert cluster.run("squeue", "-h", "-j", run_job, check=False).stdout.strip() == ""
    audit = (Path(os.environ["XDG_STATE_HOME"]) / "ftmllm-tui" / "audit.jsonl").read_text()
    assert f'"job": "{run_job}"' in audit and "scancel --signal=INT --full" in audit


async def test_submit_dialog_shows_an_editable_script_and_submits_it(cluster, senv, tmp_path, monkeypatch):
    from textual.widgets import Button, Input, TextArea

    from ftmllm_tui.ui.screens.slurm import SlurmScreen
    from ftmllm_tui.ui.screens.slurm_submit import SlurmSubmitScreen
    from tests.ui.conftest import until

    monkeypatch.setenv("SLURM_CONF", str(cluster.conf))
    fake = standin(tmp_path, 'echo "trained $2"\n')
    monkeypatch.setenv("FTMLLM_LLAMAFACTORY_CLI", str(fake))
    cfg = tmp_path / "sft.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n")
    app = _app(tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SlurmSubmitScreen))
        dlg = app.screen
        assert app.focused.id == "cancel"
        dlg.query_one("#f-config", Input).value = str(cfg)
        dlg.query_one("#f-gpus", Input).value = "2"
        await until(pilot, lambda: "#SBATCH --gres=gpu:2" in dlg.query_one("#script", TextArea).text, 20)
        area = dlg.query_one("#script", TextArea)
        area.load_text(area.text.replace("#SBATCH --nodes=1", "#SBATCH --nodes=1\n# edited in the dialog"))
        await until(pilot, lambda: not dlg.query_one("#check", Button).disabled)
        dlg.query_one("#check", Button).press()
        await until(pilot, lambda: "sbatch --test-only" in str(dlg.query_one("#problems").render()), 20)
        dlg.query_one("#submit", Button).press()
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen), 20)
    (rec,), _ = app.ctx.registry.all()
    assert rec.slurm_job and rec.slurm_gpus_per_node == 2
    script = (app.ctx.registry.dir(rec.id) / "job.sbatch").read_text()
    assert "# edited in the dialog" in script
    wait(lambda: (app.ctx.registry.dir(rec.id) / "exit_code").exists(), 60, what="the job's end")
    assert f"trained {app.ctx.registry.dir(rec.id) / 'config.yaml'}" in (
        app.ctx.registry.dir(rec.id) / "console.log").read_text()
    # relaunch (R in the Runs view) goes back to Slurm with the run's frozen config, nodes and GPUs
    app2 = _app(tmp_path)
    async with app2.run_test(size=(100, 32)) as pilot:
        app2.open_launch(rec)
        await until(pilot, lambda: isinstance(app2.screen, SlurmSubmitScreen) and app2.screen.query("#f-gpus"))
        assert app2.screen.query_one("#f-gpus", Input).value == "2"
        assert app2.screen.query_one("#f-config", Input).value == str(app2.ctx.registry.dir(rec.id) / "config.yaml")


async def test_jobs_view_shows_progress_and_loss_of_an_app_run_and_follows_it(cluster, senv, tmp_path,
                                                                              monkeypatch):
    """A stand-in trainer (writes trainer_log.jsonl as LLaMA-Factory does, then waits) submitted through the
    app: the jobs view shows its progress and latest loss; l opens the run's detail view on the job's log."""
    from ftmllm_tui.ui.screens.detail import RunDetailScreen
    from ftmllm_tui.ui.screens.slurm import SlurmScreen
    from tests.ui.conftest import screen_text, until

    out = tmp_path / "out"
    fake = standin(tmp_path, f'mkdir -p {out}\necho "step log from the job"\n'
                             f'for i in 1 2 3; do echo "{{\\"current_steps\\": $i, \\"total_steps\\": 10, '
                             f'\\"loss\\": 2.5$i, \\"percentage\\": $((i * 10)).0}}" >> {out}/trainer_log.jsonl; done\n'
                             'sleep 120\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"output_dir: {out}\n")
    settings(senv, "[configs]\ncheck_on_launch = false\n")
    env = dict(senv, FTMLLM_LLAMAFACTORY_CLI=str(fake))
    r = cli(env, "launch", str(cfg), "--slurm", "--name", "progress")
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.strip().splitlines()[-1]
    wait(lambda: (out / "trainer_log.jsonl").exists() and len((out / "trainer_log.jsonl").read_text().splitlines()) == 3,
         30, what="the stand-in's trainer log")
    for k in ("SLURM_CONF", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(k, env[k])
    app = _app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, SlurmScreen) and app.screen.data.state is not None, 20)
        row = next(ln for ln in screen_text(app) if "progress" in ln)
        assert "30%" in row and "2.530" in row and run_id[:4] in row, row  # RUN: cut to the room left
        job = next(j for j in app.screen._job_by_id.values() if j.run_id == run_id)
        app.screen.query_one("#sjobs").move_cursor_to_key(job.id)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen), 10)
        await until(pilot, lambda: "step log from the job" in "\n".join(screen_text(app)), 10)
