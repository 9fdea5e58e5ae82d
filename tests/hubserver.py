"""A local HTTP server that answers the Hub API paths huggingface_hub uses to download (the one test double:
there is no network here; the client code under test is the real huggingface_hub).

    GET  /api/{models,datasets}/ORG/NAME/revision/REV     repo_info (sha, siblings with sizes)
    GET  /api/{models,datasets}/ORG/NAME/tree/REV[/DIR]   list_repo_tree (recursive)
    HEAD /[datasets/]ORG/NAME/resolve/REV/PATH           file metadata (X-Repo-Commit, ETag, Content-Length)
    GET  /[datasets/]ORG/NAME/resolve/REV/PATH           the bytes (Range honoured), optionally throttled

``requests`` records every (method, path); ``delay`` slows file bodies (seconds per 64 KiB) so a test can
interrupt a download half-way.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


class Hub:
    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.auth: list[str] = []  # Authorization headers seen
        self.delay = 0.0
        self.slow: dict[str, float] = {}  # per file name: seconds per 64 KiB (overrides delay)
        self.server: ThreadingHTTPServer | None = None

    def add(self, repo_id: str, files: dict[str, bytes], *, repo_type: str = "model", sha: str | None = None) -> str:
        sha = sha or hashlib.sha1(repo_id.encode() + "".join(sorted(files)).encode()).hexdigest()
        self.repos[(repo_type, repo_id)] = {"sha": sha, "files": dict(files)}
        return sha

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Hub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub._serve(self, head=True)

            def do_GET(self) -> None:
                hub._serve(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- routing --------------------------------------------------------------------------------------
    def _find(self, repo_type: str, repo_id: str, rev: str):
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or rev not in ("main", repo["sha"]):
            return None
        return repo

    def _json(self, h, obj, status=200, headers=()) -> None:
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _missing(self, h, head: bool, code: str = "RepoNotFound") -> None:
        body = b"" if head else json.dumps({"error": "Repository not found"}).encode()
        h.send_response(404 if code != "RepoNotFound" else 401)
        h.send_header("X-Error-Code", code)
        h.send_header("X-Error-Message", "Repository not found" if code == "RepoNotFound" else "Entry not found")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def _serve(self, h, head: bool) -> None:
        url = urlparse(h.path)
        path = unquote(url.path)
        self.requests.append(("HEAD" if head else "GET", path))
        if h.headers.get("Authorization"):
            self.auth.append(h.headers["Authorization"])
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 4 and parts[1] in ("models", "datasets"):
            repo_type = parts[1][:-1]
            repo_id = f"{parts[2]}/{parts[3]}"
            what, rev = (parts[4], parts[5]) if len(parts) >= 6 else ("revision", "main")
            repo = self._find(repo_type, repo_id, rev)
            if repo is None:
                return self._missing(h, head)
            files = repo["files"]
            if what == "revision":
                return self._json(h, {"id": repo_id, "sha": repo["sha"], "private": False,
                                      "siblings": [{"rfilename": p, "size": len(b),
                                                    "blobId": hashlib.sha1(b).hexdigest()} for p, b in files.items()]})
            if what == "tree":
                sub = "/".join(parts[6:])
                return self._json(h, [{"type": "file", "oid": hashlib.sha1(b).hexdigest(), "size": len(b), "path": p}
                                      for p, b in files.items() if not sub or p.startswith(sub + "/")])
            return self._missing(h, head)
        repo_type = "model"
        if parts[0] == "datasets":
            repo_type, parts = "dataset", parts[1:]
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id = f"{parts[0]}/{parts[1]}"
            repo = self._find(repo_type, repo_id, parts[3])
            if repo is None:
                return self._missing(h, head)
            name = "/".join(parts[4:])
            if name not in repo["files"]:
                return self._missing(h, head, "EntryNotFound")
            data = repo["files"][name]
            start = 0
            rng = h.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0] or 0)
            body = data[start:]
            h.send_response(206 if start else 200)
            h.send_header("X-Repo-Commit", repo["sha"])
            h.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
            h.send_header("Content-Length", str(len(body)))
            if start:
                h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            h.end_headers()
            if head:
                return
            delay = self.slow.get(name, self.delay)
            try:
                for i in range(0, len(body), 65536):
                    if delay:
                        time.sleep(delay)
                    h.wfile.write(body[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        self._missing(h, head)
