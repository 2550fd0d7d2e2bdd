"""End to end, from the GitHub stage to the benchmark runner with the real asv.

One sources file: a `github:` section (the fake GitHub of tests/github_server.py, whose project
datasmith-demo/fastfuncs is the demo sample's locally generated repository; it allows filters, as GitHub
does, so the GitHub stage's clone really is blob-less) and a `benchmark_runner:` target for the same project with
`from_commits_filtered` and no `clone:`, so the runner checks out the GitHub stage's clone. One
`datasmith materialize` runs discovery, dim_repositories, the pull requests, the changed files, fct_core_commits,
the benchmark runs and fct_measurements, in that order."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path

import pytest

from ingest.github.clones import clone_path, clones_root
from tests.support.common import materialize
from tests.support.common import read_rows as rows
from tests.support.github_support import PROJECT, build_world, sample_generator, write_github_sources
from tests.support.runner_support import ground_truth

pytestmark = pytest.mark.slow
TOKEN = "ghp_GitHubToRunnerTokenNeverStored0123456789"
MACHINE = "gh-box"
SOURCE = f"run.{PROJECT.replace('/', '.')}.{MACHINE}"
LATEST = 3  # the fib speed-up's merge commit, the core-code commit before it and the one after
# as in tests/test_benchmark_runner_e2e.py: one round of three samples; the planted fib change is 20x+
QUICK_ARGS = ["-a", "rounds=1", "-a", "repeat=3"]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def pack_contents(clone: Path) -> list[dict[str, int]]:
    """Object counts by type, one dict per pack of the clone."""
    packs = []
    for index in sorted((clone / "objects" / "pack").glob("*.idx")):
        counts: dict[str, int] = {}
        for line in git("verify-pack", "-v", str(index)).splitlines():
            fields = line.split()
            if len(fields) > 1 and fields[1] in ("commit", "tree", "blob", "tag"):
                counts[fields[1]] = counts.get(fields[1], 0) + 1
        packs.append(counts)
    return packs


def test_runner_measures_the_commits_the_github_stage_filtered(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    # The release (the last commit, the tip of main: the clone's HEAD) is pushed straight to main rather
    # than merged from a pull request, so the GitHub stage never diffs it and the blobs it wrote are never
    # fetched into the clone. (asv builds from `git clone --shared <repo>`, which checks out that repo's
    # HEAD first: it failed here while the runner gave asv the clone instead of the slot's worktree.)
    tip = world.commits[-1]["commit"]
    project = world.server.repo_for(PROJECT)
    project.pulls = [p for p in project.pulls if p["merge_commit_sha"] != tip]
    tip_blobs = {
        path: git("-C", str(world.repo_path), "rev-parse", f"{tip}:{path}").strip()
        for path in world.steps[-1].files
    }
    # the commits that change the package's code, from the sample's own steps (not from the warehouse);
    # the fake's pull requests are merged in commit order, so the latest N are the last N
    core = [
        commit["commit"]
        for commit, step in zip(world.commits[1:], world.steps[1:], strict=True)
        if any(p.startswith("src/fastfuncs/") and not p.endswith("__init__.py") for p in step.files)
    ]
    expected = core[-LATEST:]
    fib = next(c["commit"] for c in ground_truth()["changes"] if c["benchmark"] == "bench_core.time_fib")
    assert fib in expected[1:]  # the speed-up and a commit before it are both measured

    # the asv config is not in the history (it names the running Python): it lives beside the repository
    config = tmp_path / "asv.conf.json"
    config.write_text(json.dumps(sample_generator().asv_conf(), indent=4), encoding="utf-8")
    target = {
        "repo": PROJECT, "asv_config": str(config), "from_commits_filtered": LATEST, "machine": MACHINE,
        "jobs": 2, "cores_per_job": 1, "timeout_s": 300, "asv_args": QUICK_ARGS,
    }  # fmt: skip
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    stderr = io.StringIO()
    with world.server, contextlib.redirect_stderr(stderr):
        sources = write_github_sources(
            tmp_path, world.server.url, [PROJECT], also={"benchmark_runner": [target]}
        )
        code = materialize(sources, db, "--select", "+key:fct_measurements or +key:fct_benchmark_runs")
    assert code == 0, stderr.getvalue()[-4000:]

    # The GitHub stage's clone is bare and blob-less. Its config alone does not show it (git writes
    # partialclonefilter even when the server ignores the filter and sends every blob); the pack the clone
    # came in holds every commit and no blob, the blobs the diffs and checkouts needed came later, each
    # fetch in a pack of its own, and the release's blobs are still missing.
    clone = clone_path(clones_root(db), PROJECT)
    assert (clone / "HEAD").is_file() and not (clone / ".git").exists()
    assert git("-C", str(clone), "config", "remote.origin.partialclonefilter").strip() == "blob:none"
    packs = pack_contents(clone)
    cloned = [p for p in packs if "commit" in p]
    assert len(cloned) == 1 and cloned[0]["commit"] == len(world.commits) and "blob" not in cloned[0], packs
    assert any("blob" in p for p in packs)
    missing = {
        line[1:]
        for line in git("-C", str(clone), "rev-list", "--missing=print", "--objects", "--all").splitlines()
        if line.startswith("?")
    }
    assert set(tip_blobs.values()) <= missing, tip_blobs
    assert git("-C", str(clone), "rev-parse", "HEAD").strip() == tip
    # the runner checked its commits out of that clone (no clone of its own)
    worktrees = sorted((tmp_path / "runner" / "work" / "worktrees" / SOURCE).iterdir())
    assert worktrees and not (tmp_path / "runner" / "work" / "clones").exists()
    for worktree in worktrees:
        common = git("-C", str(worktree), "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
        assert Path(common) == clone

    # the measured commits are exactly those fct_core_commits chose, and every job ended ok
    chosen = rows(
        db,
        "select commit_sha from main.fct_core_commits where repo_name = ? order by merged_at desc limit ?",
        PROJECT,
        LATEST,
    )
    assert sorted(sha for (sha,) in chosen) == sorted(expected)
    runs = rows(
        db, "select commit_hash, status, repo from main.fct_benchmark_runs where source_name = ?", SOURCE
    )
    assert sorted(runs) == sorted((sha, "ok", PROJECT) for sha in expected)
    assert rows(db, "select distinct status from raw.benchmark_runs") == [("ok",)]

    # their rows are in fct_measurements, as the results source named after the runner's target
    measured = rows(
        db,
        "select distinct commit_hash, source_kind, repo from main.fct_measurements where source_name = ?",
        SOURCE,
    )
    assert sorted(measured) == sorted((sha, "results", PROJECT) for sha in expected)
    # every benchmark of the suite has a measured value at every commit
    benchmarks = {
        b
        for (b,) in rows(
            db, "select distinct benchmark from main.fct_measurements where source_name = ?", SOURCE
        )
    }
    assert "bench_core.time_fib" in benchmarks and len(benchmarks) >= 5
    for sha in expected:
        valued = rows(
            db,
            """select distinct benchmark from main.fct_measurements
               where source_name = ? and commit_hash = ? and status = 'ok' and value > 0""",
            SOURCE,
            sha,
        )
        assert {b for (b,) in valued} == benchmarks, sha

    # and they are real measurements: the planted fib speed-up shows at its merge commit
    fib_n20 = dict(
        rows(
            db,
            """select commit_hash, value from main.fct_measurements
               where source_name = ? and benchmark = 'bench_core.time_fib' and params = 'n=20'""",
            SOURCE,
        )
    )
    before = expected[expected.index(fib) - 1]
    assert fib_n20[before] / fib_n20[fib] >= 20
