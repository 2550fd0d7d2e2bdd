"""The GitHub stage's plain-Python pieces against the fake GitHub: sharded search past 1,000 hits,
incomplete results, the token rule, a crash half-way through the pull requests and the resume, facts
on the pull-request listing, changed files from a clone (and from the API when there is no clone)."""

from __future__ import annotations

import subprocess

import pytest

from ingest.github.client import GitHubClient, GitHubError
from ingest.github.clones import changed_files, clone_path, collect_changed_files, ensure_clone
from ingest.github.discovery import DiscoveryReport, discover, search_asv_configs
from ingest.github.pulls import collect_pull_requests, merged_pull_requests
from ingest.sources import GitHubSettings, SourcesError, load_sources
from tests.support.github_server import FakeClock, FakeGitHub, FakeRepo, dropped, pull_request
from tests.support.github_support import PROJECT, build_world
from tests.support.warehouse import connect_writer

TOKEN = "ghp_COLLECTtoken00000000000000000000000000"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def con(tmp_path):
    with connect_writer(tmp_path / "w.duckdb") as connection:
        yield connection


def test_search_is_sharded_by_size_past_the_1000_hit_cap(clock, con):
    server = FakeGitHub(clock)
    # 1,500 configs of sizes 0..2999: one query would be capped at 1,000
    files = {f"d{i}/asv.conf.json": "{}" for i in range(1500)}
    repo = server.add_repo(FakeRepo("many/configs", id=5, files=files))
    repo.file_sizes = {path: (i * 2) % 3000 for i, path in enumerate(sorted(files))}
    server.search_incomplete_pages = 2  # the first two pages say incomplete_results: true
    with server, GitHubClient(server.url, TOKEN, clock=clock) as client:
        report = DiscoveryReport()
        hits = search_asv_configs(client, con, report, lambda message: None)
    assert len(set(hits)) == 1500
    assert server.count(r"^/search/code", status=422) == 0
    assert report.search_shards >= 2
    assert client.stats.primary_waits >= 1  # code search allows 10 a minute: the client waited, not failed
    assert server.count(r"^/search/code", status=403) == 0
    first_query = [path for path, _ in server.requests if path.startswith("/search/code")][:3]
    assert first_query[0] == first_query[1] == first_query[2]  # asked again while incomplete


def test_discovery_without_a_token_says_how_to_give_one(clock, con):
    server = FakeGitHub(clock)
    server.add_repo(FakeRepo("org/proj", id=6, files={"asv.conf.json": '{"repo": "."}'}))
    with server, GitHubClient(server.url, None, clock=clock) as client:
        with pytest.raises(GitHubError, match="GH_TOKEN"):
            discover(client, con, GitHubSettings(discover=True), lambda m: None)
        assert server.count("") == 0
        # explicit repositories need no search, and work unauthenticated
        report = discover(client, con, GitHubSettings(repos=("org/proj",)), lambda m: None)
    assert report.configs_found == 1


def test_a_query_github_refuses_is_said_plainly_and_a_configured_one_is_sent(clock, con):
    server = FakeGitHub(clock)
    server.search_requires_term = True  # GitHub's documented rule: at least one term besides qualifiers
    server.add_repo(FakeRepo("org/proj", id=8, files={"asv.conf.json": '{"repo": "."}'}))
    server.add_repo(FakeRepo("org/listed", id=9, files={"asv.conf.json": '{"repo": "."}'}))
    said: list[str] = []
    with server, GitHubClient(server.url, TOKEN, clock=clock) as client:
        report = discover(client, con, GitHubSettings(discover=True, repos=("org/listed",)), said.append)
        assert report.search_rejected == "Validation Failed"
        assert server.count(r"^/search/code", status=422) == 1  # refused once, not once per shard
        assert any("search_query" in line and "refused" in line for line in said)
        assert "refused the query" in report.summary()
        assert report.candidates == 1 and report.configs_found == 1  # the listed repository still goes on

        settings = GitHubSettings(discover=True, search_query="asv filename:asv.conf.json")
        report = discover(client, con, settings, said.append)
    assert report.search_rejected is None
    assert report.search_hits == 2 and report.candidates == 2  # both configs found by the search
    queries = [path for path, status in server.requests if path.startswith("/search/code") and status == 200]
    assert queries and all("q=asv+filename%3Aasv.conf.json+size%3A" in path for path in queries)


def test_search_query_in_the_sources_file(tmp_path):
    file = tmp_path / "sources.yml"
    file.write_text("github:\n  discover: true\n  search_query: asv filename:asv.conf.json\n")
    assert load_sources(file).github.search_query == "asv filename:asv.conf.json"
    file.write_text("github:\n  discover: true\n")
    assert load_sources(file).github.search_query == "filename:asv.conf.json"
    file.write_text("github:\n  discover: true\n  search_query: filename:asv.conf.json size:0..10\n")
    with pytest.raises(SourcesError, match=r"sources.yml: line 3: .search_query. must not name size:"):
        load_sources(file)


