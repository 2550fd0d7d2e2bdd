"""Discovery: which GitHub repositories benchmark themselves with asv, and what each one benchmarks.

1. Code search for ``filename:asv.conf.json`` (needs a token). GitHub answers at most 1,000 hits per query,
   so the search is sharded by ``size:lo..hi`` and a shard reporting more than 1,000 hits is split in two
   until each fits. A page flagged ``incomplete_results`` is asked again (a few times) before it is kept.
2. The sources file's ``repos:`` are added without search (so this works unauthenticated too).
3. For each repository: its metadata (fork and parent, archived, disabled, stars, default branch, pushed_at),
   the asv.conf.json files up to two directories deep from the git trees API (a truncated recursive tree is
   walked folder by folder instead), and each config's text, whose ``repo`` field names the project actually
   benchmarked. Answers that are facts (404, 409 empty, 451 blocked, ...) are recorded and the run goes on.
Every request that has an earlier body sends its ETag, so a re-run costs 304s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import duckdb

from ingest.asvconf import config_as_json as _config_as_json
from ingest.github.client import GitHubClient, GitHubError, GitHubResponse
from ingest.github.store import (
    add_candidates,
    record_fact,
    store_discovery_response,
    stored_content,
    stored_page,
)
from ingest.identifiers import is_repo
from ingest.sources import DEFAULT_SEARCH_QUERY, GitHubSettings

MAX_SEARCH_HITS = 1000
MAX_FILE_SIZE = 384 * 1024  # code search indexes only files smaller than 384 KB
CONFIG_NAME = "asv.conf.json"
MAX_CONFIG_DEPTH = 2  # folders above asv.conf.json
INCOMPLETE_RETRIES = 3
RAW = "application/vnd.github.raw+json"


@dataclass
class DiscoveryReport:
    search_hits: int = 0
    search_shards: int = 0
    candidates: int = 0
    repos_inspected: int = 0
    configs_found: int = 0
    facts: dict[str, int] = field(default_factory=dict)
    rows_added: int = 0
    search_rejected: str | None = None  # GitHub's reason when it refused the query itself

    def summary(self) -> str:
        facts = ", ".join(f"{n} {fact}" for fact, n in sorted(self.facts.items())) or "none"
        return (
            f"{self.candidates} candidate repositories ({self.search_hits} search hits in {self.search_shards} "
            f"shards), {self.repos_inspected} inspected, {self.configs_found} asv configs; facts: {facts}"
            + (f"; code search refused the query: {self.search_rejected}" if self.search_rejected else "")
        )


def discover(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    settings: GitHubSettings,
    progress: Callable[[str], None] = lambda message: None,
) -> DiscoveryReport:
    report = DiscoveryReport()
    found: list[tuple[str, str, str | None]] = []
    if settings.discover:
        if not client.authenticated:
            raise GitHubError(
                "GitHub code search needs a token: set GH_TOKEN or GITHUB_TOKEN, or put GH_TOKEN=... in "
                "tokens.env (or turn 'discover' off and list 'repos:' in the sources file)"
            )
        for repo_name, path in search_asv_configs(client, con, report, progress, settings.search_query):
            found.append((repo_name, "search", path))
    found += [(repo, "sources", None) for repo in settings.repos]
    add_candidates(con, found)
    by_lower: dict[str, str] = {}
    for name, _, _ in found:
        by_lower.setdefault(name.lower(), name)
    names = list(by_lower.values())
    report.candidates = len(names)
    projects: dict[str, str] = {}  # benchmarked project (lower) -> as written, when not the repo itself
    for index, name in enumerate(names, 1):
        for project in inspect_repository(client, con, name, report):
            if project.lower() not in by_lower:
                projects.setdefault(project.lower(), project)
        if index % 25 == 0:
            progress(f"github discovery: {index}/{len(names)} repositories inspected")
    # The projects the configs benchmark: their metadata (default branch, stars, clone URL) too.
    add_candidates(con, [(project, "asv_config", None) for project in projects.values()])
    for project in projects.values():
        inspect_repository(client, con, project, report, metadata_only=True)
    return report


# -- code search ---------------------------------------------------------------------------------
def search_asv_configs(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    report: DiscoveryReport,
    progress,
    search_query: str = DEFAULT_SEARCH_QUERY,
) -> list[tuple[str, str]]:
    hits: list[tuple[str, str]] = []
    shards = [(0, MAX_FILE_SIZE)]
    while shards:
        low, high = shards.pop()
        query = f"{search_query} size:{low}..{high}"
        url = client.url("/search/code") + "?" + urlencode({"q": query, "per_page": 100})
        first = _search_page(client, con, url, report, first_page=True)
        if first is None:
            if report.search_rejected:  # the same query would be refused for every other shard too
                progress(
                    f"github search: GitHub refused the query {query!r} ({report.search_rejected}); "
                    "discovery goes on with the sources file's repos only. Set 'search_query' in the "
                    "'github' section to a query GitHub accepts (for example 'asv filename:asv.conf.json')"
                )
                break
            continue
        total = first.json().get("total_count", 0)
        if total > MAX_SEARCH_HITS and high > low:
            middle = (low + high) // 2
            shards += [(middle + 1, high), (low, middle)]
            continue
        if total > MAX_SEARCH_HITS:
            progress(
                f"github search: {total} hits of size {low} exceed 1,000; only the first 1,000 are listed"
            )
        report.search_shards += 1
        page: GitHubResponse | None = first
        while page is not None:
            items = page.json().get("items", [])
            hits += [(item["repository"]["full_name"], item["path"]) for item in items]
            next_url = page.next_url
            page = _search_page(client, con, next_url, report) if next_url else None
        progress(f"github search: size {low}..{high}: {total} hits")
    report.search_hits = len(hits)
    return hits


def _search_page(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    url: str,
    report: DiscoveryReport,
    first_page: bool = False,
) -> GitHubResponse | None:
    for attempt in range(INCOMPLETE_RETRIES + 1):
        response = client.get(url)
        if not response.ok:
            report.facts[response.fact] = report.facts.get(response.fact, 0) + 1
            record_fact(con, "(search)", "search_code", url, response.status, response.fact, response.message)
            if response.status == 422 and first_page:  # on a first page: the query itself, not the 1,000 cap
                report.search_rejected = response.message or "422"
            return None
        body = response.json()
        if not body.get("incomplete_results") or attempt == INCOMPLETE_RETRIES:
            break
        client.clock.sleep(2.0 * (attempt + 1))  # GitHub timed out collecting the hits: ask again shortly
    report.rows_added += store_discovery_response(
        con, "search_code", None, url, response.status, None, response.next_url, response.body
    )
    return response


# -- one repository ------------------------------------------------------------------------------
def _get_json(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    report: DiscoveryReport,
    kind: str,
    repo_name: str,
    url: str,
    accept: str | None = None,
    path: str | None = None,
):
    """A conditional GET whose body is stored; the JSON (or raw text for asv_config), or None for a fact."""
    url = client.url(url)
    stored = stored_page(con, "github_discovery_responses", url)
    response = client.get(url, etag=stored[0] if stored else None, accept=accept)
    if response.not_modified and stored:
        record_fact(con, repo_name, kind, url, response.status, "ok")
        text = stored_content(con, "github_discovery_responses", url)
        return text if kind == "asv_config" else json.loads(text)
    if not response.ok:
        report.facts[response.fact] = report.facts.get(response.fact, 0) + 1
        record_fact(con, repo_name, kind, url, response.status, response.fact, response.message)
        return None
    record_fact(con, repo_name, kind, url, response.status, "ok")
    if kind == "asv_config":
        content, problem = _config_as_json(response.body.decode("utf-8", "replace"))
        if problem:
            record_fact(con, repo_name, kind, url, response.status, "bad_asv_config", problem)
            return None
        report.rows_added += store_discovery_response(
            con, kind, repo_name, url, response.status, response.etag, None, response.body, content, path
        )
        return content
    report.rows_added += store_discovery_response(
        con, kind, repo_name, url, response.status, response.etag, response.next_url, response.body
    )
    return response.json()


def inspect_repository(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    repo_name: str,
    report: DiscoveryReport,
    metadata_only: bool = False,
) -> list[str]:
    """Metadata, asv configs; returns the other GitHub projects the configs benchmark."""
    report.repos_inspected += 1
    meta = _get_json(client, con, report, "repo", repo_name, f"/repos/{repo_name}")
    if metadata_only or not isinstance(meta, dict):
        return []
    if meta.get("fork") or meta.get("archived") or meta.get("disabled"):
        return []  # dropped whatever its config says: no quota spent on its tree
    full_name = meta.get("full_name") or repo_name
    branch = meta.get("default_branch") or "main"
    projects = []
    for path in config_paths(client, con, report, full_name, branch):
        url = f"/repos/{full_name}/contents/{quote(path)}?" + urlencode({"ref": branch})
        content = _get_json(client, con, report, "asv_config", full_name, url, accept=RAW, path=path)
        if content is not None:
            report.configs_found += 1
            project = benchmarked_project(json.loads(content).get("repo"))
            if project and project.lower() != full_name.lower():
                projects.append(project)
    return projects


# owner/name from the URL forms asv.conf.json's `repo` takes (https, ssh, git@, with or without .git)
_GITHUB_REPO_URL = re.compile(r"github\.com[:/]+([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/*$")


def benchmarked_project(repo_field) -> str | None:
    """The GitHub project an asv config's `repo` names; None when relative ('.', '..') or not GitHub."""
    if not isinstance(repo_field, str):
        return None
    match = _GITHUB_REPO_URL.search(repo_field.strip())
    project = f"{match.group(1)}/{match.group(2)}" if match else None
    return project if is_repo(project) else None  # not '../..' or '-x/y' (ingest.identifiers)


