"""Parsing Slurm's text formats (lines as Slurm 22.05 printed them on the test cluster, plus the
TRES forms of clusters that track GPUs), error lines, scripts and run states. No Slurm needed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ftmllm_tui.core.runs.launch import LaunchRequest, prepare
from ftmllm_tui.core.runs.registry import RunRecord
from ftmllm_tui.core.slurm import query as q
from ftmllm_tui.core.slurm.runs import derive_state
from ftmllm_tui.core.slurm.submit import SlurmSpec, build_script, sbatch_environ

NODE_LINE = ("NodeName=ftmnode1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=3 CPUEfctv=16 CPUTot=16 CPULoad=0.68 "
             "AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:h200:8 GresDrain=N/A "
             "GresUsed=gpu:h200:7(IDX:0-6) NodeAddr=127.0.0.1 NodeHostName=vm Version=22.05.8 "
             "OS=Linux 6.18.44-fc-v1252 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=16000 AllocMem=768 FreeMem=21939 "
             "Sockets=16 Boards=1 State=MIXED+DRAIN ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A "
             "Partitions=gpu,debug  BootTime=2026-12-04T15:15:55 CfgTRES=cpu=16,mem=16000M,billing=16 "
             "AllocTRES=cpu=3 CapWatts=n/a Reason=bad fan on gpu3 [root@2026-12-04T15:50:52]")
TRES_NODE = ("NodeName=g01 CPUAlloc=8 CPUTot=64 Gres=gpu:a100:4(S:0-1) State=ALLOCATED "
             "CfgTRES=cpu=64,mem=500G,billing=64,gres/gpu=4,gres/gpu:a100=4 "
             "AllocTRES=cpu=8,mem=64G,gres/gpu=3,gres/gpu:a100=3 Partitions=gpu")


def test_node_line_with_spaces_in_values_and_gres_fallback():
    (n,), bad = q.parse_nodes(NODE_LINE + "\n")
    assert not bad
    assert (n.name, n.gpus_total, n.gpus_alloc, n.gpu_type) == ("ftmnode1", 8, 7, "h200")
    assert n.state == "mixed+drain" and not n.usable and n.gpus_free == 0
    assert n.reason.startswith("bad fan on gpu3") and n.partitions == ("gpu", "debug")
    assert (n.cpus_alloc, n.cpus_total, n.mem_alloc_mb) == (3, 16, 768)


def test_node_gpus_from_tres_when_tracked():
    (n,), _ = q.parse_nodes(TRES_NODE)
    assert (n.gpus_total, n.gpus_alloc, n.gpus_free, n.gpu_type) == (4, 3, 1, "a100")
    assert n.state == "allocated"


def test_tres_and_gres_forms():
    assert q.tres_gpus("cpu=4,mem=8G,gres/gpu=2,gres/gpu:h200=2") == 2
    assert q.tres_gpus("cpu=4,gres/gpu:a100=2,gres/gpu:v100=1") == 3
    assert q.tres_gpus("cpu=1,node=1,billing=1") is None and q.tres_gpus("N/A") is None
    assert q.gres_gpus("gpu:h200:8") == (8, "h200")
    assert q.gres_gpus("gpu:8(S:0-1)") == (8, "")
    assert q.gres_gpus("gres:gpu:2") == (2, "")
    assert q.gres_gpus("gres/gpu:h200:3") == (3, "h200")
    assert q.gres_gpus("gpu:a100:2,gpu:v100:1,nic:1") == (3, "a100,v100")
    assert q.gres_gpus("gpu:h200:7(IDX:0-6)") == (7, "h200")
    assert q.gres_gpus("(null)") == (0, "")


@given(st.integers(0, 4096), st.sampled_from(["", "h200", "a100-80g"]), st.sampled_from(["", "(S:0-1)", "(IDX:0-3)"]))
def test_gres_count_roundtrip(n, typ, suffix):
    text = f"gpu:{typ + ':' if typ else ''}{n}{suffix}"
    assert q.gres_gpus(text) == (n, typ)


def _job_line(**over):
    f = dict.fromkeys(q.JOB_FIELDS, "N/A")
    f.update({"JobID": "42", "Name": "a|b c", "UserName": "alice", "State": "PENDING", "Reason": "Resources",
              "Partition": "gpu", "NumNodes": "2", "NodeList": "", "tres-alloc": "cpu=2,node=2,billing=2",
              "tres-per-node": "gres:gpu:4", "TimeUsed": "0:00", "TimeLimit": "1-00:00:00",
              "Comment": "ftmllm-tui:20261204-1-x-ab12"})
    f.update(over)
    return "".join(f"{f[k]}{q.US}" for k in q.JOB_FIELDS)


def test_job_lines_keep_odd_names_and_count_gpus():
    jobs, bad = q.parse_jobs(_job_line() + "\n" + _job_line(JobID="43", **{"tres-per-node": "N/A",
                                                                              "tres-per-job": "gres:gpu:3"})
                             + "\n" + _job_line(JobID="44", State="RUNNING", Reason="None",
                                                **{"tres-alloc": "cpu=2,gres/gpu=5"}) + "\ngarbage\n")
    assert [j.gpus for j in jobs] == [8, 3, 5]  # per node x nodes, per job, allocated TRES
    assert jobs[0].name == "a|b c" and jobs[0].reason == "Resources" and jobs[0].run_id == "20261204-1-x-ab12"
    assert jobs[2].reason == "" and len(bad) == 1


def test_cluster_state_orders_own_jobs_first_and_counts_holders():
    jobs, _ = q.parse_jobs("\n".join([
        _job_line(JobID="1", UserName="bob", State="RUNNING", **{"tres-alloc": "gres/gpu=2"}),
        _job_line(JobID="2", UserName="me", State="PENDING"),
        _job_line(JobID="3", UserName="me", State="RUNNING", **{"tres-alloc": "gres/gpu=1"}),
        _job_line(JobID="4", UserName="bob", State="RUNNING", **{"tres-alloc": "gres/gpu=4"})]))
    s = q.ClusterState(jobs=tuple(jobs), user="me")
    assert [j.id for j in s.jobs_for(None)] == ["3", "2", "1", "4"]
    assert [j.id for j in s.jobs_for("me")] == ["3", "2"]
    assert s.holders() == {"bob": 6, "me": 1}


def test_partitions_default_marked_with_star():
    text = q.US.join(["gpu*", "up", "infinite", "1", "n1", ""]) + "\n" + q.US.join(["long", "down", "7-00:00:00", "4", "n[1-4]", ""])
    parts = q.parse_partitions(text)
    assert [(p.name, p.default, p.available) for p in parts] == [("gpu", True, "up"), ("long", False, "down")]


def test_error_lines_are_one_line_with_a_hint():
    e = q.error_line("squeue", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n")
    assert "\n" not in e and "controller is down or unreachable" in e
    e = q.error_line("sbatch", "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
    assert e.startswith("sbatch: Batch job submission failed: Invalid partition") and "sinfo" in e


def test_missing_command_is_a_clear_error(tmp_path):
    import pytest

    with pytest.raises(q.SlurmError, match="not found"):
        q.run(["/nonexistent/sinfo"])
    assert q.detect("auto", env={"PATH": str(tmp_path)}) == (
        False, "sinfo is not on PATH: Slurm's client commands are not installed here")
    assert q.detect("false")[0] is False


def _prep(tmp_path, **kw):
    fake = tmp_path / "llamafactory-cli"
    fake.write_text("#!/bin/sh\necho \"$@\"\n")
    fake.chmod(0o755)
    cfg = tmp_path / "my run.yaml"
    cfg.write_text(f"output_dir: {tmp_path / 'out'}\n")
    return prepare(LaunchRequest(config=cfg, gpus="none", name="n", cwd=tmp_path, **kw),
                   llamafactory_cli=str(fake), settings_env=(("HF_HOME", "/data/hf x"),),
                   pass_env=("HF_TOKEN",), environ={"PATH": "/usr/bin:/bin", "HF_TOKEN": "hf_secret"})


def test_script_one_node_is_valid_bash_and_carries_env_not_secrets(tmp_path):
    prep = _prep(tmp_path)
    spec = SlurmSpec(partition="gpu", gpus_per_node=4, cpus_per_task=16, mem="64G", time="2:00:00",
                     account="lab", qos="high")
    text = build_script(prep, spec, tmp_path / "run")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gres=gpu:4", "#SBATCH --cpus-per-task=16",
                 "#SBATCH --mem=64G", "#SBATCH --time=2:00:00", "#SBATCH --account=lab", "#SBATCH --qos=high",
                 f"#SBATCH --output={tmp_path / 'run' / 'console.log'}", f"#SBATCH --comment=ftmllm-tui:{prep.run_id}",
                 f"export FTMLLM_RUN_ID={prep.run_id}", "export HF_HOME='/data/hf x'",
                 "export FORCE_TORCHRUN=1 NPROC_PER_NODE=4"):
        assert line in text, line
    assert "hf_secret" not in text and "CUDA_VISIBLE_DEVICES" not in text
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    assert "srun" not in text
    env = sbatch_environ({"HF_TOKEN": "x", "PATH": "/bin", "CUDA_VISIBLE_DEVICES": "0", "SBATCH_GRES": "gpu:1"},
                         prep.secret_env)
    assert env == {"PATH": "/bin"}


def test_script_several_nodes_uses_srun_and_node_rank(tmp_path):
    text = build_script(_prep(tmp_path), SlurmSpec(nodes=4, gpus_per_node=8), tmp_path / "run")
    assert "#SBATCH --nodes=4" in text and "srun --ntasks-per-node=1" in text
    assert "NODE_RANK=$SLURM_PROCID" in text and "MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))" in text
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0


def test_spec_checks():
    assert SlurmSpec(time="soon").check() and SlurmSpec(nodes=0).check() and SlurmSpec(partition="a b").check()
    assert SlurmSpec(time="1-00:00:00", partition="gpu-long", mem="64G").check() == []


def test_run_states_from_the_queue():
    rec = RunRecord(id="r", name="r", kind="train", config=None, argv=(), env=(), slurm_job="7")
    pend = q.Job(id="7", name="r", user="me", state="PENDING", reason="Priority")
    run = q.Job(id="7", name="r", user="me", state="RUNNING", reason="")
    assert derive_state(rec, exit_code=None, job=pend, queue_ok=True) == "starting"
    assert derive_state(rec, exit_code=None, job=run, queue_ok=True) == "running"
    assert derive_state(rec, exit_code=0, job=None, queue_ok=True) == "finished"
    assert derive_state(rec, exit_code=3, job=None, queue_ok=True) == "failed"
    assert derive_state(rec, exit_code=None, job=None, queue_ok=True) == "lost"
    assert derive_state(rec, exit_code=None, job=None, queue_ok=False) == "running"
    stopped = RunRecord(**{**rec.__dict__, "stop_requested_at": 1.0})
    assert derive_state(stopped, exit_code=130, job=None, queue_ok=True) == "stopped"
    assert Path  # (imported for type hints in helpers)


def test_usage_output_per_node_app_smi_and_neither():
    from ftmllm_tui.core.slurm.usage import parse_usage

    snap = '{"gpus": [{"index": 0, "name": "H200", "utilization_pct": 80, "memory_used_bytes": 2147483648, ' \
           '"memory_total_bytes": 150754820096}], "processes": [{"pid": 5, "gpu": 0, "run": "r1"}, ' \
           '{"pid": 6, "gpu": 0, "run": null}]}'
    lines = ["0: @node g01"] + [f"0: {ln}" for ln in snap.split("\n")]
    lines += ["1: @node g02", "1: @app no NVIDIA driver found", "1: @smi", "1: 0, NVIDIA A100, 55, 1024, 81920"]
    lines += ["2: @node g03", "2: @app boom", "2: @smi", "2: sh: nvidia-smi: not found", "2: @none neither works"]
    a, b, c = parse_usage("\n".join(lines), run_id="r1")
    assert (a.node, a.source, a.gpus[0].util_pct, round(a.gpus[0].mem_used_mib)) == ("g01", "app", 80, 2048)
    assert [p["pid"] for p in a.processes] == [5]
    assert (b.node, b.source, b.gpus[0].name, b.gpus[0].mem_total_mib) == ("g02", "nvidia-smi", "NVIDIA A100", 81920)
    assert c.node == "g03" and not c.gpus and "neither works" in c.error and "boom" in c.error


def test_sacct_lines_finished_jobs():
    text = ("101|sft|alice|COMPLETED|0:0|01:02:03|gpu|g01|billing=8,cpu=8,gres/gpu=2,mem=64G,node=1\n"
            "102|a|b name|bob|FAILED|1:0|00:00:12|gpu|g02|cpu=1,node=1\n"
            "103|x|carol|CANCELLED by 1000|0:15|00:10:00|long|g[03-04]|cpu=2,gres/gpu:a100=8,node=2\n")
    a, b, c = q.parse_sacct(text)
    assert (a.id, a.state, a.exit_code, a.gpus, a.elapsed) == ("101", "COMPLETED", "0:0", 2, "01:02:03")
    assert (b.name, b.user, b.state, b.exit_code, b.gpus) == ("a|b name", "bob", "FAILED", "1:0", 0)
    assert (c.state, c.gpus, c.nodelist) == ("CANCELLED by 1000", 8, "g[03-04]")


def test_recorded_real_output_of_the_three_commands():
    d = Path(__file__).resolve().parents[2] / "data" / "slurm"
    s = q.state_from_text((d / "scontrol_show_node.txt").read_text(), (d / "squeue.txt").read_text(),
                          (d / "sinfo.txt").read_text(), user="root")
    assert not s.problems
    (n,) = s.nodes
    assert (n.name, n.state, n.gpus_total, n.gpus_alloc, n.gpu_type) == ("ftmnode1", "mixed", 8, 7, "h200")
    jobs = {j.name: j for j in s.jobs}
    assert (jobs["bob-dpo"].user, jobs["bob-dpo"].gpus) == ("daemon", 3)
    assert jobs["qwen-sft"].run_id == "20261204-101500-qwen-sft-ab12" and jobs["qwen-sft"].gpus == 2
    assert jobs["eval-8bit"].gpus == 2 and jobs["eval-8bit"].time_limit == "2:00:00"
    assert (jobs["qwen-32b"].reason, jobs["later"].reason) == ("Resources", "JobHeldUser")
    assert s.holders() == {"root": 4, "daemon": 3} and s.gpus_free == 1
    assert [p.name for p in s.partitions] == ["gpu"] and s.partitions[0].default
