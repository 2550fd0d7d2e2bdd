"""A repository's closed pull requests, 100 per page, most discussed first, resumable and conditional.

``GET /repos/{o}/{r}/pulls?state=closed&sort=popularity&direction=desc&per_page=100`` (``direction`` must be
sent: for ``popularity`` GitHub's default is ascending), up to ``max_pull_requests``. Each page's body is
stored as it arrives, and the collection's position (the next URL) after it, so a run that stops half-way
continues from there on the next run without asking for the stored pages again. A collection that went to
the end is redone with ``If-None-Match`` for every page: unchanged pages answer 304 and add nothing.

Which pull requests count (merged, into the default branch) is decided in dbt (``dim_pull_requests``);
``merged_pull_requests`` applies the same rule here for the changed-files step.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import duckdb

from ingest.github.client import GitHubClient
from ingest.github.store import (
    advance_crawl,
    finish_crawl,
    record_fact,
    start_crawl,
    store_pull_page,
    stored_page,
    unfinished_crawl,
)

PER_PAGE = 100


@dataclass
class PullReport:
    repo_name: str
    pages_fetched: int = 0
    pages_not_modified: int = 0
    pages_stored: int = 0
    resumed_at_page: int | None = None
    outcome: str = "complete"

    def summary(self) -> str:
        resumed = f", resumed at page {self.resumed_at_page}" if self.resumed_at_page else ""
        return (
            f"{self.repo_name}: {self.pages_fetched} pages fetched ({self.pages_stored} new or changed), "
            f"{self.pages_not_modified} unchanged (304){resumed}; {self.outcome}"
        )


def first_page_url(client: GitHubClient, repo_name: str) -> str:
    query = {"state": "closed", "sort": "popularity", "direction": "desc", "per_page": PER_PAGE}
    return client.url(f"/repos/{repo_name}/pulls") + "?" + urlencode(query)


def collect_pull_requests(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    repo_name: str,
    max_pull_requests: int,
    progress: Callable[[str], None] = lambda message: None,
) -> PullReport:
    report = PullReport(repo_name)
    max_pages = math.ceil(max_pull_requests / PER_PAGE)
    resume = unfinished_crawl(con, repo_name)
    if resume is not None:
        crawl_id, url, page_number = resume
        report.resumed_at_page = page_number
        progress(f"{repo_name}: resuming an unfinished collection at page {page_number}")
    else:
        crawl_id, url, page_number = uuid.uuid4().hex, first_page_url(client, repo_name), 1
        start_crawl(con, repo_name, crawl_id, url)
    while url is not None and page_number <= max_pages:
        stored = stored_page(con, "github_pull_pages", url)
        response = client.get(url, etag=stored[0] if stored else None)
        if response.not_modified and stored:
            next_url = stored[1]
            report.pages_not_modified += 1
        elif response.ok:
            report.pages_stored += store_pull_page(
                con, repo_name, page_number, url, response.etag, response.next_url, response.body
            )
            next_url = response.next_url
            report.pages_fetched += 1
        else:
            record_fact(con, repo_name, "pulls", url, response.status, response.fact, response.message)
            report.outcome = response.fact or f"http_{response.status}"
            finish_crawl(con, crawl_id, report.outcome)
            return report
        page_number += 1
        advance_crawl(con, crawl_id, next_url, page_number, response.not_modified)
        url = next_url
        if page_number % 10 == 0:
            progress(f"{repo_name}: {page_number - 1} pages of pull requests")
    finish_crawl(
        con, crawl_id, "complete" if url is None else f"stopped at {max_pull_requests} pull requests"
    )
    report.outcome = "complete" if url is None else f"stopped at max_pull_requests={max_pull_requests}"
    return report


def merged_pull_requests(con: duckdb.DuckDBPyConnection, repo_name: str, default_branch: str) -> list[dict]:
    """The stored pull requests merged into the default branch (merged_at set; never judged by
    merge_commit_sha, which GitHub fills for unmerged ones too), newest body per number."""
    rows = con.execute(
        """select content from raw.github_pull_pages where repo_name = ?
           qualify row_number() over (partition by url order by fetched_at desc) = 1
           order by page_number""",
        [repo_name],
    ).fetchall()
    by_number: dict[int, dict] = {}
    for (content,) in rows:
        for item in json.loads(content):
            base = item.get("base") or {}
            if item.get("merged_at") and base.get("ref") == default_branch and item.get("merge_commit_sha"):
                by_number[item["number"]] = item
    return [by_number[n] for n in sorted(by_number)]
