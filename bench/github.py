"""`python -m bench.github`: the GitHub requests a full collection of one repository costs.

One repository with N merged pull requests (default 5,000) is served by the fake GitHub
(tests/support/github_server.py, real GitHub bodies) and backed by a local git repository of N commits (made with
`git fast-import`), each pull request's merge_commit_sha one of them. Requests are counted at the server.
  * baseline, the original's pattern: the closed pull requests 100 per page, then one commit call per pull
    request for its changed files (GET /repos/{o}/{r}/commits/{sha});
  * ours: discovery of the repository (metadata, tree, asv config), the pull-request pages, and the
    changed files from a bare blob-less clone (git, no API call);
  * ours again on the same warehouse: every request conditional (If-None-Match).
Printed, not asserted. Targets: >= 50x fewer requests than the baseline; >= 90% of the second run 304.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.github.client import GitHubClient  # noqa: E402
from ingest.github.clones import clone_path, collect_changed_files  # noqa: E402
from ingest.github.discovery import discover  # noqa: E402
from ingest.github.pulls import collect_pull_requests, merged_pull_requests  # noqa: E402
from ingest.sources import GitHubSettings  # noqa: E402
from tests.support.github_server import FakeClock, FakeGitHub, FakeRepo, pull_request  # noqa: E402
from tests.support.warehouse import connect_writer  # noqa: E402

REPO = "bench-org/fastproject"


def make_history(path: Path, commits: int) -> list[str]:
    """A repository of ``commits`` commits on main, each changing one module (fast-import: seconds)."""
    path.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | {"GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    lines = []
    for i in range(commits):
        body = f"VALUE = {i}\n" + "x = 1\n" * (i % 7)
        message = f"change {i}"
        lines += [
            "commit refs/heads/main", f"mark :{i + 1}",
            f"committer Bench <bench@example.org> {1_700_000_000 + i * 60} +0000",
            f"data {len(message)}", message,
        ]  # fmt: skip
        if i:
            lines.append(f"from :{i}")
        name = "README.md" if i % 10 == 0 else f"src/pkg/module_{i % 50}.py"
        lines += [f"M 100644 inline {name}", f"data {len(body.encode())}", body]
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input="\n".join(lines) + "\n", text=True,
                   check=True, env=env)  # fmt: skip
    out = subprocess.run(["git", "-C", str(path), "rev-list", "--reverse", "main"], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    return out.stdout.split()


def ours(server: FakeGitHub, clock: FakeClock, db: Path, clones: Path, clone_url: str, max_prs: int) -> dict:
    start = len(server.requests)
    began = time.perf_counter()
    with GitHubClient(server.url, None, clock=clock) as client, connect_writer(db) as con:
        discover(client, con, GitHubSettings(repos=(REPO,)))
        collect_pull_requests(client, con, REPO, max_prs)
        commits = [pr["merge_commit_sha"] for pr in merged_pull_requests(con, REPO, "main")]
        files = collect_changed_files(con, REPO, clone_url, clone_path(clones, REPO), commits, client)
    seen = server.requests[start:]
    return {
        "requests": len(seen),
        "not_modified": sum(1 for _, status in seen if status == 304),
        "seconds": time.perf_counter() - began,
        "commits_read": files.commits_read,
        "commits": len(commits),
    }


def baseline(server: FakeGitHub, clock: FakeClock) -> dict:
    start = len(server.requests)
    began = time.perf_counter()
    with GitHubClient(server.url, None, clock=clock) as client:
        shas = []
        for page in client.pages(f"/repos/{REPO}/pulls", {"state": "closed", "per_page": 100}):
            shas += [pr["merge_commit_sha"] for pr in page.json() if pr.get("merged_at")]
        for sha in shas:
            client.get(f"/repos/{REPO}/commits/{sha}")
    return {"requests": len(server.requests) - start, "seconds": time.perf_counter() - began}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pull-requests", type=int, default=5000)
    args = parser.parse_args(argv)
    n = args.pull_requests
    with tempfile.TemporaryDirectory(prefix="bench-github-") as tmp:
        folder = Path(tmp)
        print(f"github bench: one repository, {n:,} merged pull requests (fast-import of {n:,} commits) ...")
        shas = make_history(folder / "project", n)
        clock = FakeClock()
        server = FakeGitHub(clock)
        server.limits["core"] = 10**9  # the baseline alone would need a day of a 5,000/hour budget
        repo = server.add_repo(FakeRepo(REPO, id=77, stars=1000, clone_url=(folder / "project").as_uri(),
                                        files={"asv.conf.json": '{"repo": ".", "benchmark_dir": "benchmarks"}'}))  # fmt: skip
        repo.pulls = [
            pull_request(repo, i + 1, merged_at="2025-01-01T00:00:00Z", merge_commit_sha=sha)
            for i, sha in enumerate(shas)
        ]
        repo.commits = {
            sha: [{"filename": "src/pkg/module.py", "additions": 1, "deletions": 0}] for sha in shas
        }
        with server:
            base = baseline(server, clock)
            first = ours(server, clock, folder / "w.duckdb", folder / "clones", repo.clone_url, n)
            second = ours(server, clock, folder / "w.duckdb", folder / "clones", repo.clone_url, n)
    ratio = base["requests"] / first["requests"]
    share = second["not_modified"] / second["requests"] if second["requests"] else 1.0
    print(
        f"  baseline (1 page call per 100 + 1 commit call per PR): {base['requests']:>6,} requests  {base['seconds']:6.1f} s"
    )
    print(f"  ours, first run (discovery + pages + clone numstat):    {first['requests']:>6,} requests  {first['seconds']:6.1f} s"
          f"  ({first['commits_read']:,}/{first['commits']:,} commits' files read from the clone)")  # fmt: skip
    print(f"  ours, second run (conditional):                         {second['requests']:>6,} requests  {second['seconds']:6.1f} s"
          f"  ({second['not_modified']} answered 304)")  # fmt: skip
    print(
        f"  at GitHub's 5,000 requests/hour: baseline {base['requests'] / 5000 * 60:.0f} min of quota, "
        f"ours {first['requests'] / 5000 * 60:.1f} min (a 304 costs none)"
    )
    print(
        f"  requests: {ratio:.1f}x fewer than the baseline (target >= 50x); "
        f"second run {share:.0%} answered 304 (target >= 90%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
