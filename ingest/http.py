"""A polite fetcher for published asv dashboards: an http(s) site or a local folder, one interface.

``HttpFetcher`` (on ``httpx.AsyncClient``) honours robots.txt, caps connections and requests per second
per host, retries what is worth retrying (429, 5xx, timeouts, dropped connections, truncated bodies)
with exponential back-off and jitter or the server's ``Retry-After``, sends conditional requests from
validators the caller kept, follows redirects only within the same host and refuses oversized bodies.
``LocalFetcher`` reads ``file://`` URLs from a folder and answers with the same ``FetchResult``s, so
the crawler and the warehouse loader never need to know where a dashboard lives.

Nothing here raises for a bad URL or a bad server: every outcome is a ``FetchResult`` whose ``status``
is 'ok', 'not_modified', 'missing' (404/410) or 'failed', with a ``reason`` a person can read; a
failure that asking again later may cure (retries used up, a Retry-After too long, robots.txt
unreachable) is flagged ``transient``.

robots.txt is read with ``protego``, which follows RFC 9309 (``*`` and ``$`` in paths, the longest
match wins) where ``urllib.robotparser`` takes those characters literally.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import quote, urljoin, urlsplit
from urllib.request import url2pathname

import httpx
from protego import Protego

USER_AGENT = "DataSmith/0.1 (+https://github.com/datasmith/datasmith)"

OK, NOT_MODIFIED, MISSING, FAILED = "ok", "not_modified", "missing", "failed"
REDIRECTS = {301, 302, 303, 307, 308}
GONE = {404, 410}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # naive UTC, like the warehouse's timestamps


@dataclass(frozen=True)
class FetchPolicy:
    """How hard to push a host. The defaults are for someone else's static site (GitHub Pages)."""

    user_agent: str = USER_AGENT
    max_connections_per_host: int = 4
    requests_per_second: float | None = 20.0  # per host; None or 0 = no cap
    burst: int = 4  # token bucket size: requests that may go out back to back
    max_attempts: int = 5
    backoff_base_s: float = 0.5  # first retry waits about this long, then doubling
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 300.0  # a longer Retry-After fails the file rather than stall the crawl
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    max_bytes: int = 50 * 1024 * 1024
    max_redirects: int = 5
    respect_robots: bool = True


class Validators(NamedTuple):
    """What the caller remembers about a URL's last good copy, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None


@dataclass
class FetchResult:
    url: str
    status: str  # OK | NOT_MODIFIED | MISSING | FAILED
    http_status: int | None = None
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    attempts: int = 0
    reason: str | None = None
    fetched_at: datetime = field(default_factory=_now)
    transient: bool = False  # a failure that may pass: worth asking again on the next run

    @property
    def size_bytes(self) -> int | None:
        return None if self.body is None else len(self.body)


@dataclass
class FetchStats:
    """Running counters, readable at any time for progress lines."""

    requests: int = 0
    retries: int = 0
    bytes_downloaded: int = 0
    not_modified: int = 0


class Fetcher(Protocol):
    stats: FetchStats

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult: ...

    async def aclose(self) -> None: ...


def base_url(location: str) -> str:
    """The base URL of a dashboard given as an http(s) URL or a local folder, ending in '/'."""
    if location.startswith(("http://", "https://", "file://")):
        return location if location.endswith("/") else location + "/"
    return Path(location).resolve().as_uri() + "/"


def join_url(base: str, relative_path: str) -> str:
    """``base`` + a '/'-separated relative path, each segment percent-encoded (spaces, '+', ':', ...)."""
    return urljoin(base, quote(relative_path, safe="/"))


def fetcher_for(
    location: str, policy: FetchPolicy | None = None, credentials: tuple[str, str] | None = None
) -> Fetcher:
    """The fetcher for a dashboard's location; ``credentials`` (user, password) go, as HTTP Basic
    auth, only to the location's own host."""
    if location.startswith(("http://", "https://")):
        return HttpFetcher(policy, credentials=credentials, site=location)
    root = Path(url2pathname(urlsplit(location).path)) if location.startswith("file://") else Path(location)
    return LocalFetcher(root, policy)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def _same_host(url: str, target: str) -> bool:
    """A redirect stays on the same host: same host name and port; an upgrade from http to https
    on the default ports counts as the same host, a downgrade does not."""
    scheme, host, port = _origin(url)
    t_scheme, t_host, t_port = _origin(target)
    if host != t_host or t_scheme not in ("http", "https"):
        return False
    if (scheme, port) == (t_scheme, t_port):
        return True
    return (scheme, port, t_scheme, t_port) == ("http", 80, "https", 443)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Retry(NamedTuple):
    """A transient failure of one attempt; the caller decides whether another is allowed."""

    reason: str
    retry_after: float | None = None
    http_status: int | None = None


