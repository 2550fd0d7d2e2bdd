"""End to end: `datasmith materialize` with a `github:` source against the fake GitHub and a local git
repository built from the demo sample; then a second run that costs only 304s and adds no rows."""

from __future__ import annotations

import contextlib
import io

import duckdb
import pytest

from tests.support.common import materialize
from tests.support.common import read_rows as rows
from tests.support.github_support import ALL_REPOS, PROJECT, build_world, write_github_sources

TOKEN = "ghp_PIPELINEtokenNeverStored0123456789xyz"
RAW_TABLES = [
    "github_discovery_responses", "github_candidates", "github_repo_facts", "github_pull_pages",
    "github_pull_crawls", "github_commit_files", "github_commit_diffs",
]  # fmt: skip


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("github_pipeline")
    world = build_world(folder)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    db = folder / "warehouse.duckdb"
    stderr = io.StringIO()
    with world.server, contextlib.redirect_stderr(stderr):
        sources = write_github_sources(folder, world.server.url, ALL_REPOS, discover=True, min_stars=1)
        first_code = materialize(sources, db)
        first_requests = list(world.server.requests)
        con = duckdb.connect(str(db), read_only=True)
        counts_after_first = {
            t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES
        }
        con.close()
        world.server.requests.clear()
        # the ingest assets only: the point is what GitHub is asked the second time (dbt ran above)
        second_code = materialize(sources, db, "--select", "key:raw/github_*")
        second_requests = list(world.server.requests)
    monkeypatch.undo()
    yield {
        "world": world, "db": db, "codes": (first_code, second_code), "first": first_requests,
        "second": second_requests, "counts_after_first": counts_after_first, "stderr": stderr.getvalue(),
    }  # fmt: skip


def test_both_runs_succeed(pipeline):
    assert pipeline["codes"] == (0, 0)


def test_repos_valid_and_every_drop_with_its_reason(pipeline):
    world = pipeline["world"]
    valid = {name for (name,) in rows(pipeline["db"], "select repo_name from main.dim_repositories")}
    assert valid == world.expected_valid
    dropped = dict(rows(pipeline["db"], "select github_repo, reason from main.dim_dropped_repositories"))
    for repo, reason in world.expected_dropped.items():
        assert dropped[repo].startswith(reason), (repo, dropped[repo])
    # the benchmark repository stands for the project its asv config names
    assert rows(
        pipeline["db"],
        "select github_repo, default_branch from main.dim_repositories where repo_name = 'widget-co/widgets'",
    ) == [("bench-org/widgets-asv", "develop")]


def served_spdx(world, repo: str) -> str | None:
    """The license's spdx_id in the metadata body the fake GitHub serves for repo (None: GitHub's null)."""
    license_ = world.server.repo_body(world.server.repo_for(repo)).get("license")
    return license_["spdx_id"] if license_ else None


def test_each_valid_project_carries_its_own_license(pipeline):
    world = pipeline["world"]
    got = dict(rows(pipeline["db"], "select repo_name, license_spdx from main.dim_repositories"))
    assert got == {repo: served_spdx(world, repo) for repo in world.expected_valid}
    # not vacuous: one project with a license as served (the recording's), one with GitHub's null
    assert got[PROJECT] is not None and got[PROJECT] == served_spdx(world, PROJECT)
    assert got["widget-co/widgets"] is None
    # the benchmark repository's own license is served, and is not the project's
    assert served_spdx(world, "bench-org/widgets-asv") is not None
    # a dropped repository without a project keeps its own license
    dropped = dict(
        rows(pipeline["db"], "select github_repo, license_spdx from main.dim_dropped_repositories")
    )
    assert dropped["plain/noconfig"] == served_spdx(world, "plain/noconfig") is not None
    assert dropped["gone/missing"] is None


def test_merged_pull_requests_into_the_default_branch_only(pipeline):
    world = pipeline["world"]
    got = rows(
        pipeline["db"],
        f"select pr_number, merge_commit_sha from main.dim_pull_requests where repo_name = '{PROJECT}' order by 1",
    )
    expected = [(number, commit["commit"]) for number, commit in enumerate(world.commits[1:], start=2)]
    assert got == expected  # neither #90 (closed unmerged, merge_commit_sha set) nor #91 (maintenance branch)


def test_commits_filtered_are_those_that_change_core_code(pipeline):
    world = pipeline["world"]
    # the sample's own step list says which commits touch its package's code
    core_steps = {
        commit["commit"]
        for commit, step in zip(world.commits, world.steps, strict=True)
        if any(path.startswith("src/fastfuncs/") and not path.endswith("__init__.py") for path in step.files)
    } - {world.commits[0]["commit"]}
    kept = {sha for (sha,) in rows(pipeline["db"], "select commit_sha from main.fct_core_commits")}
    assert kept == core_steps and kept
    dropped = rows(pipeline["db"], "select commit_sha, reason from main.fct_dropped_commits")
    assert {sha for sha, _ in dropped} == {c["commit"] for c in world.commits[1:]} - kept
    assert {reason for _, reason in dropped} == {"no core files changed"}
    # parents and line counts agree with git itself
    generate_parents = {c["commit"]: c["parent"] for c in world.commits}
    for sha, parent in rows(pipeline["db"], "select commit_sha, parent_sha from main.fct_core_commits"):
        assert generate_parents[sha] == parent


def test_a_second_run_is_answered_304_and_adds_nothing(pipeline):
    first, second = pipeline["first"], pipeline["second"]
    conditional = [status for path, status in second if not path.startswith("/search/")]
    assert conditional.count(304) >= 0.9 * len([s for s in conditional if s in (200, 304)])
    assert not any(status == 200 and "/pulls" in path for path, status in second)
    for table, count in pipeline["counts_after_first"].items():
        if table != "github_pull_crawls":  # one bookkeeping row per collection
            assert rows(pipeline["db"], f"select count(*) from raw.{table}")[0][0] == count, table
    assert len(second) <= len(first)


def test_the_token_never_reaches_the_warehouse_or_the_output(pipeline):
    assert TOKEN.encode() not in pipeline["db"].read_bytes()
    assert "github discovery" in pipeline["stderr"] or "candidate repositories" in pipeline["stderr"]
    assert TOKEN not in pipeline["stderr"]
