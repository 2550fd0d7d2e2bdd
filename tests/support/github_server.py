"""A fake GitHub REST API on 127.0.0.1 for tests and the bench, fed with real GitHub bodies.

Every body starts from a real response in $DATASMITH_FIXTURES/github (OpenAPI examples, recordings, error
bodies). Where a response must describe a repository the test built (its name, stars, default branch, its
license, the commit shas of its pull requests, its files), the fixture body is copied and ONLY those fields
are replaced; each place that does so says which fields. The server also keeps GitHub's rules: ``Link``
pagination (the next URL switches to the ``/repositories/{id}/...`` form, as GitHub's does), ``per_page`` at
most 100, the 422 past the first 1,000 search hits, ETags with 304 on ``If-None-Match`` (a 304 costs no
quota), ``X-RateLimit-*`` per resource on a clock the test controls, and code search only with a token.

Behaviours a test switches on:
    server.inject(r"/pulls", secondary_limit(retry_after=60))   # next request matching the regex
    server.inject(r"/pulls", server_error(times=3))             # a 5xx burst
    server.inject(r"page=3", dropped(times=None))               # connections dropped from now on (a crash)
    server.exhaust("core", reset_in=600)                         # primary limit: 403 until the reset
    server.limits["core"] = 2                                    # or a small budget that runs out

Extending: ``server.add_route(regex, handler)``; ``handler(request, match) -> Reply``; use ``json_reply`` and
``server.paginated(request, items)`` for the usual shapes (later routes win; ``/repositories/{id}/...`` is
answered as ``/repos/{owner}/{name}/...``). ``server.requests`` lists every request seen, with its status.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("DATASMITH_FIXTURES", PROJECT_ROOT.parent / "shared" / "fixtures")).resolve()
GITHUB_FIXTURES = FIXTURES / "github"


def fixture(relative: str):
    """A fixture file's JSON: an OpenAPI example, a recording ({request, response}) or an error file."""
    return json.loads((GITHUB_FIXTURES / relative).read_text(encoding="utf-8"))


def recorded_body(relative: str):
    return fixture(f"recorded/{relative}")["response"]["body"]


