"""The HF cache as the Models view and `ftmllm-tui models` see it: real huggingface_hub on a real cache layout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftmllm_tui.core.models import cache as mc
from ftmllm_tui.core.runs.registry import Registry, RunRecord
from hfcache import add_repo, commit_of, make_cache, tiny_model_files

ROOT = Path(__file__).parents[3]


@pytest.fixture
def hub(tmp_path) -> Path:
    hub = tmp_path / "hub"
    make_cache(hub, repos=3)
    # a repo with a dangling ref: refs/old names a commit that has no snapshot
    good = commit_of("dangling-good")
    add_repo(hub, "org/dangling", {good: tiny_model_files()}, refs={"main": good, "old": commit_of("gone")})
    return hub


def test_scan_lists_repos_types_revisions_sizes_and_owner(hub, tmp_path):
    other = tmp_path / "hub2"
    add_repo(other, "Qwen/Qwen2.5-VL-3B-Instruct", {commit_of("q"): tiny_model_files()},
             refs={"main": commit_of("q")})
    rep = mc.scan({"HF_HUB_CACHE": str(hub)}, caches=[str(other), str(hub)])
    assert [c.source for c in rep.caches] == ["HF_HUB_CACHE", "[models] caches"]  # hub given twice: once
    assert all(c.exists and c.free and c.total for c in rep.caches)
    ids = {r.repo_id: r for r in rep.repos}
    assert {"org0/model-000", "org1/model-001", "org2/model-002", "team/rlhf-v",
            "Qwen/Qwen2.5-VL-3B-Instruct"} <= set(ids)
    assert ids["team/rlhf-v"].repo_type == "dataset"
    two = ids["org0/model-000"]
    assert len(two.revisions) == 2 and two.size > 0 and two.owner == mc.owner_name(os.geteuid())
    assert "main" in two.revisions[0].refs or "main" in two.revisions[1].refs
    assert Path(two.snapshot, "config.json").is_file()
    assert two.snapshot.endswith(commit_of("org0/model-000-1"))  # the revision main points at, not the other one
    assert ids["Qwen/Qwen2.5-VL-3B-Instruct"].cache == str(other)
    # the dangling ref is a problem line (huggingface_hub's own warning), not a crash
    assert any("dangling" in p for p in rep.problems)


def test_env_precedence_and_missing_cache(tmp_path):
    dirs = mc.cache_dirs({"HF_HOME": str(tmp_path / "home")})
    assert dirs[0] == (tmp_path / "home" / "hub", "HF_HOME")
    dirs = mc.cache_dirs({"HUGGINGFACE_HUB_CACHE": "/x/legacy", "HF_HOME": "/y"})
    assert dirs[0] == (Path("/x/legacy"), "HUGGINGFACE_HUB_CACHE")
    # [runs.env] decides the cache runs use (listed first, marked); the shell's own is listed too
    dirs = mc.cache_dirs({"HF_HOME": "/home/me/hf"}, runs_env=(("HUGGINGFACE_HUB_CACHE", "/data/huggingface/hub"),))
    assert dirs == [(Path("/data/huggingface/hub"), "[runs.env] HUGGINGFACE_HUB_CACHE"),
                    (Path("/home/me/hf/hub"), "HF_HOME")]
    assert mc.models_env({"HF_ENDPOINT": "a"}, (("HF_ENDPOINT", "b"),))["HF_ENDPOINT"] == "b"
    rep = mc.scan({"HF_HUB_CACHE": str(tmp_path / "nope")})
    assert rep.repos == [] and "no Hugging Face cache at" in rep.problems[0]
    assert rep.caches[0].free is not None  # free space of the filesystem it would be on


def test_local_models_adapters_and_exports(tmp_path):
    models = tmp_path / "models" / "qwen-local"
    models.mkdir(parents=True)
    (models / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"]}')
    (models / "model.safetensors").write_bytes(b"\0" * 100)
    out = tmp_path / "saves" / "sft"
    out.mkdir(parents=True)
    (out / "adapter_config.json").write_text('{"base_model_name_or_path": "Qwen/Qwen2.5-VL-3B-Instruct", "r": 8}')
    (out / "adapter_model.safetensors").write_bytes(b"\0" * 10)
    exp = tmp_path / "export"
    exp.mkdir()
    (exp / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"]}')
    (exp / "model.safetensors").write_bytes(b"\0" * 10)
    (exp / "Modelfile").write_text("FROM .\nPARAMETER num_ctx 4096\n")
    reg = Registry(tmp_path / "runs")
    reg.create(RunRecord(id="r1", name="sft", kind="train", config="x.yaml", argv=(), env=(),
                         cwd=str(tmp_path), output_dir="saves/sft"), "output_dir: saves/sft\n")
    reg.create(RunRecord(id="r2", name="exp", kind="export", config="e.yaml", argv=(), env=(),
                         cwd=str(tmp_path)), f"export_dir: {exp}\n")
    outs = mc.run_output_dirs(reg)
    assert out in outs and exp in outs
    rep = mc.scan({"HF_HUB_CACHE": str(tmp_path / "none")}, dirs=[str(tmp_path / "models")], output_dirs=outs)
    kinds = {m.kind: m for m in rep.local}
    assert kinds["local-model"].path == str(models) and kinds["local-model"].detail == "Qwen2ForCausalLM"
    assert "Qwen/Qwen2.5-VL-3B-Instruct" in kinds["adapter"].detail
    assert kinds["export"].modelfile == str(exp / "Modelfile")


# -- delete ---------------------------------------------------------------------------------------------


def test_delete_a_revision_through_huggingface_hubs_strategy(hub):
    old = commit_of("org0/model-000-0")
    plan = mc.plan_delete(hub, "org0/model-000", [old])
    assert plan.ok, plan.blocked
    assert any(old in p for p in plan.paths) and plan.freed > 0
    mc.execute_delete(plan)
    rep = mc.scan({"HF_HUB_CACHE": str(hub)})
    repo = next(r for r in rep.repos if r.repo_id == "org0/model-000")
    assert [v.commit for v in repo.revisions] == [commit_of("org0/model-000-1")]
    # the revision still there is whole
    assert (Path(repo.snapshot) / "model.safetensors").read_bytes()


def test_delete_refused_while_a_process_has_a_file_open(hub):
    c = commit_of("org1/model-001-1")
    snap = hub / "models--org1--model-001" / "snapshots" / c / "model.safetensors"
    holder = subprocess.Popen([sys.executable, "-c", "import sys,time; f=open(sys.argv[1],'rb'); "
                               "print('open', flush=True); time.sleep(60)", str(snap)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"open"
        plan = mc.plan_delete(hub, "org1/model-001", [c])
        assert not plan.ok and "open" in plan.blocked[0] and f"pid {holder.pid}" in plan.blocked[0]
        with pytest.raises(PermissionError):
            mc.execute_delete(plan)
        assert snap.exists()
    finally:
        holder.kill()
        holder.wait()
    assert mc.plan_delete(hub, "org1/model-001", [c]).ok


def test_delete_refused_while_a_live_run_names_the_repo(hub, tmp_path):
    reg = Registry(tmp_path / "runs")
    reg.create(RunRecord(id="r1", name="sft", kind="train", config="x.yaml", argv=(), env=()),
               "model_name_or_path: org2/model-002\n")
    c = commit_of("org2/model-002-1")
    plan = mc.plan_delete(hub, "org2/model-002", [c], registry=reg)
    assert not plan.ok and "run sft (r1) uses it as model_name_or_path" in plan.blocked
    (reg.dir("r1") / "exit_code").write_text("0")  # the run ended: the repo may go
    assert mc.plan_delete(hub, "org2/model-002", [c], registry=reg).ok


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd"), reason="needs root to create a second user")
def test_delete_refused_when_files_belong_to_another_user(hub):
    user = "ftmcache"
    if subprocess.run(["id", user], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", user], check=True)
    repo = hub / "models--org2--model-002"
    blob = next((repo / "blobs").iterdir())
    shutil.chown(blob, user=user)
    rep = mc.scan({"HF_HUB_CACHE": str(hub)})
    plan = mc.plan_delete(hub, "org2/model-002", [commit_of("org2/model-002-1")])
    assert not plan.ok and f"belong to {user}" in plan.blocked[0]
    assert blob.exists()
    assert next(r for r in rep.repos if r.repo_id == "org2/model-002").owner == "root"  # the folder's owner


def test_cli_models_json_and_table(hub, tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    out = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "models", "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] and {r["repo_id"] for r in data["repos"]} >= {"org0/model-000", "team/rlhf-v"}
    r0 = next(r for r in data["repos"] if r["repo_id"] == "org0/model-000")
    assert len(r0["revisions"]) == 2 and r0["snapshot"].startswith(str(hub)) and r0["owner"]
    out = subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "models"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "org0/model-000" in out.stdout and "free of" in out.stdout
    assert "dangling" in out.stderr  # the corrupted repo is named, once, on stderr
    # the team's way: the shared cache set for runs in the settings, not in the shell
    (tmp_path / "cfg" / "ftmllm-tui").mkdir(parents=True)
    (tmp_path / "cfg" / "ftmllm-tui" / "config.toml").write_text(f'[runs.env]\nHUGGINGFACE_HUB_CACHE = "{hub}"\n')
    env.pop("HF_HUB_CACHE")
    env["HF_HOME"] = str(tmp_path / "home-hf")
    data = json.loads(subprocess.run([sys.executable, "-m", "ftmllm_tui.cli", "models", "--json"], env=env,
                                     capture_output=True, text=True, timeout=60).stdout)
    assert data["caches"][0]["path"] == str(hub) and data["caches"][0]["source"] == "[runs.env] HUGGINGFACE_HUB_CACHE"
    assert "org0/model-000" in {r["repo_id"] for r in data["repos"]}


def test_one_unreadable_repo_does_not_hide_the_others(hub):
    """A refs file that is not text makes scan_cache_dir raise for the whole cache: the others are still listed,
    the broken one is a problem line."""
    (hub / "models--org1--model-001" / "refs" / "main").write_bytes(b"\xff\xfe\x00 not a commit")
    rep = mc.scan({"HF_HUB_CACHE": str(hub)})
    ids = {r.repo_id for r in rep.repos}
    assert {"org0/model-000", "org2/model-002", "team/rlhf-v"} <= ids and "org1/model-001" not in ids
    assert any("models--org1--model-001: not UTF-8 text" in p for p in rep.problems)
