"""Commit reports on the demo (against git and the marts), and with a pull request whose comments span
three pages (real GitHub recordings served by a local fake)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.support.common import fixture_path
from tests.support.dataset_support import (
    FixtureServer,
    demo_clone_path,
    git,
    github_fixture,
    shared_demo_warehouse,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return shared_demo_warehouse(tmp_path_factory)


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split(" | ")] for row in rows[1:]]


def test_one_report_per_improving_commit_with_what_git_and_the_marts_say(demo):
    clone = demo_clone_path(demo)
    improving = query(demo, "select commit_hash from main.fct_improving_commits")
    reports = query(
        demo,
        "select commit_hash, task_id, report_markdown, report_path, plot_path from main.fct_commit_reports",
    )
    assert {r[0] for r in reports} == {c[0] for c in improving} and len(reports) == 2
    truth = json.loads((Path(__file__).parents[2] / "samples" / "ground_truth.json").read_text())
    planted = {c["commit"] for c in truth["changes"] if c["direction"] == "improvement"}
    assert {r[0] for r in reports} == planted
    for sha, task_id, markdown, report_path, plot_path in reports:
        assert Path(report_path) == demo.parent / "reports" / f"{task_id}.md"
        assert Path(report_path).read_text() == markdown
        # the commit as git tells it
        assert git(clone, "log", "-1", "--format=%B", sha).strip() in markdown
        numstat = [
            line.split("\t")
            for line in git(clone, "show", "--numstat", "--format=", sha).splitlines()
            if line
        ]
        assert sorted(table_rows(markdown, "Changed files")) == sorted([[p, a, d] for a, d, p in numstat])
        # the benchmarks table: every improved workload (benchmark, params, machine) of the commit, once
        expected = query(
            demo,
            f"""select distinct benchmark, params, machine from main.fct_performance_improvements
                where commit_after = '{sha}'""",
        )
        shown = [tuple(row[:3]) for row in table_rows(markdown, "Benchmarks sped up")]
        assert sorted(shown) == sorted(expected)
        assert "No pull request is known for this commit." in markdown
        # the plot: a real PNG, linked from the report
        png = Path(plot_path)
        assert png.read_bytes()[:8] == PNG_MAGIC and f"]({png.name})" in markdown
        import matplotlib.image

        assert matplotlib.image.imread(png).shape[0] > 50


def serve_discussion(server: FixtureServer, repo: str, number: int) -> int:
    """Issue comments: the three recorded pages (their Link URLs pointed at the fake, nothing else
    changed); reviews: the OpenAPI example. Returns how many comments there are."""
    pages = ["issue_comments_p1_2024.json", "issue_comments_p2_2024.json", "issue_comments_p3_last_2024.json"]
    total = 0
    for index, name in enumerate(pages):
        recorded = github_fixture(f"recorded/{name}")
        response = recorded["response"]
        link = next((v for k, v in response["headers"] if k.lower() == "link"), "")
        headers = {"Link": link.replace("https://api.github.com", "{base}")}
        path = (
            f"/repos/{repo}/issues/{number}/comments"
            if index == 0
            else recorded["request"]["url"].replace("https://api.github.com", "")
        )
        server.add(path, response["body"], headers=headers)
        total += len(response["body"])
    server.add(f"/repos/{repo}/pulls/{number}/reviews", github_fixture("pull_reviews.json"))
    server.add(f"/repos/{repo}/pulls/{number}", github_fixture("pull.json"))
    return total


def test_a_known_pull_request_brings_its_description_labels_and_every_comment_page(demo, tmp_path):
    fixture_path("github", "recorded", "issue_comments_p1_2024.json")
    from dataset.discussion import DiscussionFetcher
    from dataset.reports import build_reports, store_reports
    from tests.support.warehouse import connect_writer

    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo, db)
    shutil.copytree(demo.parent / "clones", tmp_path / "clones")
    clone = demo_clone_path(db)
    sha = "84667a7876402eefa084da47674d67c2315a6116"
    pull = github_fixture("pull.json")
    # The OpenAPI pull request, landed as the demo's fib commit: only merge_commit_sha and base.sha replaced.
    # (Replaces the GitHub stage's empty mart, same columns; who merged it comes from GET /pulls/{n}.)
    parent = git(clone, "rev-parse", f"{sha}^").strip()
    with connect_writer(db) as con:
        con.execute(
            """create or replace table main.dim_pull_requests as select
                 'datasmith-demo/fastfuncs' as repo_name, ?::bigint as pr_number, ? as title, ? as body,
                 ?::varchar[] as labels, ? as author_login, ?::timestamptz as merged_at,
                 ? as merge_commit_sha, ? as base_sha, ? as base_ref, ? as head_sha, ? as html_url""",
            [pull["number"], pull["title"], pull["body"], [lab["name"] for lab in pull["labels"]], pull["user"]["login"],
             pull["merged_at"], sha, parent, pull["base"]["ref"], pull["head"]["sha"],
             pull["html_url"]],
        )  # fmt: skip
    with FixtureServer() as server:
        n_comments = serve_discussion(server, "datasmith-demo/fastfuncs", pull["number"])
        fetcher = DiscussionFetcher(api_url=server.url, token="ghp_test_token")
        with connect_writer(db) as con:
            reports = build_reports(con, db, tmp_path / "reports", discussion_for=fetcher)
            store_reports(con, reports)
            row = con.execute(
                """select task_id, pr_number, pr_title, pr_labels, pr_merged_by, n_comments, n_reviews, patch
                   from dataset.commit_reports where commit_hash = ?""",
                [sha],
            ).fetchone()
        fetcher.close()
    assert n_comments == 7
    task_id, number, title, labels, merged_by, comments, reviews, patch = row
    assert task_id == f"datasmith-demo_fastfuncs_{pull['number']}"
    assert (number, title, labels) == (pull["number"], pull["title"], ["bug"])
    assert merged_by == pull["merged_by"]["login"]
    assert (comments, reviews) == (n_comments, len(github_fixture("pull_reviews.json")))
    assert patch == git(clone, "diff", "--no-color", "--binary", f"{parent}..{sha}")
    markdown = (tmp_path / "reports" / f"{task_id}.md").read_text()
    assert pull["body"].strip() in markdown and "Labels: bug" in markdown
    for name in (
        "issue_comments_p1_2024.json",
        "issue_comments_p2_2024.json",
        "issue_comments_p3_last_2024.json",
    ):
        for comment in github_fixture(f"recorded/{name}")["response"]["body"]:
            first_line = comment["body"].strip().splitlines()[0]
            assert first_line in markdown
    assert "Here is the body for the review." in markdown
    assert re.search(r"### Comments \(7\) and reviews \(1\)", markdown)
    # every page was asked for once, with the token
    assert [p for p, _ in server.requests if "comments" in p][1:] == [
        "/repositories/3544490/issues/1136/comments?per_page=3&page=2",
        "/repositories/3544490/issues/1136/comments?per_page=3&page=3",
    ]
    assert all(h.get("Authorization") == "Bearer ghp_test_token" for _, h in server.requests)
    # the other task has no pull request and keeps its commit id
    assert (tmp_path / "reports" / "datasmith-demo_fastfuncs_49b197c4.md").exists()


def test_reports_look_for_the_clone_where_the_github_stage_keeps_it(tmp_path):
    """`github.clones_dir` moves the GitHub stage's clones; the reports (like the runner) look there."""
    from dataset.clones import find_clone
    from ingest.github.clones import clone_path

    db = tmp_path / "warehouse" / "warehouse.duckdb"
    db.parent.mkdir()
    configured = tmp_path / "elsewhere"
    clone = clone_path(configured, "org/proj")
    clone.mkdir(parents=True)
    git(clone, "init", "--quiet", "--bare")
    assert find_clone(db, "org/proj", configured) == clone
    assert find_clone(db, "org/proj") is None  # not under the warehouse's own clones/ folder
    plain = db.parent / "clones" / "org" / "proj"  # a plain checkout there is still found, after the stage's
    plain.mkdir(parents=True)
    git(plain, "init", "--quiet")
    assert find_clone(db, "org/proj") == plain
    assert find_clone(db, "org/proj", configured) == clone
