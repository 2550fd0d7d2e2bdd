"""A GitHub REST client on httpx that stays inside GitHub's limits and never leaks the token.

* The token comes from ``GH_TOKEN`` / ``GITHUB_TOKEN`` or a ``tokens.env`` file (``KEY=VALUE`` lines) in the
  project root or the working directory. It is sent only in the Authorization header; every error message
  this module builds goes through ``redact`` first, and so does every response's ``message`` (the text kept from
  an error body, which a server may echo the token into).
* ``X-GitHub-Api-Version: 2022-11-28`` is pinned: later versions drop ``merge_commit_sha``.
* Primary limit: ``X-RateLimit-Remaining: 0`` means wait until ``X-RateLimit-Reset``, before the next request
  of that resource (core, search, code_search) and after a 403/429 that says so.
* Secondary limit: a 403/429 with ``Retry-After`` waits that long; without it, at least 60 s, doubling.
* 5xx and dropped connections are retried with exponential back-off and jitter.
* 304, 404, 409, 410, 422 and 451 are answers, not failures: they come back as a ``GitHubResponse`` for the
  caller to record as facts about the repository (never retried).
* Pagination follows the ``Link`` header's ``rel="next"`` URL verbatim (GitHub may switch it to the
  ``/repositories/{id}/...`` form); only the first request carries the caller's query parameters.

Every wait goes through an injectable ``clock`` (``now()`` in epoch seconds and ``sleep(seconds)``), so tests
run rate-limit scenarios with a fake clock and never really wait.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from ingest.http import USER_AGENT, parse_retry_after
from ingest.sources import DEFAULT_API_URL

log = logging.getLogger("datasmith")

API_VERSION = "2022-11-28"
TOKEN_VARIABLES = ("GH_TOKEN", "GITHUB_TOKEN")
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Answers that say something about the repository itself; recorded by the caller, never retried.
FACTS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "empty_repository",
    410: "gone",
    422: "unprocessable",
    451: "blocked",
}
SECONDARY_LIMIT_PHRASES = ("secondary rate limit", "abuse detection", "temporarily blocked")


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class GitHubError(RuntimeError):
    """A request that could not be answered (retries spent, a wait too long, no token for search)."""


def load_token(environ: dict[str, str] | None = None, folders: list[Path] | None = None) -> str | None:
    """The token from the environment, else from the first tokens.env found (project root, then cwd)."""
    environ = os.environ if environ is None else environ
    for name in TOKEN_VARIABLES:
        if environ.get(name, "").strip():
            return environ[name].strip()
    for folder in folders if folders is not None else [PROJECT_ROOT, Path.cwd()]:
        file = Path(folder) / "tokens.env"
        if not file.is_file():
            continue
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.strip().partition("=")
            key = key.strip().removeprefix("export ").strip()
            value = value.strip().strip("'\"")
            if sep and key in TOKEN_VARIABLES and value:
                return value
    return None


def _unchanged(text: str) -> str:
    return text


def redactor(token: str | None) -> Callable[[str], str]:
    def redact(text: str) -> str:
        return text.replace(token, "[token]") if token else text

    return redact


_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')


def parse_link(header: str | None) -> dict[str, str]:
    """rel -> URL from a Link header (a missing header means a single page)."""
    links: dict[str, str] = {}
    for url, rels in _LINK.findall(header or ""):
        for rel in rels.split():
            links[rel] = url
    return links


@dataclass
class GitHubResponse:
    url: str  # the URL as requested (after redirects: the final one)
    status: int
    headers: httpx.Headers
    body: bytes
    sent_etag: str | None = None
    # the client's token redactor: ``message`` is the one place text from a body is made for storing
    redact: Callable[[str], str] = field(default=_unchanged, repr=False, compare=False)

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag") or self.sent_etag

    @property
    def links(self) -> dict[str, str]:
        return parse_link(self.headers.get("link"))

    @property
    def next_url(self) -> str | None:
        return self.links.get("next")

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def fact(self) -> str | None:
        """What a non-2xx, non-304 answer says about the resource ('not_found', 'blocked', ...)."""
        return FACTS.get(self.status, f"http_{self.status}") if self.status >= 400 else None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def message(self) -> str:
        """The body's "message" (or its first 200 characters when it is not JSON), the token redacted
        before the text is cut (a cut could leave part of the token)."""
        try:
            body = self.json()
        except ValueError:
            return self.redact(self.body[:4096].decode("utf-8", "replace"))[:200]
        return self.redact(str(body.get("message", ""))) if isinstance(body, dict) else ""


@dataclass
class ClientStats:
    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    primary_waits: int = 0
    secondary_waits: int = 0
    waited_s: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)


def resource_of(url: str) -> str:
    """GitHub's rate-limit bucket for a URL (code search has its own, stricter one)."""
    path = urlsplit(url).path
    if "/search/code" in path:
        return "code_search"
    if "/search/" in path:
        return "search"
    return "core"


