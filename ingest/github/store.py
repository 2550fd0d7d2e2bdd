"""The GitHub stage's raw tables and the only code that writes them.

Append-only, with provenance: an API answer is stored once per distinct body of its URL (url, sha256,
fetched_at, etag), so a re-run whose requests answer 304 adds nothing. The ETag and the page's next URL are
kept with the body: the next run sends ``If-None-Match`` and, on a 304 (which has no Link header), walks on
from the stored next URL. The token is never written: only URLs, bodies and the headers named here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import duckdb

GITHUB_DDL = """
create schema if not exists raw;
-- Discovery's API answers (code search pages, repository metadata, git trees, asv.conf.json files):
-- one row per distinct body of each URL.
create table if not exists raw.github_discovery_responses (
    kind        varchar   not null,  -- search_code | repo | tree | asv_config
    repo_name   varchar,             -- the repository asked about (owner/name as asked); null for search
    path        varchar,             -- asv_config: the file's path in the repository
    url         varchar   not null,
    http_status integer   not null,
    etag        varchar,
    next_url    varchar,             -- the Link header's rel="next"
    sha256      varchar   not null,  -- of the body as served
    fetched_at  timestamp not null,
    content     varchar   not null   -- JSON text (asv_config: the file as JSON, its // comments stripped)
);
-- Repositories discovery looked at and why (code search hit, or listed in the sources file).
create table if not exists raw.github_candidates (
    repo_name varchar not null, found_by varchar not null, found_path varchar, discovered_at timestamp not null
);
-- Answers that are facts about a repository (404, 409 empty, 451 blocked, 422, ...), and 'ok' again when
-- a repository that failed answers later: a new row only when a URL's outcome changes.
create table if not exists raw.github_repo_facts (
    repo_name varchar not null, kind varchar not null, url varchar not null, http_status integer,
    fact varchar not null, message varchar, recorded_at timestamp not null
);
-- Closed pull requests, 100 per page, one row per distinct body of each page URL.
create table if not exists raw.github_pull_pages (
    repo_name   varchar   not null,
    page_number integer   not null,
    url         varchar   not null,
    etag        varchar,
    next_url    varchar,
    sha256      varchar   not null,
    fetched_at  timestamp not null,
    content     varchar   not null   -- the page's JSON array as served
);
-- One row per collection of a repository's pull requests; next_url is where an unfinished one resumes.
create table if not exists raw.github_pull_crawls (
    repo_name varchar not null, crawl_id varchar not null, started_at timestamp not null,
    finished_at timestamp, next_url varchar, next_page integer, pages_fetched integer,
    pages_not_modified integer, outcome varchar
);
-- The files each merged commit changed (git diff --numstat against its first parent).
create table if not exists raw.github_commit_files (
    repo_name varchar not null, commit_sha varchar not null, path varchar not null,
    additions integer, deletions integer, loaded_at timestamp not null  -- null counts: a binary file
);
-- One row per commit whose changed files were read, even when it changed none, with where they came from.
create table if not exists raw.github_commit_diffs (
    repo_name varchar not null, commit_sha varchar not null, parent_sha varchar,
    method varchar not null,   -- clone | api | missing
    source varchar not null,   -- the clone URL, or the API URL
    n_files integer not null, sha256 varchar, error varchar, loaded_at timestamp not null
);
"""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sha256_of(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def stored_page(
    con: duckdb.DuckDBPyConnection, table: str, url: str
) -> tuple[str | None, str | None, str] | None:
    """(etag, next_url, sha256) of a URL's latest stored body, or None."""
    return con.execute(
        f"select etag, next_url, sha256 from raw.{table} where url = ? order by fetched_at desc limit 1",
        [url],
    ).fetchone()


def stored_content(con: duckdb.DuckDBPyConnection, table: str, url: str) -> str | None:
    row = con.execute(
        f"select content from raw.{table} where url = ? order by fetched_at desc limit 1", [url]
    ).fetchone()
    return row[0] if row else None


def store_discovery_response(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    repo_name: str | None,
    url: str,
    http_status: int,
    etag: str | None,
    next_url: str | None,
    body: bytes,
    content: str | None = None,
    path: str | None = None,
) -> bool:
    """Store a body unless the URL's latest stored body is the same; True when a row was added."""
    digest = sha256_of(body)
    latest = stored_page(con, "github_discovery_responses", url)
    if latest is not None and latest[2] == digest and latest[0] == etag:
        return False
    con.execute(
        "insert into raw.github_discovery_responses values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [kind, repo_name, path, url, http_status, etag, next_url, digest, now(),
         content if content is not None else body.decode("utf-8", "replace")],
    )  # fmt: skip
    return True


def record_fact(
    con: duckdb.DuckDBPyConnection,
    repo_name: str,
    kind: str,
    url: str,
    http_status: int | None,
    fact: str,
    message: str | None = None,
) -> bool:
    """A repository fact; 'ok' is written only to end an earlier failure of the same URL."""
    latest = con.execute(
        "select fact from raw.github_repo_facts where url = ? order by recorded_at desc limit 1", [url]
    ).fetchone()
    if (latest is None and fact == "ok") or (latest is not None and latest[0] == fact):
        return False
    con.execute(
        "insert into raw.github_repo_facts values (?, ?, ?, ?, ?, ?, ?)",
        [repo_name, kind, url, http_status, fact, (message or "")[:500], now()],
    )
    return True


