"""Codecov coverage against a fake Codecov API v2 serving the real bodies from codecov-api's own tests."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from dataset.codecov import CodecovClient
from tests.support.common import fixture_path
from tests.support.dataset_support import FixtureServer, github_fixture, shared_demo_warehouse

TOKEN = "codecov-secret-token-123"
SHA = "49b197c4e041d02481054cae96fc4a9abf1ac004"


def render(body, base: str, sha: str):
    """The fixtures' template fields (README §0): {CODECOV_DASHBOARD_URL} and {commitid} filled in."""
    text = json.dumps(body).replace("{CODECOV_DASHBOARD_URL}", base).replace("{commitid}", sha)
    return json.loads(text)


def codecov_server(sha: str, file_report_paths: tuple[str, ...] = ()) -> FixtureServer:
    fixture_path("github", "codecov_totals.json")
    errors = github_fixture("errors/codecov_errors.json")
    server = FixtureServer(not_found_body=errors["404_unknown_sha"])
    server.__enter__()
    prefix = "/api/v2/gh/datasmith-demo/repos/fastfuncs"
    server.add(f"{prefix}/totals/?sha={sha}", render(github_fixture("codecov_totals.json"), server.url, sha))
    for path in file_report_paths:
        server.add(
            f"{prefix}/file_report/{path}?sha={sha}",
            render(github_fixture("codecov_file_report.json"), server.url, sha),
        )
    return server


def test_commit_and_file_coverage_come_from_totals_and_file_reports(caplog):
    server = codecov_server(SHA, file_report_paths=("src/fastfuncs/core.py",))
    try:
        client = CodecovClient(TOKEN, server.url)
        with caplog.at_level(logging.DEBUG):
            commit, files = client.coverage(
                "datasmith-demo/fastfuncs",
                SHA,
                ["foo/file1.py", "bar/file2.py", "src/fastfuncs/core.py", "gone.py"],
            )
        client.close()
    finally:
        server.__exit__()
    totals = github_fixture("codecov_totals.json")
    assert commit == totals["totals"]["coverage"]
    expected = {f["name"]: f["totals"]["coverage"] for f in totals["files"]}
    expected["src/fastfuncs/core.py"] = github_fixture("codecov_file_report.json")["totals"]["coverage"]
    assert files == expected  # gone.py: Codecov has no report for it, so it has no coverage
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for _, h in server.requests)
    # files listed in the totals are not asked for again
    assert not any("file_report/foo" in path for path, _ in server.requests)
    assert TOKEN not in caplog.text


def test_a_commit_without_a_report_is_data_not_a_failure(caplog):
    server = codecov_server("0" * 40)
    try:
        client = CodecovClient(TOKEN, server.url)
        assert client.coverage("datasmith-demo/fastfuncs", SHA, ["src/fastfuncs/core.py"]) == (None, {})
        client.close()
    finally:
        server.__exit__()
    assert TOKEN not in caplog.text


def test_reports_keep_every_task_and_carry_coverage_where_codecov_has_it(tmp_path_factory, tmp_path):
    from dataset.reports import build_reports, store_reports
    from tests.support.warehouse import connect_writer

    demo = shared_demo_warehouse(tmp_path_factory)
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo, db)
    shutil.copytree(demo.parent / "clones", tmp_path / "clones")
    server = codecov_server(SHA, file_report_paths=("src/fastfuncs/core.py",))
    try:
        client = CodecovClient(TOKEN, server.url)
        with connect_writer(db) as con:
            reports = build_reports(con, db, tmp_path / "reports", coverage_for=client.coverage)
            store_reports(con, reports)
            rows = con.execute(
                "select commit_hash, coverage_commit, changed_files from dataset.commit_reports order by commit_hash"
            ).fetchall()
            n_tasks = con.execute("select count(*) from main.fct_tasks").fetchone()[0]
        client.close()
    finally:
        server.__exit__()
    assert len(rows) == n_tasks == 2  # the commit Codecov does not know keeps its row
    by_commit = {sha: (cov, files) for sha, cov, files in rows}
    assert by_commit[SHA][0] == pytest.approx(60.0)
    assert {f["path"]: f["coverage"] for f in by_commit[SHA][1]} == {"src/fastfuncs/core.py": 62.5}
    other = next(sha for sha in by_commit if sha != SHA)
    assert by_commit[other][0] is None
    assert all(f["coverage"] is None for f in by_commit[other][1])
    report = (tmp_path / "reports" / "datasmith-demo_fastfuncs_49b197c4.md").read_text()
    assert "Codecov line coverage at this commit: 60.00%" in report
