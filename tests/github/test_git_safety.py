"""Data never becomes a git option (issue 13, case 1): a commit hash from a result file, a dashboard or the
GitHub API that is not hex never reaches git, and every git call with data ends its options first.

The hostile hashes are real result files (fixtures results/django) with only ``commit_hash`` changed; the
git repositories are made here, since any repository with a commit is enough for git to act on an option.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.support.common import fixture_path

REAL_RESULT = ("results", "django", "results", "ubuntu-latest", "01a4d8a3-conda-py3.10.json")


def run_git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repository(tmp_path) -> Path:
    """A repository with two commits (the second changes one file)."""
    path = tmp_path / "repo"
    path.mkdir()
    run_git(path, "init", "--quiet", "-b", "main")
    (path / "a.txt").write_text("one\n")
    run_git(path, "add", "a.txt")
    run_git(path, "commit", "--quiet", "-m", "first")
    (path / "a.txt").write_text("two\n")
    run_git(path, "commit", "--quiet", "-am", "second")
    return path


def hostile_result_file(tmp_path: Path, commit_hash: str) -> dict:
    """A copy of a real result file whose commit_hash is commit_hash, written in tmp_path and read back."""
    document = json.loads(fixture_path(*REAL_RESULT).read_text())
    document["commit_hash"] = commit_hash
    copy = tmp_path / "results" / "ubuntu-latest" / "01a4d8a3-conda-py3.10.json"
    copy.parent.mkdir(parents=True)
    copy.write_text(json.dumps(document))
    return json.loads(copy.read_text())


def tasks_warehouse(db: Path, result: dict, repo: str) -> duckdb.DuckDBPyConnection:
    """A warehouse holding fct_tasks (one task for the result file's commit, its first benchmark) and
    fct_series_points, with the columns the commit reports read, and dataset.commit_reports."""
    from dataset.ddl import DATASET_DDL

    con = duckdb.connect(str(db))
    con.execute("create schema intermediate")
    benchmark = sorted(result["results"])[0]
    con.execute(
        """create table main.fct_tasks as select
             'task-1' as commit_task_id, $repo as repo, $sha as commit_hash,
             to_timestamp($date / 1000) as commit_date, 'b' || $sha as commit_before,
             2.0 as median_speedup, 2.0 as max_speedup, 1 as n_workloads, 'results' as source,
             ['django'] as source_names, 'series-1' as top_series_id, $benchmark as top_benchmark,
             [{'series_id': 'series-1', 'benchmark': $benchmark, 'params': '', 'machine': $machine, 'before': 2.0, 'after': 1.0,
               'speedup': 2.0, 'significance': 0.01, 'unit': 'seconds'}] as workloads""",
        {"repo": repo, "sha": result["commit_hash"], "date": result["date"], "benchmark": benchmark,
         "machine": result["params"]["machine"]},
    )  # fmt: skip
    con.execute(
        """create table main.fct_series_points as
           select 'series-1' as series_id, 1 as position, $sha as commit_hash,
                  to_timestamp($date / 1000) as commit_date, 1.0 as value""",
        {"sha": result["commit_hash"], "date": result["date"]},
    )
    con.execute(DATASET_DDL)
    return con


@pytest.mark.parametrize("option", ["--output={pwned}", "--output={pwned}/../pwned"])
def test_a_result_files_commit_hash_that_is_an_option_writes_nothing_and_the_report_stays(
    tmp_path, repository, option
):
    """Before the fix, `git show -s ... --output=<path>` wrote <path> and build_reports crashed unpacking
    the empty answer: no report, no export. Now git is never asked; the row stays with nulls and a reason."""
    from dataset.reports import build_reports, store_reports
    from ingest.github.clones import clone_path

    pwned = tmp_path / "pwned"
    result = hostile_result_file(tmp_path, option.format(pwned=pwned))
    db = tmp_path / "warehouse" / "warehouse.duckdb"
    db.parent.mkdir()
    clones = tmp_path / "clones"
    clone = clone_path(clones, "django/django")
    clone.parent.mkdir(parents=True)
    run_git(tmp_path, "clone", "--quiet", "--bare", str(repository), str(clone))
    con = tasks_warehouse(db, result, "django/django")
    try:
        reports = build_reports(con, db, tmp_path / "reports", clones_dir=clones)
        store_reports(con, reports)
        stored = con.execute(
            "select commit_hash, commit_subject, patch, has_clone, report_markdown, report_path "
            "from dataset.commit_reports"
        ).fetchall()
    finally:
        con.close()
    assert not pwned.exists()
    assert not any(tmp_path.rglob("pwned"))
    [(sha, subject, diff, has_clone, markdown, report_path)] = stored
    assert sha == result["commit_hash"] and subject is None and diff is None and has_clone is True
    assert "is not 4 to 64 hex digits" in markdown
    assert Path(report_path).parent == tmp_path / "reports" and Path(report_path).is_file()


def test_a_commit_hash_naming_a_path_keeps_its_report_inside_the_reports_folder(tmp_path):
    """The task id of a task without a pull request is <owner>_<repo>_<commit8>: it names a file, never a
    folder, whatever the hash holds."""
    from dataset.reports import build_reports

    result = hostile_result_file(tmp_path, "../../../x/evil")
    db = tmp_path / "warehouse" / "warehouse.duckdb"
    db.parent.mkdir()
    con = tasks_warehouse(db, result, "django/django")
    try:
        [report] = build_reports(con, db, tmp_path / "out" / "reports")
    finally:
        con.close()
    assert report.report_path.parent == tmp_path / "out" / "reports"
    assert report.plot_path is None or report.plot_path.parent == tmp_path / "out" / "reports"
    assert "/" not in report.task_id


def test_commit_info_and_patch_answer_for_hex_hashes_and_nothing_else(tmp_path, repository):
    from dataset.clones import commit_info, patch

    head = run_git(repository, "rev-parse", "HEAD")
    info = commit_info(repository, head)
    assert info is not None and info.subject == "second" and info.files == (("a.txt", 1, 1),)
    assert commit_info(repository, head[:8]).sha == head  # asv dashboards' 8-character hashes
    assert "+two" in patch(repository, f"{head}^", head)
    pwned = tmp_path / "pwned"
    for hostile in (f"--output={pwned}", "HEAD", f"{head}\n", "main"):
        assert commit_info(repository, hostile) is None
        assert patch(repository, f"{hostile}^", head) is None  # a pull request's base_sha from GitHub
        assert patch(repository, head, hostile) is None
    assert not pwned.exists()


def test_the_github_stage_records_a_non_hex_commit_as_missing_with_the_reason(tmp_path, repository):
    from ingest.github.clones import collect_changed_files, ensure_clone
    from ingest.github.store import GITHUB_DDL

    head = run_git(repository, "rev-parse", "HEAD")
    pwned = tmp_path / "pwned"
    hostile = f"--output={pwned}"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(GITHUB_DDL)
    clone = ensure_clone(repository.as_uri(), tmp_path / "clones" / "o__r.git")
    report = collect_changed_files(con, "o/r", repository.as_uri(), clone, [head, hostile], refresh=False)
    rows = dict(
        con.execute("select commit_sha, coalesce(error, method) from raw.github_commit_diffs").fetchall()
    )
    con.close()
    assert report.commits_read == 1 and report.commits_missing == 1
    assert rows == {head: "clone", hostile: f"commit hash {hostile!r} is not 4 to 64 hex digits"}
    assert not pwned.exists()


def test_changed_files_refuses_a_non_hex_commit(tmp_path, repository):
    from ingest.github.clones import CloneError, changed_files

    head = run_git(repository, "rev-parse", "HEAD")
    assert changed_files(repository, head) == [("a.txt", 1, 1)]
    with pytest.raises(CloneError, match="not 4 to 64 hex digits"):
        changed_files(repository, f"--output={tmp_path / 'pwned'}")
    assert not (tmp_path / "pwned").exists()


def test_the_runner_resolves_revision_names_and_never_takes_one_for_an_option(tmp_path, repository):
    """The benchmarks section's commits are revision names: they are resolved with --end-of-options,
    and only the resolved hex hash is checked out."""
    from benchmark_runner.gitrepo import GitError, checkout_worktree, resolve_commit

    head = run_git(repository, "rev-parse", "HEAD")
    assert resolve_commit(repository, "main") == head
    assert resolve_commit(repository, head[:8]) == head
    pwned = tmp_path / "pwned"
    assert resolve_commit(repository, f"--output={pwned}") is None
    assert resolve_commit(repository, "--all") is None
    worktree = tmp_path / "work" / "slot-0"
    checkout_worktree(repository, worktree, head)
    assert (worktree / "a.txt").read_text() == "two\n"
    first = run_git(repository, "rev-parse", "HEAD^")
    checkout_worktree(repository, worktree, first)
    assert (worktree / "a.txt").read_text() == "one\n"
    with pytest.raises(GitError, match="not 4 to 64 hex digits"):
        checkout_worktree(repository, worktree, f"--output={pwned}")
    assert not pwned.exists()


def test_find_clone_never_leaves_the_clones_folders(tmp_path):
    """`repo: ../..` named <warehouse folder>/clones/../.. = the project itself (a git checkout)."""
    from dataset.clones import find_clone

    project = tmp_path / "project"
    db = project / "artifacts" / "warehouse.duckdb"
    db.parent.mkdir(parents=True)
    run_git(project, "init", "--quiet")
    (project / "artifacts" / "clones" / "x").mkdir(parents=True)
    for repo in ("../..", "../../.", "x/../..", "-x/y", "x/.."):
        assert find_clone(db, repo) is None, repo
