"""A GitHub world for tests: the demo sample's git history as a real local repository, served by the fake
GitHub with the repositories discovery must judge (a fork, an archived one, 404, 451, an empty one, a
re-upload, a separate benchmark repository, asv itself, one with too few stars, one without a config).

The pull requests of datasmith-demo/fastfuncs are built from the sample's commits: one merged pull request
per commit after the first (its merge_commit_sha is that commit), plus one closed without merging (GitHub
still fills merge_commit_sha) and one merged into a maintenance branch; neither may be kept.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.github_server import FakeClock, FakeGitHub, FakeRepo, fixture, pull_request

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "datasmith-demo/fastfuncs"


def sample_generator():
    if "sample_generate" in sys.modules:
        return sys.modules["sample_generate"]
    spec = importlib.util.spec_from_file_location("sample_generate", PROJECT_ROOT / "samples" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_generate"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def build_sample_repository(folder: Path) -> tuple[Path, list[dict], list]:
    """The sample's history as a git repository; returns (path, commits oldest first, steps)."""
    generate = sample_generator()
    steps = generate.history()
    repo = folder / "fastfuncs"
    commits = generate.build_history(repo, steps)
    return repo, commits, steps


def asv_config(repo_field: str, benchmark_dir: str = "benchmarks") -> str:
    # asv.conf.json allows // comments; keep one so the comment stripping is exercised
    return "// asv configuration\n" + json.dumps(
        {"version": 1, "repo": repo_field, "benchmark_dir": benchmark_dir}
    )


@dataclass
class World:
    server: FakeGitHub
    clock: FakeClock
    repo_path: Path
    commits: list[dict]
    steps: list
    expected_valid: set[str]
    expected_dropped: dict[str, str]  # github repo -> reason (prefix)


def build_world(folder: Path, clock: FakeClock | None = None) -> World:
    clock = clock or FakeClock()
    server = FakeGitHub(clock)
    repo_path, commits, steps = build_sample_repository(folder)
    # GitHub serves partial clones; git over file:// ignores `--filter=blob:none` (and clones every blob)
    # unless the served repository allows filters, so the GitHub stage's clone is blob-less as in production
    subprocess.run(["git", "-C", str(repo_path), "config", "uploadpack.allowFilter", "true"], check=True)
    files = {"asv.conf.json": asv_config("."), "src/fastfuncs/core.py": "x = 1\n"}
    project = server.add_repo(
        FakeRepo(PROJECT, id=1001, stars=120, clone_url=repo_path.as_uri(), files=files)
    )
    merged = [
        pull_request(
            project,
            number,
            merged_at=f"2024-01-{number:02d}T12:00:00Z",
            merge_commit_sha=commit["commit"],
            base_sha=commit["parent"],
            title=commit["subject"],
            labels=("performance",) if commit["subject"].startswith("perf") else (),
        )
        for number, commit in enumerate(commits[1:], start=2)
    ]
    unmerged = pull_request(
        project, 90, merged_at=None, merge_commit_sha="f" * 40, title="closed, not merged"
    )
    maintenance = pull_request(
        project, 91, merged_at="2024-02-01T00:00:00Z", merge_commit_sha="e" * 40, base_ref="maintenance/0.1.x"
    )
    project.pulls = [*merged, unmerged, maintenance]

    # A benchmark repository for another project (like django/django-asv), and that project. Their licenses
    # differ (the benchmarks under OpenAPI's MIT example, the project with none detected: GitHub's null), so
    # the project's own license is seen to win over its benchmark repository's.
    server.add_repo(
        FakeRepo(
            "bench-org/widgets-asv",
            id=2001,
            stars=3,
            files={"asv/asv.conf.json": asv_config("https://github.com/widget-co/widgets.git", "benchmarks")},
            license=fixture("repo.json")["license"],
        )
    )
    server.add_repo(FakeRepo("widget-co/widgets", id=2002, stars=80, default_branch="develop", license=None))
    # A re-upload of fastfuncs under another name (not a GitHub fork): same benchmarked project.
    server.add_repo(
        FakeRepo(
            "copycat/fastfuncs-copy",
            id=3001,
            stars=2,
            files={"asv.conf.json": asv_config("git@github.com:datasmith-demo/fastfuncs.git")},
        )
    )
    server.add_repo(FakeRepo("someone/fastfuncs", id=3002, stars=1, fork=True, parent=PROJECT, files=files))
    server.add_repo(FakeRepo("old/archived", id=3003, stars=500, archived=True, files=files))
    server.add_repo(FakeRepo("gone/missing", id=3004, status="not_found"))
    server.add_repo(FakeRepo("legal/blocked", id=3005, status="blocked"))
    server.add_repo(FakeRepo("new/empty", id=3006, status="empty"))
    server.add_repo(FakeRepo("plain/noconfig", id=3007, stars=40, files={"README.md": "hi"}))
    server.add_repo(
        FakeRepo("airspeed-velocity/asv", id=3008, stars=900, files={"asv.conf.json": asv_config(".")})
    )
    server.add_repo(
        FakeRepo("tiny/few-stars", id=3009, stars=0, files={"deep/er/asv.conf.json": asv_config(".")})
    )
    server.add_repo(FakeRepo("big/truncated", id=3010, stars=60, truncated_tree=True,
                             files={"a/b/asv.conf.json": asv_config("."), "a/b/c/asv.conf.json": asv_config("."),
                                    **{f"pkg/m{i}.py": "" for i in range(12)}}))  # fmt: skip
    return World(
        server=server,
        clock=clock,
        repo_path=repo_path,
        commits=commits,
        steps=steps,
        expected_valid={PROJECT, "widget-co/widgets", "big/truncated"},
        expected_dropped={
            "copycat/fastfuncs-copy": "re-upload",
            "someone/fastfuncs": "fork",
            "old/archived": "archived",
            "gone/missing": "inaccessible",
            "legal/blocked": "inaccessible",
            "new/empty": "inaccessible",
            "plain/noconfig": "no asv config",
            "airspeed-velocity/asv": "asv itself",
            "tiny/few-stars": "below min stars",
        },
    )


ALL_REPOS = [
    PROJECT, "bench-org/widgets-asv", "copycat/fastfuncs-copy", "someone/fastfuncs", "old/archived",
    "gone/missing", "legal/blocked", "new/empty", "plain/noconfig", "airspeed-velocity/asv", "tiny/few-stars",
    "big/truncated",
]  # fmt: skip


def write_github_sources(
    folder: Path, api_url: str, repos: list[str] | None = None, *, also: dict | None = None, **settings
) -> Path:
    """A sources file with a `github:` section on api_url (and the other sections in `also`)."""
    document = {"github": {"api_url": api_url, **settings}, **(also or {})}
    if repos is not None:
        document["github"]["repos"] = repos
    file = folder / "sources.yml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file