def config_paths(
    client: GitHubClient, con: duckdb.DuckDBPyConnection, report: DiscoveryReport, full_name: str, branch: str
) -> list[str]:
    """Every asv.conf.json at most two folders deep on the default branch."""
    tree = _get_json(
        client, con, report, "tree", full_name, f"/repos/{full_name}/git/trees/{quote(branch)}?recursive=1"
    )
    if not isinstance(tree, dict):
        return []
    if not tree.get("truncated"):
        return sorted(
            e["path"] for e in tree.get("tree", []) if e.get("type") == "blob" and _is_config(e["path"])
        )
    # Too big for one answer: walk the folders ourselves, no deeper than a config may sit.
    found: list[str] = []
    folders = [("", quote(branch))]
    while folders:
        prefix, sha = folders.pop()
        listing = _get_json(client, con, report, "tree", full_name, f"/repos/{full_name}/git/trees/{sha}")
        for entry in listing.get("tree", []) if isinstance(listing, dict) else []:
            path = prefix + entry["path"]
            if entry.get("type") == "blob" and _is_config(path):
                found.append(path)
            elif entry.get("type") == "tree" and path.count("/") < MAX_CONFIG_DEPTH:
                folders.append((path + "/", entry["sha"]))
    return sorted(found)


def _is_config(path: str) -> bool:
    parts = path.split("/")
    return parts[-1] == CONFIG_NAME and len(parts) - 1 <= MAX_CONFIG_DEPTH
