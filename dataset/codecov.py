"""Codecov API v2 coverage of a commit and of its changed files (optional: needs CODECOV_TOKEN).

    GET {base}/api/v2/gh/{owner}/repos/{repo}/totals/?sha=<sha>            -> totals.coverage, files[].totals
    GET {base}/api/v2/gh/{owner}/repos/{repo}/file_report/<path>?sha=<sha> -> totals.coverage of one file

A commit or file without a report (Codecov answers 404 `{"detail": ...}`) is data, not a failure: its
coverage is None and the task keeps its row. The token is sent as `Authorization: Bearer`, and never
logged or stored: errors name the URL path only.
"""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import quote

import httpx

DEFAULT_BASE_URL = "https://api.codecov.io"
RETRY_STATUSES = {429, 500, 502, 503, 504}
log = logging.getLogger("datasmith")


class CodecovClient:
    def __init__(
        self, token: str, base_url: str = DEFAULT_BASE_URL, attempts: int = 3, timeout_s: float = 30.0
    ):
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     "User-Agent": "DataSmith (FormulaCode dataset builder)"},
            timeout=timeout_s,
        )  # fmt: skip
        self.attempts = attempts
        self.requests = 0

    @classmethod
    def from_env(cls) -> CodecovClient | None:
        token = os.environ.get("CODECOV_TOKEN")
        if not token:
            return None
        return cls(token, os.environ.get("CODECOV_API_URL", DEFAULT_BASE_URL))

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, sha: str) -> dict | None:
        for attempt in range(1, self.attempts + 1):
            self.requests += 1
            try:
                response = self._client.get(path, params={"sha": sha})
            except httpx.TransportError as exc:
                if attempt == self.attempts:
                    log.warning(f"codecov: {path}: {type(exc).__name__}; coverage left empty")
                    return None
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code == 200:
                return response.json()
            if response.status_code in RETRY_STATUSES and attempt < self.attempts:
                time.sleep(float(response.headers.get("Retry-After", 0.2 * 2**attempt)))
                continue
            if response.status_code != 404:
                log.warning(f"codecov: {path}: HTTP {response.status_code}; coverage left empty")
            return None
        return None

    def coverage(self, repo: str, sha: str, paths: list[str]) -> tuple[float | None, dict[str, float]]:
        """(commit coverage %, {changed path: coverage %}) for the paths Codecov reports on."""
        owner, name = repo.split("/", 1)
        prefix = f"/api/v2/gh/{quote(owner)}/repos/{quote(name)}"
        totals = self._get(f"{prefix}/totals/", sha)
        if totals is None:
            return None, {}
        by_file = {
            f["name"]: f["totals"]["coverage"]
            for f in totals.get("files") or []
            if isinstance(f, dict) and f.get("totals", {}).get("coverage") is not None
        }
        found: dict[str, float] = {}
        for path in paths:
            if path in by_file:
                found[path] = float(by_file[path])
                continue
            report = self._get(f"{prefix}/file_report/{quote(path)}", sha)
            if report and (report.get("totals") or {}).get("coverage") is not None:
                found[path] = float(report["totals"]["coverage"])
        commit = (totals.get("totals") or {}).get("coverage")
        return (float(commit) if commit is not None else None), found
