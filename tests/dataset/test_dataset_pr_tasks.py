"""End to end, the dataset's pull-request path: one `datasmith materialize` of a sources file with a
`github:` section (the fake GitHub of tests/github_server.py, whose pull requests land the demo sample's
commits in a locally generated repository) and the sample's committed asv results for that same
repository. The improving commits that are pull requests' merge commits must become tasks named after
their pull request, with the pull-request fields as the fake served them, in fct_commit_reports, in the
report and in the export."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import urllib.request
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from dataset.export import _license_cell, _licenses, read_card_header
from tests.support.common import fixture_path, materialize
from tests.support.common import read_records as rows
from tests.support.github_server import fixture, json_reply
from tests.support.github_support import PROJECT, PROJECT_ROOT, build_world, write_github_sources

TOKEN = "ghp_PRtasksTokenNeverStored0123456789abcd"


def discussion_routes(server, repo) -> None:
    """What the reports ask about a pull request, from real bodies: GET /pulls/{n} is OpenAPI's pull
    example with the fields that describe the test's pull request taken from the list the fake serves
    (merged_by stays the example's); the issue comments are the three recorded 2024 pages, in one page
    (the reports ask per_page=100); the reviews are OpenAPI's example."""
    comments = [
        comment
        for name in ("issue_comments_p1_2024", "issue_comments_p2_2024", "issue_comments_p3_last_2024")
        for comment in fixture(f"recorded/{name}.json")["response"]["body"]
    ]
    own = ("number", "url", "html_url", "title", "body", "state", "closed_at", "merged_at",
           "merge_commit_sha", "base", "head", "labels", "user")  # fmt: skip

    def pull(request, match):
        listed = next((p for p in repo.pulls if p["number"] == int(match.group(2))), None)
        if listed is None:
            return json_reply(fixture("recorded/repo_404_2012.json")["response"]["body"], 404)
        body = copy.deepcopy(fixture("pull.json"))
        body.update({key: copy.deepcopy(listed[key]) for key in own})
        return json_reply(body)

    server.add_route(r"^/repos/([^/]+/[^/]+)/pulls/(\d+)$", pull)
    server.add_route(
        r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$", lambda r, m: server.paginated(r, comments)
    )
    server.add_route(
        r"^/repos/([^/]+/[^/]+)/pulls/(\d+)/reviews$",
        lambda r, m: server.paginated(r, fixture("pull_reviews.json")),
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    fixture_path("github", "pull.json")  # skips with the reason when the real data is absent
    folder = tmp_path_factory.mktemp("dataset_pr_tasks")
    world = build_world(folder)
    project = world.server.repo_for(PROJECT)
    for pull in project.pulls:  # a real description instead of the helper's empty one
        pull["body"] = fixture("pull.json")["body"]
    discussion_routes(world.server, project)
    db = folder / "warehouse.duckdb"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    # Nothing may leave the machine: the GitHub API is the one the sources file names; anything that
    # asked the environment's API instead would ask a closed local port.
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("CODECOV_TOKEN", raising=False)
    # A machine east of UTC (GitHub's times are UTC; a time read without its zone would move by 9 hours).
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    try:
        with world.server, contextlib.redirect_stderr(io.StringIO()):
            sources = write_sources(folder, world.server.url)
            code = materialize(sources, db)
            # what the fake served for the pull requests, read back from it (nothing re-typed here)
            listing = f"{world.server.url}/repos/{PROJECT}/pulls?state=all&per_page=100"
            with urllib.request.urlopen(listing) as response:
                served = {p["merge_commit_sha"]: p for p in json.load(response)}
            requests = list(world.server.requests)
            license_served = world.server.repo_body(project)["license"]
    finally:
        monkeypatch.undo()
    return {"db": db, "code": code, "served": served, "requests": requests, "license": license_served}


def write_sources(folder: Path, api_url: str) -> Path:
    """The sample's committed asv results and the GitHub project they measure, in one sources file."""
    results = [{"name": "sample", "path": str(PROJECT_ROOT / "samples" / "results"), "repo": PROJECT}]
    return write_github_sources(folder, api_url, [PROJECT], also={"results": results})


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pr_tasks(run) -> list[tuple[dict, dict]]:
    """(report row, served pull request) for every improving commit."""
    reports = rows(
        run["db"],
        """select r.* from main.fct_improving_commits as i
           left join main.fct_commit_reports as r on r.commit_hash = i.commit_hash order by i.commit_hash""",
    )
    return [(report, run["served"].get(report["commit_hash"])) for report in reports]


def test_materialize_succeeds(run):
    assert run["code"] == 0


def test_the_planted_speed_ups_are_pull_request_merge_commits(run):
    truth = json.loads((PROJECT_ROOT / "samples" / "ground_truth.json").read_text())
    planted = {c["commit"] for c in truth["changes"] if c["direction"] == "improvement"}
    improving = {
        r["commit_hash"] for r in rows(run["db"], "select commit_hash from main.fct_improving_commits")
    }
    assert improving == planted and len(improving) == 2
    assert improving <= set(run["served"])  # each is the merge commit of a pull request the fake served


def test_each_task_carries_its_pull_request_as_served(run):
    owner, name = PROJECT.split("/")
    tasks = {r["commit_task_id"]: r for r in rows(run["db"], "select * from main.fct_tasks")}
    found = pr_tasks(run)
    assert len(found) == len(tasks) == 2
    for report, pull in found:
        assert pull is not None and report["commit_task_id"] in tasks
        assert report["pr_number"] == pull["number"]
        assert report["task_id"] == f"{owner}_{name}_{pull['number']}"
        assert report["pr_merged_at"] == instant(pull["merged_at"])
        assert report["pr_merge_commit_sha"] == pull["merge_commit_sha"] == report["commit_hash"]
        assert report["pr_base_sha"] == pull["base"]["sha"]
        assert report["pr_url"] == pull["html_url"]
        assert (report["pr_title"], report["pr_body"]) == (pull["title"], pull["body"])
        assert report["pr_labels"] == [label["name"] for label in pull["labels"]]
        assert pull["title"] in report["report_markdown"] and pull["body"] in report["report_markdown"]
        # the report file is named after the pull request
        assert Path(report["report_path"]).name == f"{report['task_id']}.md"
        assert Path(report["report_path"]).read_bytes().decode() == report["report_markdown"]  # CRLFs kept
        # the clone the GitHub stage made gives the patch
        assert report["has_clone"] and report["patch"].startswith("diff --git")


def test_the_export_rows_are_the_pull_request_tasks(run):
    exported = {
        r["commit_hash"]: r for r in pq.read_table(run["db"].parent / "dataset" / "tasks.parquet").to_pylist()
    }
    found = pr_tasks(run)
    assert set(exported) == {report["commit_hash"] for report, _ in found}
    for report, pull in found:
        row = exported[report["commit_hash"]]
        assert row["task_id"] == report["task_id"]
        assert row["pr_number"] == pull["number"]
        assert row["pr_merged_at"] == instant(pull["merged_at"])
        assert row["pr_merge_commit_sha"] == pull["merge_commit_sha"]
        assert row["pr_base_sha"] == row["base_commit"] == pull["base"]["sha"]
        assert row["month"] == pull["merged_at"][:7]
        assert row["problem_statement"] == report["report_markdown"]


def test_the_discussion_comes_from_the_api_the_sources_file_names(run):
    """Comments, reviews and who merged come from the GitHub the pull requests came from (the sources
    file's api_url), not from the environment's or api.github.com."""
    comments = sum(
        len(fixture(f"recorded/{name}.json")["response"]["body"])
        for name in ("issue_comments_p1_2024", "issue_comments_p2_2024", "issue_comments_p3_last_2024")
    )
    asked = [path.split("?")[0] for path, _ in run["requests"]]
    for report, pull in pr_tasks(run):
        number = pull["number"]
        for path in (f"/pulls/{number}", f"/issues/{number}/comments", f"/pulls/{number}/reviews"):
            assert f"/repos/{PROJECT}{path}" in asked
        assert (report["n_comments"], report["n_reviews"]) == (comments, len(fixture("pull_reviews.json")))
        assert report["pr_merged_by"] == fixture("pull.json")["merged_by"]["login"]


def test_the_token_never_reaches_the_warehouse(run):
    assert TOKEN.encode() not in run["db"].read_bytes()


# The dataset card names each source repository's license as the GitHub stage recorded it: the one in the
# metadata body the fake served (a real recording's), carried through dim_repositories.


def test_the_card_names_the_license_github_served_for_the_project(run):
    con = duckdb.connect(str(run["db"]), read_only=True)
    try:
        assert con.execute("select repo_name, license_spdx from main.dim_repositories").fetchall() == [
            (PROJECT, run["license"]["spdx_id"])
        ]
        tasks = con.execute("select count(*) from main.fct_tasks where repo = ?", [PROJECT]).fetchone()[0]
    finally:
        con.close()
    assert tasks  # the card is about real tasks of that repository
    card = (run["db"].parent / "dataset" / "README.md").read_text(encoding="utf-8")
    licenses = card.split("## Licenses\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in licenses.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{PROJECT}` | {run['license']['spdx_id']} |"]
    assert "unknown" not in licenses
    header = read_card_header(run["db"].parent / "dataset")
    # per-repository licensing: the hub field says `other` and points at the table
    assert header["license"] == "other" and header["license_name"] == "per-repository"
    assert "see below" in header["license_details"]


def test_names_match_case_insensitively_and_an_unknown_repository_stays_unknown(run):
    con = duckdb.connect(str(run["db"]), read_only=True)
    try:
        found = _licenses(con, ("DataSmith-Demo/FastFuncs", "someone/elsewhere"))
    finally:
        con.close()
    assert found == {"DataSmith-Demo/FastFuncs": run["license"]["spdx_id"], "someone/elsewhere": None}
    assert _license_cell(None).startswith("unknown")
    unrecognised = _license_cell("NOASSERTION")  # GitHub's answer for a license it cannot identify
    assert unrecognised.startswith("NOASSERTION") and "check the repository" in unrecognised


def test_without_the_github_stage_every_license_reads_unknown(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        assert _licenses(con, (PROJECT,)) == {PROJECT: None}
    finally:
        con.close()
