"""A pull request's conversation: its issue comments and its reviews, every page (Link: rel="next").

Used by the commit reports for tasks whose pull request is known. Requests go through the GitHub stage's
client (ingest.github.client: token from GH_TOKEN/GITHUB_TOKEN/tokens.env, never logged; primary and
secondary rate limits; retries). The API is the one the pull requests came from: the sources file's
`github: api_url` (the commit_reports asset passes it), else GITHUB_API_URL, else api.github.com. A page
that cannot be had ends that list with what was read and a warning: the report is still written. A repo
that is not a GitHub owner/name (``ingest.identifiers``; ``../..`` would walk up the API's paths) or a pull
request number that is not a positive whole number is never put in a URL: no discussion, and a warning.
"""

from __future__ import annotations

import logging
import os

from dataset.reports import Discussion
from ingest.github import DEFAULT_API_URL, GitHubClient, GitHubError, load_token
from ingest.identifiers import repo_problem

MAX_PAGES = 50
log = logging.getLogger("datasmith")


class DiscussionFetcher:
    def __init__(
        self, api_url: str | None = None, token: str | None = None, client: GitHubClient | None = None
    ):
        self.client = client or GitHubClient(
            api_url or os.environ.get("GITHUB_API_URL", DEFAULT_API_URL),
            token if token is not None else load_token(),
        )

    def close(self) -> None:
        self.client.close()

    def __call__(self, repo: str, pr_number: int) -> Discussion:
        problem = repo_problem(repo) or (
            None
            if isinstance(pr_number, int) and not isinstance(pr_number, bool) and pr_number > 0
            else f"pull request number {pr_number!r} is not a positive whole number"
        )
        if problem:
            log.warning(f"github: no discussion fetched: {problem}")
            return Discussion()
        return Discussion(
            comments=self.all_pages(f"/repos/{repo}/issues/{pr_number}/comments"),
            reviews=self.all_pages(f"/repos/{repo}/pulls/{pr_number}/reviews"),
            merged_by=self.merged_by(f"/repos/{repo}/pulls/{pr_number}"),
        )

    def merged_by(self, path: str) -> str | None:
        """Who merged the pull request: only GET /pulls/{n} says (not the list the marts come from)."""
        try:
            response = self.client.get(path)
        except GitHubError as exc:
            log.warning(f"github: {path}: {exc}")
            return None
        body = response.json() if response.ok else None
        merged_by = body.get("merged_by") if isinstance(body, dict) else None
        return merged_by.get("login") if isinstance(merged_by, dict) else None

    def all_pages(self, path: str) -> list[dict]:
        items: list[dict] = []
        try:
            for page in self.client.pages(path, params={"per_page": 100}, max_pages=MAX_PAGES):
                if not page.ok:
                    log.warning(f"github: {path}: HTTP {page.status}; kept {len(items)} items")
                    break
                body = page.json()
                if isinstance(body, list):
                    items.extend(item for item in body if isinstance(item, dict))
        except GitHubError as exc:  # its message is already redacted
            log.warning(f"github: {path}: {exc}; kept {len(items)} items")
        return items
