"""The GitHub side of a task, read from the GitHub stage's marts when they are in the warehouse.

Contract (the GitHub stage's dbt models): ``dim_pull_requests(repo_name, pr_number, title, body, labels,
author_login, merged_at, merge_commit_sha, base_sha, base_ref, head_sha, html_url)``,
``fct_core_commits(repo_name, commit_sha, pr_number, ...)`` and ``fct_commit_files(repo_name,
commit_sha, path, additions, deletions, is_core)``. Any of them may be absent (a warehouse built
without a ``github:`` section, or before that stage ran): every lookup then answers None and the
task keeps its row with null pull-request fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb


@dataclass
class PullRequest:
    number: int
    title: str | None = None
    body: str | None = None
    labels: list[str] = field(default_factory=list)
    author: str | None = None
    merged_by: str | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    base_sha: str | None = None
    base_ref: str | None = None
    head_sha: str | None = None
    url: str | None = None


def relation_columns(con: duckdb.DuckDBPyConnection, name: str, schema: str = "main") -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return {row[0] for row in rows}


def pull_request_for(con: duckdb.DuckDBPyConnection, repo: str, commit_sha: str) -> PullRequest | None:
    """The merged pull request that landed commit_sha: by fct_core_commits's pr_number, else by merge commit."""
    columns = relation_columns(con, "dim_pull_requests")
    if not {"repo_name", "pr_number", "merge_commit_sha"} <= columns:
        return None
    optional = {
        "title": "title", "body": "body", "labels": "labels", "author_login": "author",
        "merged_by_login": "merged_by", "merged_at": "merged_at", "base_sha": "base_sha",
        "base_ref": "base_ref", "head_sha": "head_sha", "html_url": "url",
    }  # fmt: skip
    selected = [f"pr.{column}" for column in optional if column in columns]
    by_commit = ""
    if {"repo_name", "commit_sha", "pr_number"} <= relation_columns(con, "fct_core_commits"):
        by_commit = """or pr.pr_number in (
            select pr_number from main.fct_core_commits where lower(repo_name) = lower($repo) and commit_sha = $sha)"""
    row = con.execute(
        f"""select pr.pr_number, pr.merge_commit_sha {"".join(", " + s for s in selected)}
            from main.dim_pull_requests as pr
            where lower(pr.repo_name) = lower($repo) and (pr.merge_commit_sha = $sha {by_commit})
            order by pr.merge_commit_sha = $sha desc, pr.pr_number
            limit 1""",
        {"repo": repo, "sha": commit_sha},
    ).fetchone()
    if row is None:
        return None
    values = dict(
        zip(
            ["number", "merge_commit_sha", *(optional[c] for c in optional if c in columns)],
            row,
            strict=False,
        )
    )
    values["labels"] = list(values.get("labels") or [])
    if values.get("merged_at") is not None:
        values["merged_at"] = utc_text(values["merged_at"])
    return PullRequest(**values)


def utc_text(moment: datetime | str) -> str:
    """A time as text that names its zone. The GitHub marts keep GitHub's UTC times as timestamps without a
    zone; written bare, a later cast to timestamptz would read them in the session's local zone."""
    if isinstance(moment, datetime):
        return str(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))
    return str(moment)


def changed_files_for(
    con: duckdb.DuckDBPyConnection, repo: str, commit_sha: str
) -> list[tuple[str, int | None, int | None]] | None:
    if not {"repo_name", "commit_sha", "path"} <= relation_columns(con, "fct_commit_files"):
        return None
    rows = con.execute(
        """select path, additions, deletions from main.fct_commit_files
           where lower(repo_name) = lower($repo) and commit_sha = $sha order by path""",
        {"repo": repo, "sha": commit_sha},
    ).fetchall()
    return [tuple(row) for row in rows] or None