class _Redirect(NamedTuple):
    location: str
    http_status: int


class TokenBucket:
    """Requests per second with a small burst; waiting callers queue on the lock, in order."""

    def __init__(self, rate: float | None, burst: int) -> None:
        self.rate = rate or 0.0
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass
class _Host:
    """Per-host limits. asyncio primitives belong to one event loop, so these are rebuilt per loop."""

    slots: asyncio.Semaphore
    bucket: TokenBucket
    robots_lock: asyncio.Lock


class HttpFetcher:
    """Fetches http(s) URLs politely; see the module docstring. Reusable across event loops."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        site: str | None = None,
    ) -> None:
        """``credentials`` (user, password) are sent as HTTP Basic auth to the host of ``site`` only
        (the same-host rule redirects follow); they are never part of a URL, a result or a reason."""
        self.policy = policy or FetchPolicy()
        self.stats = FetchStats()
        self._auth = httpx.BasicAuth(*credentials) if credentials and site else None
        self._site = site
        # robots.txt verdicts are plain data and outlive event loops: fetched once per host.
        self._robots: dict[tuple, tuple[Protego, str | None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[tuple, _Host] = {}

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client, self._loop, self._hosts = None, None, {}

    def _session(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new loop: the old client and locks cannot be used in it
            self._loop, self._hosts = loop, {}
            p = self.policy
            self._client = httpx.AsyncClient(
                headers={"User-Agent": p.user_agent},
                follow_redirects=False,  # redirects are followed by hand, within the same host only
                timeout=httpx.Timeout(p.read_timeout_s, connect=p.connect_timeout_s, pool=None),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
        assert self._client is not None
        return self._client

    def _host(self, url: str) -> _Host:
        key = _origin(url)
        if key not in self._hosts:
            p = self.policy
            self._hosts[key] = _Host(
                asyncio.Semaphore(max(1, p.max_connections_per_host)),
                TokenBucket(p.requests_per_second, p.burst),
                asyncio.Lock(),
            )
        return self._hosts[key]

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        self._session()
        refusal = await self._robots_refusal(url)
        if refusal:
            return FetchResult(url, FAILED, reason=refusal, transient=self._robots_unreachable(url))
        return await self._with_retries(url, validators)

    async def _with_retries(
        self, url: str, validators: Validators | None, check_robots: bool = True
    ) -> FetchResult:
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(url, validators, check_robots)
            if isinstance(outcome, FetchResult):
                outcome.attempts = attempt
                return outcome
            stop = self._why_stop(outcome, attempt)
            if stop:
                return FetchResult(
                    url,
                    FAILED,
                    http_status=outcome.http_status,
                    attempts=attempt,
                    reason=stop,
                    transient=True,
                )
            self.stats.retries += 1
            await asyncio.sleep(self._delay(attempt, outcome.retry_after))

    def _why_stop(self, outcome: _Retry, attempt: int) -> str | None:
        p = self.policy
        if outcome.retry_after is not None and outcome.retry_after > p.max_retry_after_s:
            # Retrying sooner than the server asked would be rude; waiting that long stalls the crawl.
            return (
                f"{outcome.reason}: Retry-After {outcome.retry_after:.0f} s is longer than the "
                f"{p.max_retry_after_s:.0f} s this fetcher waits"
            )
        if attempt >= p.max_attempts:
            return f"{outcome.reason} (gave up after {attempt} attempts)"
        return None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        p = self.policy
        if retry_after is not None:
            return retry_after  # the server said when: no sooner
        # "Equal jitter": half the exponential step for sure, the other half random, so a crowd of
        # failed requests does not come back in lockstep.
        step = min(p.backoff_max_s, p.backoff_base_s * 2 ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)

    async def _attempt(
        self, url: str, validators: Validators | None, check_robots: bool
    ) -> FetchResult | _Retry:
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            host = self._host(current)
            async with host.slots:  # a waiting retry does not hold a connection slot
                await host.bucket.take()
                outcome = await self._request(current, validators)
            if not isinstance(outcome, _Redirect):
                if isinstance(outcome, FetchResult):
                    outcome.url = url
                return outcome
            target = urljoin(current, outcome.location)
            if not _same_host(url, target):
                return FetchResult(
                    url,
                    FAILED,
                    http_status=outcome.http_status,
                    reason=f"redirect to another host refused: {target}",
                )
            refusal = await self._robots_refusal(target) if check_robots else None
            if refusal:
                return FetchResult(
                    url,
                    FAILED,
                    http_status=outcome.http_status,
                    reason=refusal,
                    transient=self._robots_unreachable(target),
                )
            current = target
        return FetchResult(url, FAILED, reason=f"more than {self.policy.max_redirects} redirects")

    async def _request(self, url: str, validators: Validators | None) -> FetchResult | _Retry | _Redirect:
        headers = {}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        self.stats.requests += 1
        auth = self._auth if self._auth is not None and _same_host(self._site, url) else None
        try:
            async with self._session().stream("GET", url, headers=headers, auth=auth) as response:
                return await self._response(url, response, validators)
        except httpx.TimeoutException as exc:
            return _Retry(f"timed out ({type(exc).__name__})")
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            return _Retry(f"connection error ({type(exc).__name__}: {exc})")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # e.g. an unsupported scheme: no retry
            return FetchResult(url, FAILED, reason=f"cannot fetch ({type(exc).__name__}: {exc})")

    async def _response(
        self, url: str, response: httpx.Response, validators: Validators | None
    ) -> FetchResult | _Retry | _Redirect:
        code = response.status_code
        etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
        if not 200 <= code < 300:
            await self._drain(response)
        if code in REDIRECTS:
            location = response.headers.get("location")
            if not location:
                return FetchResult(url, FAILED, http_status=code, reason=f"HTTP {code} without a Location")
            return _Redirect(location, code)
        if code == 304:
            self.stats.not_modified += 1
            known = validators or Validators()
            return FetchResult(
                url,
                NOT_MODIFIED,
                http_status=code,
                etag=etag or known.etag,
                last_modified=modified or known.last_modified,
                sha256=known.sha256,
            )
        if code in GONE:
            return FetchResult(url, MISSING, http_status=code, reason=f"HTTP {code}")
        if code == 429 or 500 <= code < 600:
            return _Retry(f"HTTP {code}", parse_retry_after(response.headers.get("retry-after")), code)
        if not 200 <= code < 300:
            return FetchResult(url, FAILED, http_status=code, reason=f"HTTP {code}")
        body = await self._read_body(url, response)
        if not isinstance(body, bytes):
            return body
        return FetchResult(
            url, OK, http_status=code, body=body, etag=etag, last_modified=modified, sha256=_sha256(body)
        )

    @staticmethod
    async def _drain(response: httpx.Response, limit: int = 64 * 1024) -> None:
        """Read a small error or 304 body to its end: httpcore closes a connection whose response
        was left unread, so without this every 304, 404 and retry would cost a new handshake."""
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return  # not worth reading: let this connection go
        with contextlib.suppress(httpx.HTTPError):
            await response.aread()

    async def _read_body(self, url: str, response: httpx.Response) -> bytes | FetchResult | _Retry:
        cap = self.policy.max_bytes
        declared = response.headers.get("content-length")
        declared_n = int(declared) if declared and declared.isdigit() else None
        if declared_n is not None and declared_n > cap:
            return FetchResult(
                url,
                FAILED,
                http_status=response.status_code,
                reason=f"too large: Content-Length {declared_n} exceeds the {cap}-byte cap",
            )
        chunks, size = [], 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:  # no or a lying Content-Length: stop reading at the cap
                    return FetchResult(
                        url,
                        FAILED,
                        http_status=response.status_code,
                        reason=f"too large: more than the {cap}-byte cap received",
                    )
                chunks.append(chunk)
        except httpx.RemoteProtocolError:
            # h11 notices a body that ends before its Content-Length when the peer closes.
            return _Retry(
                f"truncated body: {response.num_bytes_downloaded} of {declared_n} bytes",
                http_status=response.status_code,
            )
        finally:
            self.stats.bytes_downloaded += response.num_bytes_downloaded
        if declared_n is not None and response.num_bytes_downloaded != declared_n:
            return _Retry(
                f"truncated body: {response.num_bytes_downloaded} of {declared_n} bytes",
                http_status=response.status_code,
            )
        return b"".join(chunks)

    async def _robots_refusal(self, url: str) -> str | None:
        """Why robots.txt forbids ``url``, or None. robots.txt is fetched once per host."""
        if not self.policy.respect_robots:
            return None
        key = _origin(url)
        async with self._host(url).robots_lock:
            if key not in self._robots:
                self._robots[key] = await self._load_robots(url)
        parser, problem = self._robots[key]
        if problem is None and parser.can_fetch(url, self._robots_agent):
            return None
        return problem or "disallowed by robots.txt"

    @property
    def _robots_agent(self) -> str:
        # RFC 9309 matches the product token ("DataSmith"), not the whole User-Agent header.
        return (self.policy.user_agent.split("/")[0].split() or ["*"])[0]

    def _robots_unreachable(self, url: str) -> bool:
        """The host's robots.txt could not be read (5xx, network): a refusal that may pass."""
        return self._robots.get(_origin(url), (None, None))[1] is not None

    async def _load_robots(self, url: str) -> tuple[Protego, str | None]:
        # Without the robots check itself: that would wait on the lock this load is holding.
        result = await self._with_retries(urljoin(url, "/robots.txt"), None, check_robots=False)
        if result.status == OK:
            return Protego.parse(result.body.decode("utf-8", errors="replace")), None
        code = result.http_status
        if code is not None and code != 429 and code < 500:
            return Protego.parse(""), None  # RFC 9309: an absent (4xx) robots.txt allows everything
        # RFC 9309: robots.txt unreachable (5xx, network) means assume everything is disallowed.
        return Protego.parse(""), f"robots.txt unreachable, so nothing may be fetched: {result.reason}"