def add_candidates(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str | None]]) -> int:
    """(repo_name, found_by, found_path) rows not stored before."""
    if not rows:
        return 0
    known = set(
        con.execute(
            "select lower(repo_name), found_by, coalesce(found_path, '') from raw.github_candidates"
        ).fetchall()
    )
    new = [(r, by, p) for r, by, p in dict.fromkeys(rows) if (r.lower(), by, p or "") not in known]
    stamp = now()
    if new:
        con.executemany("insert into raw.github_candidates values (?, ?, ?, ?)", [(*r, stamp) for r in new])
    return len(new)


# -- pull requests -------------------------------------------------------------------------------
def store_pull_page(
    con: duckdb.DuckDBPyConnection,
    repo_name: str,
    page_number: int,
    url: str,
    etag: str | None,
    next_url: str | None,
    body: bytes,
) -> bool:
    digest = sha256_of(body)
    latest = stored_page(con, "github_pull_pages", url)
    if latest is not None and latest[2] == digest:
        return False
    # validated here, so a page that is not a JSON array never reaches dbt
    if not isinstance(json.loads(body), list):
        raise ValueError(f"{url}: a pull-request page must be a JSON array")
    con.execute(
        "insert into raw.github_pull_pages values (?, ?, ?, ?, ?, ?, ?, ?)",
        [repo_name, page_number, url, etag, next_url, digest, now(), body.decode("utf-8")],
    )
    return True


def unfinished_crawl(con: duckdb.DuckDBPyConnection, repo_name: str) -> tuple[str, str | None, int] | None:
    """(crawl_id, next_url, next_page) of the latest collection of a repository if it never finished."""
    row = con.execute(
        """select crawl_id, next_url, next_page, finished_at from raw.github_pull_crawls
           where repo_name = ? order by started_at desc limit 1""",
        [repo_name],
    ).fetchone()
    return None if row is None or row[3] is not None else (row[0], row[1], row[2])


def start_crawl(con: duckdb.DuckDBPyConnection, repo_name: str, crawl_id: str, first_url: str) -> None:
    con.execute(
        "insert into raw.github_pull_crawls values (?, ?, ?, null, ?, 1, 0, 0, null)",
        [repo_name, crawl_id, now(), first_url],
    )


def advance_crawl(
    con: duckdb.DuckDBPyConnection, crawl_id: str, next_url: str | None, next_page: int, not_modified: bool
) -> None:
    con.execute(
        """update raw.github_pull_crawls set next_url = ?, next_page = ?,
               pages_fetched = pages_fetched + ?, pages_not_modified = pages_not_modified + ?
           where crawl_id = ?""",
        [next_url, next_page, 0 if not_modified else 1, 1 if not_modified else 0, crawl_id],
    )


def finish_crawl(con: duckdb.DuckDBPyConnection, crawl_id: str, outcome: str) -> None:
    con.execute(
        "update raw.github_pull_crawls set finished_at = ?, outcome = ? where crawl_id = ?",
        [now(), outcome, crawl_id],
    )


# -- changed files -------------------------------------------------------------------------------
def diffed_commits(con: duckdb.DuckDBPyConnection, repo_name: str) -> set[str]:
    rows = con.execute(
        "select commit_sha from raw.github_commit_diffs where repo_name = ? and method <> 'missing'",
        [repo_name],
    ).fetchall()
    return {sha for (sha,) in rows}


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple], chunk: int = 500) -> None:
    """Many rows in a few statements (one INSERT per row costs milliseconds each)."""
    if not rows:
        return
    width = len(rows[0])
    one = "(" + ", ".join(["?"] * width) + ")"
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        con.execute(
            f"insert into raw.{table} values " + ", ".join([one] * len(part)),
            [value for row in part for value in row],
        )


def store_commit_diffs(con: duckdb.DuckDBPyConnection, repo_name: str, diffs: list[tuple]) -> None:
    """(commit_sha, parent_sha, method, source, files [(path, additions, deletions)], error) per commit;
    a commit already recorded as missing is not recorded as missing again."""
    already_missing = {
        sha
        for (sha,) in con.execute(
            "select commit_sha from raw.github_commit_diffs where repo_name = ? and method = 'missing'",
            [repo_name],
        ).fetchall()
    }
    stamp = now()
    file_rows, diff_rows = [], []
    for sha, parent, method, source, files, error in diffs:
        if method == "missing" and sha in already_missing:
            continue
        listing = "\n".join(f"{a}\t{d}\t{p}" for p, a, d in files)
        file_rows += [(repo_name, sha, path, added, deleted, stamp) for path, added, deleted in files]
        diff_rows.append(
            (repo_name, sha, parent, method, source, len(files), sha256_of(listing), error, stamp)
        )
    _insert_rows(con, "github_commit_files", file_rows)
    _insert_rows(con, "github_commit_diffs", diff_rows)


def store_commit_diff(
    con: duckdb.DuckDBPyConnection,
    repo_name: str,
    commit_sha: str,
    parent_sha: str | None,
    method: str,
    source: str,
    files: list[tuple[str, int | None, int | None]],
    error: str | None = None,
) -> None:
    store_commit_diffs(con, repo_name, [(commit_sha, parent_sha, method, source, files, error)])