class FakeClock:
    """Epoch seconds that move only when someone sleeps; shared by the client and the server."""

    def __init__(self, start: float = 1_767_781_000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.time += max(0.0, seconds)


@dataclass
class Reply:
    status: int = 200
    body: object = None  # JSON-able, bytes, or None (no body)
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def json_reply(body, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body, dict(headers or {}))


@dataclass
class Request:
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    raw_path: str

    @property
    def authenticated(self) -> bool:
        return bool(self.headers.get("authorization"))


@dataclass
class Fault:
    """Misbehave on the next ``times`` requests whose path+query matches (None: every one)."""

    kind: str  # reply | drop
    times: int | None = 1
    reply: Reply | None = None


def secondary_limit(retry_after: int | None = 60, status: int = 403, times: int = 1) -> Fault:
    """The 2018 recording's 403 with Retry-After (or the 2022 body without it, remaining not 0)."""
    if retry_after is not None:
        recording = fixture("recorded/search_code_403_abuse_retry_after_2018.json")["response"]
        return Fault("reply", times, Reply(status, recording["body"], {"Retry-After": str(retry_after)}))
    body = fixture("errors/secondary_rate_limit_403.json")["body_2022"]
    return Fault("reply", times, Reply(status, body, {"X-RateLimit-Remaining": "14"}))


def server_error(times: int = 1, status: int = 500) -> Fault:
    return Fault("reply", times, Reply(status, recorded_body("server_error_500_2018.json")))


def dropped(times: int | None = 1) -> Fault:
    """The connection closes (RST) before any answer."""
    return Fault("drop", times)


def error_reply(kind: str) -> Reply:
    """The real error bodies: not_found, blocked (451), empty (409), search_cap (422)."""
    if kind == "not_found":
        return Reply(404, recorded_body("repo_404_2012.json"))
    if kind == "blocked":
        return Reply(451, fixture("errors/repo_451_dmca.json")["body"])
    if kind == "empty":
        return Reply(409, fixture("errors/empty_repo_409.json")["body_get_tree_2024"])
    if kind == "search_cap":
        return Reply(
            422, fixture("errors/search_422_over_1000_results.json")["body_2026_as_reported_by_third_party"]
        )
    raise ValueError(kind)


@dataclass
class FakeRepo:
    """A repository the fake serves. ``files`` (path -> text) make its tree and contents; ``pulls`` are
    pull-request bodies (see ``pull_request``); ``status`` other than 200 answers every route of it."""

    full_name: str
    id: int
    stars: int = 100
    default_branch: str = "main"
    fork: bool = False
    parent: str | None = None
    archived: bool = False
    disabled: bool = False
    pushed_at: str = "2026-01-01T00:00:00Z"
    clone_url: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    file_sizes: dict[str, int] = field(default_factory=dict)  # search's size: qualifier (default: len)
    pulls: list[dict] = field(default_factory=list)
    commits: dict[str, list[dict]] = field(default_factory=dict)  # sha -> [{filename, additions, deletions}]
    status: str | None = None  # not_found | blocked | empty (git routes only)
    truncated_tree: bool = False  # the recursive tree says truncated: true
    # GitHub's `license` object: "recorded" keeps the recording's (LGPL-3.0); None is GitHub's null for a
    # repository without a detected license; or a real license object (e.g. fixture("repo.json")["license"])
    license: dict | str | None = "recorded"


def pull_request(
    repo: FakeRepo,
    number: int,
    *,
    merged_at: str | None,
    merge_commit_sha: str,
    base_ref: str | None = None,
    base_sha: str = "0" * 40,
    head_sha: str = "1" * 40,
    title: str | None = None,
    body: str | None = "",
    labels: tuple[str, ...] = (),
    author: str = "octocat",
) -> dict:
    """OpenAPI's pull-request-simple example with the fields that describe the test's repository replaced:
    number, urls, title, body, state, closed/merged_at, merge_commit_sha, base ref/sha, head sha, labels, user."""
    item = copy.deepcopy(_TEMPLATES["pull"])
    item["number"] = number
    item["id"] = repo.id * 100_000 + number
    item["url"] = f"https://api.github.com/repos/{repo.full_name}/pulls/{number}"
    item["html_url"] = f"https://github.com/{repo.full_name}/pull/{number}"
    item["title"] = title or f"Pull request {number}"
    item["body"] = body
    item["state"] = "closed"
    item["closed_at"] = merged_at or "2025-06-01T00:00:00Z"
    item["merged_at"] = merged_at
    item["merge_commit_sha"] = merge_commit_sha
    item["base"]["ref"] = base_ref or repo.default_branch
    item["base"]["sha"] = base_sha
    item["head"]["sha"] = head_sha
    item["user"]["login"] = author
    template_label = _TEMPLATES["pull"]["labels"][0]
    item["labels"] = [{**template_label, "name": label} for label in labels]
    return item


class _Templates(dict):
    def __missing__(self, key):
        loaders = {
            "pull": lambda: fixture("pulls_list.json")[0],
            "repo": lambda: recorded_body("repo_200_with_etag_2023.json"),
            "search": lambda: recorded_body("search_code_p1_of_2_2026.json"),
            "tree": lambda: recorded_body("git_tree_nonrecursive_2026.json"),
            "commit": lambda: fixture("commit.json"),
        }
        self[key] = loaders[key]()
        return self[key]


_TEMPLATES = _Templates()


class FakeGitHub:
    def __init__(self, clock: FakeClock | None = None, port: int = 0) -> None:
        self.clock = clock or FakeClock()
        self.repos: dict[str, FakeRepo] = {}
        self.routes: list[tuple[re.Pattern, Callable[[Request, re.Match], Reply]]] = []
        self.faults: list[tuple[re.Pattern, Fault]] = []
        self.requests: list[tuple[str, int]] = []  # (path?query, status)
        self.limits = {"core": 5000, "search": 30, "code_search": 10}
        self.used = {"core": 0, "search": 0, "code_search": 0}
        self.reset_at = {name: self.clock.now() + 3600 for name in self.limits}
        self.search_incomplete_pages = 0  # the next N search pages say incomplete_results: true
        # GitHub's documented rule that code search needs a term besides qualifiers (not enforced in 2016)
        self.search_requires_term = False
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._install_default_routes()

    # -- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> FakeGitHub:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        owner = self

        class Handler(_Handler):
            fake = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- set-up -----------------------------------------------------------------------------------
    def add_repo(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.full_name.lower()] = repo
        return repo

    def add_route(self, pattern: str, handler: Callable[[Request, re.Match], Reply]) -> None:
        self.routes.insert(0, (re.compile(pattern), handler))

    def inject(self, pattern: str, fault: Fault) -> None:
        self.faults.append((re.compile(pattern), fault))

    def clear_faults(self) -> None:
        self.faults.clear()

    def exhaust(self, resource: str, reset_in: float = 600) -> None:
        self.used[resource] = self.limits[resource]
        self.reset_at[resource] = self.clock.now() + reset_in

    def count(self, pattern: str = "", status: int | None = None) -> int:
        regex = re.compile(pattern)
        return sum(
            1 for path, code in self.requests if regex.search(path) and (status is None or code == status)
        )

    # -- answering --------------------------------------------------------------------------------
    def answer(self, request: Request) -> Reply | None:
        """None: drop the connection."""
        with self._lock:
            for index, (regex, fault) in enumerate(self.faults):
                if regex.search(request.raw_path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.pop(index)
                    if fault.kind == "drop":
                        self.requests.append((request.raw_path, 0))
                        return None
                    reply = copy.deepcopy(fault.reply)
                    self.requests.append((request.raw_path, reply.status))
                    return reply
        resource = _resource(request.path)
        with self._lock:
            if self.clock.now() >= self.reset_at[resource]:
                self.used[resource] = 0
                self.reset_at[resource] = self.clock.now() + 3600
            if self.used[resource] >= self.limits[resource]:
                reply = Reply(403, fixture("errors/primary_rate_limit_403.json")["body_authenticated_2018"])
                self._rate_headers(reply, resource)
                self.requests.append((request.raw_path, 403))
                return reply
        reply = self._route(request)
        etag = 'W/"' + hashlib.sha256(reply.encoded()).hexdigest() + '"'
        if reply.status == 200 and reply.body is not None:
            reply.headers.setdefault("ETag", etag)
            sent = request.headers.get("if-none-match", "")
            if sent and _strong(sent) == _strong(reply.headers["ETag"]):
                # GitHub's 304 echoes the ETag strong and has no body; it costs no quota
                reply = Reply(
                    304, None, {"ETag": _strong(etag), "Cache-Control": "private, max-age=60, s-maxage=60"}
                )
        with self._lock:
            if reply.status != 304:
                self.used[resource] += 1
            self._rate_headers(reply, resource)
            self.requests.append((request.raw_path, reply.status))
        return reply

    def _rate_headers(self, reply: Reply, resource: str) -> None:
        limit = self.limits[resource]
        reply.headers.setdefault("X-RateLimit-Limit", str(limit))
        reply.headers.setdefault("X-RateLimit-Remaining", str(max(0, limit - self.used[resource])))
        reply.headers.setdefault("X-RateLimit-Used", str(self.used[resource]))
        reply.headers.setdefault("X-RateLimit-Reset", str(int(self.reset_at[resource])))
        reply.headers.setdefault("X-RateLimit-Resource", resource)
        reply.headers.setdefault("x-github-api-version-selected", "2022-11-28")

    def _route(self, request: Request) -> Reply:
        path = request.path
        by_id = re.match(r"^/repositories/(\d+)(/.*)?$", path)
        if by_id:  # GitHub's Link URLs switch to this form; answer it as the named route
            repo = next((r for r in self.repos.values() if r.id == int(by_id.group(1))), None)
            if repo is None:
                return error_reply("not_found")
            path = f"/repos/{repo.full_name}{by_id.group(2) or ''}"
            request = Request(path, request.query, request.headers, request.raw_path)
        for regex, handler in self.routes:
            match = regex.match(path)
            if match:
                return handler(request, match)
        return error_reply("not_found")

    def _install_default_routes(self) -> None:
        self.add_route(r"^/rate_limit$", lambda r, m: json_reply(fixture("rate_limit.json")))
        self.add_route(r"^/search/code$", self._search_code)
        self.add_route(r"^/repos/([^/]+/[^/]+)$", self._repo)
        self.add_route(r"^/repos/([^/]+/[^/]+)/git/trees/([^/]+)$", self._tree)
        self.add_route(r"^/repos/([^/]+/[^/]+)/contents/(.+)$", self._contents)
        self.add_route(r"^/repos/([^/]+/[^/]+)/pulls$", self._pulls)
        self.add_route(r"^/repos/([^/]+/[^/]+)/commits/([0-9a-f]+)$", self._commit)

    def repo_for(self, name: str) -> FakeRepo | None:
        return self.repos.get(name.lower())

    def _repo_or_error(self, name: str, git_route: bool) -> tuple[FakeRepo | None, Reply | None]:
        repo = self.repo_for(name)
        if repo is None:
            return None, error_reply("not_found")
        if repo.status in ("not_found", "blocked"):
            return None, error_reply(repo.status)
        if repo.status == "empty" and git_route:
            return None, error_reply("empty")
        return repo, None

    def _repo(self, request: Request, match: re.Match) -> Reply:
        repo, error = self._repo_or_error(match.group(1), git_route=False)
        if error:
            return error
        return json_reply(self.repo_body(repo))

    def repo_body(self, repo: FakeRepo) -> dict:
        """The metadata body served for repo: the 2023 recording with the fields describing the test's
        repository replaced (names, urls, fork/parent, archived, disabled, stars, branch, pushed_at, license)."""
        body = copy.deepcopy(_TEMPLATES["repo"])
        owner, name = repo.full_name.split("/")
        body.update(
            id=repo.id,
            name=name,
            full_name=repo.full_name,
            html_url=f"https://github.com/{repo.full_name}",
            url=f"https://api.github.com/repos/{repo.full_name}",
            clone_url=repo.clone_url or f"https://github.com/{repo.full_name}.git",
            fork=repo.fork,
            archived=repo.archived,
            disabled=repo.disabled,
            stargazers_count=repo.stars,
            watchers_count=repo.stars,
            watchers=repo.stars,
            default_branch=repo.default_branch,
            pushed_at=repo.pushed_at,
        )
        body["owner"] = {**body["owner"], "login": owner}
        if repo.parent:
            parent = self.repo_for(repo.parent)
            body["parent"] = {**body["parent"], "full_name": repo.parent, "id": parent.id if parent else 1}
            body["source"] = body["parent"]
        else:
            body.pop("parent", None)
            body.pop("source", None)
        if repo.license != "recorded":
            body["license"] = copy.deepcopy(repo.license)
        return body

    def _tree(self, request: Request, match: re.Match) -> Reply:
        repo, error = self._repo_or_error(match.group(1), git_route=True)
        if error:
            return error
        ref = match.group(2)
        folder = "" if ref in (repo.default_branch, _tree_sha(repo, "")) else self._folder_of(repo, ref)
        if folder is None:
            return error_reply("not_found")
        recursive = "recursive" in request.query
        entries = _tree_entries(repo, folder, recursive)
        # The 2026 recording's shape; sha/url/tree/truncated describe the test's repository.
        body = copy.deepcopy(_TEMPLATES["tree"])
        blob_template = next(e for e in body["tree"] if e["type"] == "blob")
        tree_template = next(e for e in body["tree"] if e["type"] == "tree")
        body["sha"] = _tree_sha(repo, folder)
        body["url"] = f"https://api.github.com/repos/{repo.full_name}/git/trees/{body['sha']}"
        body["tree"] = [
            {**(blob_template if kind == "blob" else tree_template), "path": path, "sha": sha}
            | ({"size": size} if kind == "blob" else {})
            for path, kind, sha, size in entries
        ]
        for entry in body["tree"]:
            entry["url"] = (
                f"https://api.github.com/repos/{repo.full_name}/git/{entry['type']}s/{entry['sha']}"
            )
        body["truncated"] = bool(recursive and repo.truncated_tree)
        if body["truncated"]:
            body["tree"] = body["tree"][: max(1, len(body["tree"]) // 3)]
        return json_reply(body)

    @staticmethod
    def _folder_of(repo: FakeRepo, sha: str) -> str | None:
        for path in repo.files:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if _tree_sha(repo, folder) == sha:
                    return folder
        return None

    def _contents(self, request: Request, match: re.Match) -> Reply:
        repo, error = self._repo_or_error(match.group(1), git_route=True)
        if error:
            return error
        text = repo.files.get(match.group(2))
        if text is None:
            return error_reply("not_found")
        # Asked as application/vnd.github.raw+json, GitHub answers the file's bytes themselves.
        return Reply(200, text.encode(), {"Content-Type": "application/vnd.github.raw; charset=utf-8"})

    def _search_code(self, request: Request, match: re.Match) -> Reply:
        if not request.authenticated:
            return json_reply(
                {
                    "message": "Requires authentication",
                    "documentation_url": "https://docs.github.com/rest/search/search#search-code",
                },
                401,
            )
        query = request.query.get("q", "")
        if self.search_requires_term and not re.sub(r"\b\w+:\S+", "", query).strip():
            return Reply(422, fixture("errors/search_422_validation_failed_q.json")["body"])
        filename = re.search(r"filename:(\S+)", query)
        size = re.search(r"size:(\d+)\.\.(\d+)", query)
        hits = []
        for repo in sorted(self.repos.values(), key=lambda r: r.id):
            for path in sorted(repo.files):
                if filename and path.rsplit("/", 1)[-1] != filename.group(1):
                    continue
                file_size = repo.file_sizes.get(path, len(repo.files[path]))
                if size and not int(size.group(1)) <= file_size <= int(size.group(2)):
                    continue
                hits.append((repo, path))
        per_page = min(100, int(request.query.get("per_page", 30)))
        page = int(request.query.get("page", 1))
        if page * per_page > 1000:
            return error_reply("search_cap")
        # The 2026 recording: total_count/incomplete_results/items describe the test's repositories.
        body = copy.deepcopy(_TEMPLATES["search"])
        template = body["items"][0]
        items = []
        for repo, path in hits[(page - 1) * per_page : page * per_page]:
            owner, name = repo.full_name.split("/")
            item = copy.deepcopy(template)
            item.update(name=path.rsplit("/", 1)[-1], path=path)
            item["repository"].update(id=repo.id, name=name, full_name=repo.full_name, fork=repo.fork)
            item["repository"]["owner"] = {**item["repository"]["owner"], "login": owner}
            items.append(item)
        body["items"] = items
        body["total_count"] = len(hits)
        with self._lock:
            body["incomplete_results"] = self.search_incomplete_pages > 0
            self.search_incomplete_pages = max(0, self.search_incomplete_pages - 1)
        last = max(1, -(-min(len(hits), 1000) // per_page))
        return json_reply(body, headers=_links(self.url, "/search/code", request.query, page, last))

    def paginated(self, request: Request, items: list, link_path: str | None = None) -> Reply:
        """One page of a list endpoint (``per_page`` at most 100, ``page``), with GitHub's Link header;
        ``link_path`` is the path the Link URLs use (GitHub's switch to /repositories/{id}/...)."""
        per_page = min(100, int(request.query.get("per_page", 30)))
        page = int(request.query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        page_items = items[(page - 1) * per_page : page * per_page]
        return json_reply(
            page_items, headers=_links(self.url, link_path or request.path, request.query, page, last)
        )

    def _pulls(self, request: Request, match: re.Match) -> Reply:
        repo, error = self._repo_or_error(match.group(1), git_route=False)
        if error:
            return error
        state = request.query.get("state", "open")
        pulls = [p for p in repo.pulls if state == "all" or p["state"] == state]
        return self.paginated(request, pulls, f"/repositories/{repo.id}/pulls")

    def _commit(self, request: Request, match: re.Match) -> Reply:
        repo, error = self._repo_or_error(match.group(1), git_route=True)
        if error:
            return error
        files = repo.commits.get(match.group(2))
        if files is None:
            return Reply(422, fixture("errors/commit_422_no_commit_for_sha.json")["body"])
        # OpenAPI's commit example; sha and files describe the test's commit.
        body = copy.deepcopy(_TEMPLATES["commit"])
        body["sha"] = match.group(2)
        file_template = body["files"][0]
        body["files"] = [{**file_template, **f, "changes": f["additions"] + f["deletions"]} for f in files]
        return json_reply(body)


def _strong(etag: str) -> str:
    return etag.strip().removeprefix("W/")


def _resource(path: str) -> str:
    if path.startswith("/search/code"):
        return "code_search"
    if path.startswith("/search/"):
        return "search"
    return "core"


def _links(base: str, path: str, query: dict[str, str], page: int, last: int) -> dict[str, str]:
    """GitHub's Link header: next/last (and prev/first past page 1); omitted for a single page."""
    if last <= 1:
        return {}

    def url(number: int) -> str:
        return f"{base}{path}?" + urlencode(
            {**{k: v for k, v in query.items() if k != "page"}, "page": number}
        )

    rels = []
    if page > 1:
        rels += [f'<{url(page - 1)}>; rel="prev"']
    if page < last:
        rels += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        rels += [f'<{url(1)}>; rel="first"']
    return {"Link": ", ".join(rels)}


def _tree_sha(repo: FakeRepo, folder: str) -> str:
    return hashlib.sha1(f"{repo.full_name}:{folder}".encode()).hexdigest()


def _tree_entries(repo: FakeRepo, folder: str, recursive: bool) -> list[tuple[str, str, str, int]]:
    prefix = folder + "/" if folder else ""
    entries: dict[str, tuple[str, str, str, int]] = {}
    for path, text in sorted(repo.files.items()):
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :].split("/")
        for depth in range(1, len(rest)):
            sub = "/".join(rest[:depth])
            if recursive or depth == 1:
                entries.setdefault(sub, (sub, "tree", _tree_sha(repo, prefix + sub), 0))
        if recursive or len(rest) == 1:
            blob = hashlib.sha1(text.encode()).hexdigest()
            entries["/".join(rest)] = ("/".join(rest), "blob", blob, len(text.encode()))
    return sorted(entries.values())


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body leave in two writes: without this, Nagle + delayed ACK add 40 ms to each answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        request = Request(parts.path, query, {k.lower(): v for k, v in self.headers.items()}, self.path)
        reply = self.fake.answer(request)
        if reply is None:
            # RST instead of FIN: the client sees a dropped connection, not an empty answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        body = reply.encoded()
        self.send_response(reply.status)
        if reply.body is not None and "Content-Type" not in reply.headers:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