class LocalFetcher:
    """Reads ``file://`` URLs (or plain paths) inside ``root`` and answers like ``HttpFetcher``:
    http_status 200/304/404 stand for read/unchanged/absent, so rows look the same either way.
    "Not modified" means the file's sha256 equals the caller's remembered one."""

    def __init__(self, root: str | Path | None = None, policy: FetchPolicy | None = None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self.policy = policy or FetchPolicy()
        self.stats = FetchStats()
        self._lock = threading.Lock()  # reads run on worker threads; the counters are shared

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, n in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)

    async def __aenter__(self) -> LocalFetcher:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        return None

    async def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        return await asyncio.to_thread(self._read, url, validators)

    def _read(self, url: str, validators: Validators | None) -> FetchResult:
        path = Path(url2pathname(urlsplit(url).path)) if url.startswith("file://") else Path(url)
        self._count(requests=1)
        try:
            resolved = path.resolve()
            if self.root is not None and not resolved.is_relative_to(self.root):
                return FetchResult(
                    url, FAILED, attempts=1, reason=f"outside the dashboard folder {self.root}"
                )
            stat = resolved.stat()
            if stat.st_size > self.policy.max_bytes:
                return FetchResult(
                    url,
                    FAILED,
                    attempts=1,
                    reason=f"too large: {stat.st_size} bytes exceeds the {self.policy.max_bytes}-byte cap",
                )
            data = resolved.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return FetchResult(url, MISSING, http_status=404, attempts=1, reason="HTTP 404")
        except OSError as exc:
            return FetchResult(url, FAILED, attempts=1, reason=f"cannot read the file: {exc.strerror or exc}")
        digest = _sha256(data)
        modified = formatdate(stat.st_mtime, usegmt=True)
        if validators and validators.sha256 == digest:
            self._count(not_modified=1)
            return FetchResult(
                url, NOT_MODIFIED, http_status=304, last_modified=modified, sha256=digest, attempts=1
            )
        self._count(bytes_downloaded=len(data))
        return FetchResult(
            url, OK, http_status=200, body=data, last_modified=modified, sha256=digest, attempts=1
        )