def test_a_crash_half_way_resumes_without_asking_for_stored_pages(clock, con):
    server = FakeGitHub(clock)
    repo = server.add_repo(FakeRepo("org/proj", id=7))
    repo.pulls = [
        pull_request(repo, n, merged_at="2025-01-01T00:00:00Z", merge_commit_sha=f"{n:040x}")
        for n in range(1, 351)
    ]
    with server, GitHubClient(server.url, TOKEN, clock=clock, max_attempts=3) as client:
        server.inject(r"page=3", dropped(times=None))  # the connection dies from page 3 on
        with pytest.raises(GitHubError):
            collect_pull_requests(client, con, "org/proj", 5000)
        stored = con.execute("select count(*) from raw.github_pull_pages").fetchone()[0]
        assert stored == 2
        server.clear_faults()
        before = list(server.requests)
        report = collect_pull_requests(client, con, "org/proj", 5000)
        resumed = server.requests[len(before) :]
        assert report.resumed_at_page == 3
        assert [p.rsplit("&", 1)[-1] for p, _ in resumed] == ["page=3", "page=4"]  # not pages 1 and 2 again
        assert len(merged_pull_requests(con, "org/proj", "main")) == 350
        # a finished collection is redone conditionally: every page 304, nothing stored
        again = collect_pull_requests(client, con, "org/proj", 5000)
    assert (again.pages_not_modified, again.pages_fetched) == (4, 0)
    assert con.execute("select count(*) from raw.github_pull_pages").fetchone()[0] == 4


def test_max_pull_requests_stops_the_listing(clock, con):
    server = FakeGitHub(clock)
    repo = server.add_repo(FakeRepo("org/proj", id=8))
    repo.pulls = [pull_request(repo, n, merged_at=None, merge_commit_sha="a" * 40) for n in range(1, 251)]
    with server, GitHubClient(server.url, TOKEN, clock=clock) as client:
        report = collect_pull_requests(client, con, "org/proj", 150)
    assert report.pages_fetched == 2 and "max_pull_requests" in report.outcome


def test_a_blocked_repository_is_a_recorded_fact_not_a_failure(clock, con):
    server = FakeGitHub(clock)
    server.add_repo(FakeRepo("legal/blocked", id=9, status="blocked"))
    with server, GitHubClient(server.url, TOKEN, clock=clock) as client:
        report = collect_pull_requests(client, con, "legal/blocked", 5000)
    assert report.outcome == "blocked"
    assert con.execute("select fact, http_status from raw.github_repo_facts").fetchall() == [("blocked", 451)]
    assert server.count("") == 1


def test_changed_files_agree_with_git_show_and_the_root_commit_uses_the_empty_tree(tmp_path):
    world = build_world(tmp_path)
    clone = ensure_clone(world.repo_path.as_uri(), clone_path(tmp_path / "clones", PROJECT))
    assert (clone / "HEAD").exists() and not (clone / "objects" / "info" / "alternates").exists()
    for commit in world.commits:
        shown = subprocess.run(
            ["git", "-C", str(world.repo_path), "show", "--numstat", "--format=", commit["commit"]],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        expected = sorted(
            (name, int(a), int(d)) for a, d, name in (line.split("\t") for line in shown.splitlines() if line)
        )
        assert sorted(changed_files(clone, commit["commit"])) == expected
    assert ensure_clone(world.repo_path.as_uri(), clone) == clone  # a second call fetches into it


def test_binary_files_have_no_line_counts(tmp_path):
    repo = tmp_path / "bin"
    run = lambda *args: subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)  # noqa: E731
    repo.mkdir()
    run("init", "-q", "-b", "main")
    (repo / "logo.png").write_bytes(bytes(range(256)) * 4)
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "binary")
    sha = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert changed_files(ensure_clone(repo.as_uri(), tmp_path / "c.git"), sha) == [("logo.png", None, None)]


def test_the_commit_api_stands_in_only_when_there_is_no_clone(tmp_path, clock, con):
    server = FakeGitHub(clock)
    repo = server.add_repo(FakeRepo("org/proj", id=10))
    repo.commits = {"a" * 40: [{"filename": "pkg/core.py", "additions": 3, "deletions": 1}]}
    with server, GitHubClient(server.url, TOKEN, clock=clock) as client:
        report = collect_changed_files(
            con, "org/proj", (tmp_path / "nowhere").as_uri(), tmp_path / "c.git", ["a" * 40, "b" * 40], client
        )
    assert report.method == "api" and report.clone_error
    assert con.execute("select path, additions, deletions from raw.github_commit_files").fetchall() == [
        ("pkg/core.py", 3, 1)
    ]
    methods = dict(con.execute("select commit_sha, method from raw.github_commit_diffs").fetchall())
    assert methods == {"a" * 40: "api", "b" * 40: "missing"}


@pytest.mark.parametrize(
    "section, message",
    [
        ("github:\n  discover: maybe\n", "line 2: 'discover' must be true or false"),
        ("github:\n  repos: [not-a-repo]\n", "line 2: repository 'not-a-repo' must be written as owner/name"),
        ("github:\n  repos: [a/b]\n  min_stars: -1\n", "line 3: 'min_stars' must be a whole number"),
        ("github:\n  repos: [a/b]\n  token: x\n", "line 3: unknown key 'token'"),
        ("github:\n  min_stars: 3\n", "line 2: 'github' needs 'discover: true' or a list of 'repos'"),
        ("github:\n  repos: [a/b, A/B]\n", "listed twice"),
    ],
)
def test_sources_mistakes_name_the_line(tmp_path, section, message):
    file = tmp_path / "sources.yml"
    file.write_text(section)
    with pytest.raises(SourcesError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_sources(file)


def test_sources_section_and_its_dbt_vars(tmp_path):
    file = tmp_path / "sources.yml"
    file.write_text("github:\n  discover: yes\n  repos: [django/django-asv]\n  min_stars: 5\n  top_n: 20\n")
    settings = load_sources(file).github
    assert (settings.discover, settings.repos, settings.max_repos, settings.max_pull_requests) == (
        True, ("django/django-asv",), 20, 5000,
    )  # fmt: skip
    assert settings.api_url == "https://api.github.com"
    assert load_sources(file).dbt_vars()["github_min_stars"] == 5
