"""Helpers for the dataset tests: the demo warehouse (built once per session through the real
pipeline, with the demo's clone beside it) and a small fake HTTP server that answers with the real
fixture bodies (Codecov API v2, GitHub comments and reviews)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from tests.support.common import FIXTURES, PROJECT_ROOT, materialize

SAMPLES = PROJECT_ROOT / "samples"
DEMO_REPO = "datasmith-demo/fastfuncs"
_BUILT: dict[str, Path] = {}


def build_demo_warehouse(folder: Path, sources: Path = SAMPLES / "sources.yml") -> Path:
    """`datasmith materialize` of the demo sources into folder, the demo's clone placed beside the warehouse."""
    key = f"{folder}:{sources}"
    if key in _BUILT:
        return _BUILT[key]
    clone = demo_clone_path(folder / "warehouse.duckdb")
    subprocess.run(
        [sys.executable, str(SAMPLES / "generate.py"), "--clone", str(clone)], check=True, capture_output=True
    )
    db = folder / "warehouse.duckdb"
    assert materialize(sources, db) == 0
    _BUILT[key] = db
    return db


def demo_clone_path(db: Path) -> Path:
    """Where the GitHub stage keeps a repository's clone (the dataset stage looks there first)."""
    from dataset.clones import candidate_paths

    return candidate_paths(db, DEMO_REPO)[0]


def shared_demo_warehouse(tmp_path_factory) -> Path:
    """One demo warehouse (demo_sources_with_score_agents, every asset) for every test module of the
    session that only reads it (dataset, detection, the docs coverage); a test that writes works on a copy."""
    if "shared" not in _BUILT:
        folder = tmp_path_factory.mktemp("dataset_demo")
        _BUILT["shared"] = build_demo_warehouse(folder, demo_sources_with_score_agents(folder))
    return _BUILT["shared"]


# The score's task in the demo: the time_fib speed-up (84667a78) and its base commit, measured on the
# sample's machine by the two agents in samples/agent/.
SCORE_TASK = "datasmith-demo_fastfuncs_84667a78"
SCORE_BASE = "8f389fd19f0fdb94850461c472c32393cdf01bd3"
SCORE_MACHINE = "datasmith-sample"


def demo_sources_with_score_agents(folder: Path) -> Path:
    """samples/sources.yml (its paths made absolute) plus two agent folders for the score tests, beside the
    demo's two measured agents (`demo-human-patch`, `demo-noop`): `failed`, a copy of human-patch whose
    agent run failed (asv wrote null), resolved to its task by repository and base commit; and `no-base`,
    a copy of noop without the base's result file. Agent results feed only the score's tables
    (tests/dataset/test_dataset_definitions.py), so every other table is the demo's own."""
    document = yaml.safe_load((SAMPLES / "sources.yml").read_text(encoding="utf-8"))
    for entry in document["results"]:
        entry["path"] = str(SAMPLES / entry["path"])
    for entry in document["dashboards"]:
        entry["url"] = str(SAMPLES / entry["url"])
    agents = document["dataset"]["agent_results"]
    for entry in agents:
        entry["path"] = str(SAMPLES / entry["path"])

    failed = shutil.copytree(SAMPLES / "agent" / "human-patch", folder / "agents" / "failed")
    agent_file = next(
        p
        for p in (failed / SCORE_MACHINE).glob("*.json")
        if not p.name.startswith(("machine", SCORE_BASE[:8]))
    )
    doc = json.loads(agent_file.read_text())
    doc["results"]["bench_core.time_fib"][0] = [None, None]  # what asv writes when the benchmark failed
    agent_file.write_text(json.dumps(doc))
    no_base = shutil.copytree(SAMPLES / "agent" / "noop", folder / "agents" / "no-base")
    (no_base / SCORE_MACHINE / f"{SCORE_BASE[:8]}-virtualenv-py3.11.json").unlink()
    agents += [
        {"name": "failed", "path": str(failed), "repo": DEMO_REPO, "base_commit": SCORE_BASE[:10]},
        {"name": "no-base", "path": str(no_base), "task_id": SCORE_TASK},
    ]
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


def git(clone: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=clone, check=True, capture_output=True, text=True).stdout


def github_fixture(relative: str):
    return json.loads((FIXTURES / "github" / relative).read_text(encoding="utf-8"))


@dataclass
class Route:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FixtureServer:
    """Serves fixed answers by exact path (query included, else path alone) on 127.0.0.1; 404 otherwise
    with ``not_found_body``. Every request is recorded with its headers."""

    def __init__(self, not_found_body: object = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.not_found_body = json.dumps(not_found_body or {"detail": "Not found."}).encode()
        self._server: ThreadingHTTPServer | None = None

    def add(self, path: str, body: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[path] = Route(status, data, headers or {})

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FixtureServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    route = Route(404, server.not_found_body)
                self.send_response(route.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value.replace("{base}", server.url))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
