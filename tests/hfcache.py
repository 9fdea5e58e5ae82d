"""Build a real Hugging Face hub cache layout on disk (what huggingface_hub itself writes):

    models--ORG--NAME/blobs/<sha256 or sha1>      the files' bytes
    models--ORG--NAME/snapshots/<commit>/<file>   relative symlinks to ../../blobs/<hash>
    models--ORG--NAME/refs/<ref>                  the commit a ref points at

Used by the Models tests and bench/bench_models.py.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def add_repo(cache: Path, repo_id: str, revisions: dict[str, dict[str, bytes]], *, repo_type: str = "model",
             refs: dict[str, str] | None = None, sparse: dict[str, int] | None = None) -> Path:
    """revisions: {commit: {relative file path: content}}; refs: {ref name: commit}.
    sparse: {relative file path: size} written as sparse files (big on paper, nothing on disk)."""
    folder = cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    for commit, files in revisions.items():
        snap = folder / "snapshots" / commit
        for rel, data in files.items():
            digest = hashlib.sha256(data + rel.encode()).hexdigest()
            blob = folder / "blobs" / digest
            if not blob.exists():
                with open(blob, "wb") as f:
                    if sparse and rel in sparse:
                        f.truncate(sparse[rel])
                    else:
                        f.write(data)
            link = snap / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                link.unlink()
            os.symlink(os.path.relpath(blob, link.parent), link)
    for ref, commit in (refs or {}).items():
        p = folder / "refs" / ref
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(commit)
    return folder


def commit_of(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def tiny_model_files(arch: str = "Qwen2ForCausalLM", weights: bytes = b"\0" * 4096) -> dict[str, bytes]:
    return {"config.json": f'{{"architectures": ["{arch}"], "model_type": "qwen2"}}'.encode(),
            "model.safetensors": weights, "tokenizer.json": b"{}"}


def make_cache(cache: Path, repos: int = 3) -> dict[str, str]:
    """A cache with `repos` model repos (one with two revisions), one dataset repo; {name: commit}."""
    out = {}
    for i in range(repos):
        rid = f"org{i % 7}/model-{i:03d}"
        c1 = commit_of(f"{rid}-1")
        revs = {c1: tiny_model_files(weights=bytes([i % 256]) * (1000 + i))}
        refs = {"main": c1}
        if i == 0:
            c0 = commit_of(f"{rid}-0")
            revs[c0] = tiny_model_files(weights=b"old" * 500)
        add_repo(cache, rid, revs, refs=refs)
        out[rid] = c1
    dc = commit_of("ds")
    add_repo(cache, "team/rlhf-v", {dc: {"data/train.jsonl": b'{"a": 1}\n'}}, repo_type="dataset",
             refs={"main": dc})
    out["team/rlhf-v"] = dc
    return out
