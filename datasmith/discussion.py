"""A pull request's conversation: its issue comments and its reviews, every page (Link: rel="next").

Used by the commit reports for tasks whose pull request is known. GITHUB_TOKEN (optional) is sent as a
Bearer token and never logged; GITHUB_API_URL moves the API (tests point it at a local fake).
A page that cannot be had ends that list with what was read and a warning: a report is still written.
"""

from __future__ import annotations

import logging
import os
import time

import httpx

from datasmith.reports import Discussion

DEFAULT_API_URL = "https://api.github.com"
MAX_PAGES = 50
log = logging.getLogger("datasmith")


class DiscussionFetcher:
    def __init__(self, api_url: str | None = None, token: str | None = None, attempts: int = 3):
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "DataSmith (FormulaCode dataset builder)"}  # fmt: skip
        token = token if token is not None else os.environ.get("GITHUB_TOKEN")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=(api_url or os.environ.get("GITHUB_API_URL", DEFAULT_API_URL)).rstrip("/"),
            headers=headers,
            timeout=30.0,
            follow_redirects=False,
        )
        self.attempts = attempts
        self.requests = 0

    def close(self) -> None:
        self._client.close()

    def __call__(self, repo: str, pr_number: int) -> Discussion:
        return Discussion(
            comments=self.all_pages(f"/repos/{repo}/issues/{pr_number}/comments"),
            reviews=self.all_pages(f"/repos/{repo}/pulls/{pr_number}/reviews"),
        )

    def all_pages(self, path: str) -> list[dict]:
        items: list[dict] = []
        url: str | None = path
        params: dict | None = {"per_page": 100}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._get(url, params)
            if response is None:
                log.warning(f"github: {path}: a page could not be read; kept {len(items)} items")
                break
            body = response.json()
            if isinstance(body, list):
                items.extend(b for b in body if isinstance(b, dict))
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query
        return items

    def _get(self, url: str, params: dict | None) -> httpx.Response | None:
        for attempt in range(1, self.attempts + 1):
            self.requests += 1
            try:
                response = self._client.get(url, params=params)
            except httpx.TransportError:
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code == 200:
                return response
            limited = response.status_code == 429 or (
                response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"
            )
            if (limited or response.status_code >= 500) and attempt < self.attempts:
                wait = response.headers.get("Retry-After")
                time.sleep(min(float(wait) if wait else 0.2 * 2**attempt, 60.0))
                continue
            return None
        return None
