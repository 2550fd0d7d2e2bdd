"""The sources file's `github:` section: which repositories the GitHub stage looks at, and how far it goes.

github:
  discover: true                 # code search for asv.conf.json (needs a token); default false
  repos: [django/django-asv, pandas-dev/pandas]   # added without search (works without a token)
  min_stars: 10                  # repositories below are dropped (reason 'below min stars'); default 0
  max_repos: 350                 # the top N benchmarked projects by stars go on (alias: top_n)
  max_pull_requests: 5000        # closed pull requests listed per repository (100 per page)
  api_url: https://api.github.com   # GitHub Enterprise or a local fake server
  search_query: filename:asv.conf.json   # the code search (sharded by size: on top); default shown
  clones_dir: ../clones          # default: <warehouse folder>/clones
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ingest.github import DEFAULT_API_URL
from ingest.identifiers import repo_problem
from ingest.sources import entries_of, fail_at, mapping_of, resolve_local, scalar_of

DEFAULT_TOP_N = 350
DEFAULT_MAX_PULL_REQUESTS = 5000
DEFAULT_SEARCH_QUERY = "filename:asv.conf.json"
KEYS = {
    "discover", "repos", "min_stars", "max_repos", "top_n", "max_pull_requests", "api_url", "clones_dir",
    "search_query",
}  # fmt: skip


@dataclass(frozen=True)
class GitHubSettings:
    discover: bool = False
    repos: tuple[str, ...] = ()
    min_stars: int = 0
    top_n: int = DEFAULT_TOP_N
    max_pull_requests: int = DEFAULT_MAX_PULL_REQUESTS
    api_url: str = DEFAULT_API_URL
    clones_dir: Path | None = None
    # GitHub documents that code search needs "at least one search term"; qualifier-only queries have been
    # accepted in practice, and if that stops, a term can be added here without a code change.
    search_query: str = DEFAULT_SEARCH_QUERY

    @property
    def max_repos(self) -> int:
        return self.top_n

    def dbt_vars(self) -> dict:
        return {"github_min_stars": self.min_stars, "github_top_n": self.top_n}


def parse_github_section(file: Path, node: yaml.Node, seen: dict[str, int]) -> GitHubSettings:
    fields = mapping_of(file, node, "'github'")
    for key, value in fields.items():
        if key not in KEYS:
            raise fail_at(file, value, f"unknown key {key!r} in 'github'; allowed: {', '.join(sorted(KEYS))}")
    if "max_repos" in fields and "top_n" in fields:
        raise fail_at(
            file, fields["top_n"], "'github' has both 'max_repos' and 'top_n'; they are the same setting"
        )

    def whole(key: str, default: int, minimum: int = 0) -> int:
        if key not in fields:
            return default
        text = scalar_of(file, fields[key], f"'{key}'")
        if not text.isdigit() or int(text) < minimum:
            raise fail_at(file, fields[key], f"'{key}' must be a whole number of at least {minimum}")
        return int(text)

    discover = False
    if "discover" in fields:
        text = scalar_of(file, fields["discover"], "'discover'").lower()
        if text not in ("true", "false", "yes", "no", "on", "off"):
            raise fail_at(file, fields["discover"], "'discover' must be true or false")
        discover = text in ("true", "yes", "on")

    repos: list[str] = []
    for entry in entries_of(file, fields.get("repos"), "github.repos"):
        repo = scalar_of(file, entry, "a repository in 'github.repos'")
        problem = repo_problem(repo)
        if problem:
            raise fail_at(file, entry, problem)
        if repo.lower() in (r.lower() for r in repos):
            raise fail_at(file, entry, f"repository {repo!r} is listed twice")
        repos.append(repo)

    api_url = DEFAULT_API_URL
    if "api_url" in fields:
        api_url = scalar_of(file, fields["api_url"], "'api_url'").rstrip("/")
        if not api_url.lower().startswith(("http://", "https://")):
            raise fail_at(file, fields["api_url"], "'api_url' must be an http(s) URL")

    clones_dir = None
    if "clones_dir" in fields:
        clones_dir = resolve_local(file, scalar_of(file, fields["clones_dir"], "'clones_dir'"))

    search_query = DEFAULT_SEARCH_QUERY
    if "search_query" in fields:
        search_query = scalar_of(file, fields["search_query"], "'search_query'").strip()
        if "size:" in search_query:
            raise fail_at(
                file, fields["search_query"], "'search_query' must not name size: (discovery shards by size)"
            )
        if not search_query:
            raise fail_at(file, fields["search_query"], "'search_query' must not be empty")

    if not discover and not repos:
        raise fail_at(file, node, "'github' needs 'discover: true' or a list of 'repos' (or both)")
    return GitHubSettings(
        discover=discover,
        repos=tuple(repos),
        min_stars=whole("min_stars", 0),
        top_n=whole("max_repos", whole("top_n", DEFAULT_TOP_N, 1), 1),
        max_pull_requests=whole("max_pull_requests", DEFAULT_MAX_PULL_REQUESTS, 1),
        api_url=api_url,
        clones_dir=clones_dir,
        search_query=search_query,
    )