class GitHubClient:
    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        clock: Clock | None = None,
        max_attempts: int = 6,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 120.0,
        secondary_min_wait_s: float = 60.0,
        max_wait_s: float = 3700.0,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/") + "/"
        self.token = token
        self.clock = clock or SystemClock()
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.secondary_min_wait_s = secondary_min_wait_s
        self.max_wait_s = max_wait_s
        self.stats = ClientStats()
        self.redact = redactor(token)
        self._blocked_until: dict[str, float] = {}  # resource -> epoch seconds of its reset
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            follow_redirects=True,  # 301 for a renamed repository; httpx drops Authorization off-host
            transport=transport,
        )

    @classmethod
    def from_environment(cls, api_url: str = DEFAULT_API_URL, **kwargs) -> GitHubClient:
        return cls(api_url, load_token(), **kwargs)

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def authenticated(self) -> bool:
        return bool(self.token)

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else urljoin(self.api_url, path_or_url.lstrip("/"))

    # ------------------------------------------------------------------------------------------
    def get(
        self, path_or_url: str, params: dict | None = None, etag: str | None = None, accept: str | None = None
    ) -> GitHubResponse:
        """One GET with every retry and wait it needs; answers (2xx, 304, 4xx facts) come back,
        anything that cannot be answered raises GitHubError."""
        url = self.url(path_or_url)
        resource = resource_of(url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if accept:
            headers["Accept"] = accept
        failures = 0
        secondary = 0
        while True:
            self._wait_for(resource)
            self.stats.requests += 1
            try:
                response = self._http.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                failures += 1
                self._retry_or_fail(url, failures, f"{type(exc).__name__}: {exc}")
                continue
            status = response.status_code
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            self._note_limits(resource, response.headers)
            body = response.content
            if status in (403, 429) and self._rate_limited(response, body):
                secondary += 1
                self._wait_after_limit(url, resource, response, secondary)
                continue
            if status >= 500:
                failures += 1
                self._retry_or_fail(url, failures, f"HTTP {status}")
                continue
            if status == 304:
                self.stats.not_modified += 1
            return GitHubResponse(
                str(response.url), status, response.headers, body, sent_etag=etag, redact=self.redact
            )

    def pages(
        self,
        path_or_url: str,
        params: dict | None = None,
        stored: Callable[[str], tuple[str | None, str | None]] | None = None,
        max_pages: int | None = None,
    ) -> Iterator[GitHubResponse]:
        """Every page, following rel="next" verbatim. ``stored(url)`` gives the (etag, next_url) kept from
        an earlier run: the ETag makes the request conditional, and since a 304 carries no Link header the
        walk goes on from the stored next URL."""
        url: str | None = self.url(path_or_url) + (("?" + urlencode(params)) if params else "")
        count = 0
        while url is not None and (max_pages is None or count < max_pages):
            etag, stored_next = stored(url) if stored else (None, None)
            response = self.get(url, etag=etag)
            count += 1
            yield response
            # a 304 has no Link header: go on from the next URL stored with that page
            url = stored_next if response.not_modified else (response.next_url if response.ok else None)

    # ------------------------------------------------------------------------------------------
    def _rate_limited(self, response: httpx.Response, body: bytes) -> bool:
        if response.headers.get("retry-after") or response.headers.get("x-ratelimit-remaining") == "0":
            return True
        if response.status_code == 429:
            return True
        text = body[:2000].decode("utf-8", "replace").lower()
        return "rate limit" in text or any(phrase in text for phrase in SECONDARY_LIMIT_PHRASES)

    def _note_limits(self, resource: str, headers: httpx.Headers) -> None:
        """Remaining 0 after any answer: the next request of this resource waits for the reset."""
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
            named = headers.get("x-ratelimit-resource") or resource
            self._blocked_until[named if named in ("core", "search", "code_search") else resource] = float(
                headers["x-ratelimit-reset"]
            )

    def _wait_for(self, resource: str) -> None:
        until = self._blocked_until.pop(resource, None)
        if until is None:
            return
        delay = until - self.clock.now() + 1.0  # one second past the reset, as GitHub's clock may lag
        if delay > 0:
            self.stats.primary_waits += 1
            self._sleep(delay, f"primary rate limit of '{resource}' reached")

    def _wait_after_limit(self, url: str, resource: str, response: httpx.Response, count: int) -> None:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=self.clock.now())
        if count > self.max_attempts:
            raise GitHubError(self.redact(f"{url}: still rate limited after {count - 1} waits"))
        if retry_after is not None:
            self.stats.secondary_waits += 1
            self._sleep(retry_after, f"{response.status_code} with Retry-After {retry_after:.0f} s")
        elif response.headers.get("x-ratelimit-remaining") == "0":
            self._wait_for(resource)  # _note_limits has set the reset time
        else:
            self.stats.secondary_waits += 1
            delay = self.secondary_min_wait_s * 2 ** (count - 1)
            self._sleep(delay, f"secondary rate limit ({response.status_code} without Retry-After)")

    def _retry_or_fail(self, url: str, failures: int, reason: str) -> None:
        if failures >= self.max_attempts:
            raise GitHubError(self.redact(f"{url}: {reason} after {failures} attempts"))
        self.stats.retries += 1
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1)) * (
            0.5 + random.random() / 2
        )
        self._sleep(delay, f"{reason}; retry {failures} of {self.max_attempts - 1}", quiet=True)

    def _sleep(self, seconds: float, why: str, quiet: bool = False) -> None:
        if seconds > self.max_wait_s:
            raise GitHubError(
                f"{why}: waiting {seconds:.0f} s is more than the allowed {self.max_wait_s:.0f} s"
            )
        (log.debug if quiet else log.info)(f"github: {why}; waiting {seconds:.0f} s")
        self.stats.waited_s += seconds
        self.clock.sleep(seconds)
