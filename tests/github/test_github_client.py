"""The GitHub client against the fake GitHub (real bodies): pagination, limits, retries, facts, the token."""

from __future__ import annotations

import logging

import pytest

from ingest.github.client import GitHubClient, GitHubError, load_token, parse_link
from tests.support.github_server import (
    FakeClock,
    FakeGitHub,
    FakeRepo,
    dropped,
    fixture,
    pull_request,
    secondary_limit,
    server_error,
)

TOKEN = "ghp_FAKEtokenForTests0123456789abcdefABCD"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def server(clock):
    fake = FakeGitHub(clock)
    repo = fake.add_repo(FakeRepo("octo/widgets", id=4242, files={"asv.conf.json": "{}"}))
    repo.pulls = [
        pull_request(repo, n, merged_at="2025-01-01T00:00:00Z", merge_commit_sha=f"{n:040x}")
        for n in range(1, 251)
    ]
    with fake:
        yield fake


def client_for(server, clock, token=TOKEN, **kwargs) -> GitHubClient:
    return GitHubClient(server.url, token, clock=clock, **kwargs)


def test_link_header_from_a_real_recording_is_parsed():
    headers = dict(fixture("recorded/issue_comments_p2_2024.json")["response"]["headers"])
    links = parse_link(headers["Link"])
    assert set(links) == {"prev", "next", "last", "first"}
    assert "/repositories/3544490/issues/1136/comments" in links["next"]


def test_pages_follow_link_verbatim_including_the_repositories_id_form(server, clock):
    with client_for(server, clock) as client:
        pages = list(client.pages("/repos/octo/widgets/pulls", {"state": "closed", "per_page": 100}))
    assert [len(p.json()) for p in pages] == [100, 100, 50]
    assert server.count(r"^/repos/octo/widgets/pulls") == 1
    assert server.count(r"^/repositories/4242/pulls") == 2  # the server's Link form, followed as given
    numbers = [pr["number"] for page in pages for pr in page.json()]
    assert numbers == list(range(1, 251))


def test_conditional_request_gets_304_and_costs_no_quota(server, clock):
    with client_for(server, clock) as client:
        first = client.get("/repos/octo/widgets")
        used = server.used["core"]
        second = client.get("/repos/octo/widgets", etag=first.etag)
    assert first.status == 200 and first.etag.startswith('W/"')
    assert second.not_modified and second.body == b""
    assert server.used["core"] == used
    assert client.stats.not_modified == 1


def test_primary_limit_waits_until_reset_on_the_fake_clock(server, clock):
    server.exhaust("core", reset_in=900)
    start = clock.now()
    with client_for(server, clock) as client:
        response = client.get("/repos/octo/widgets")
    assert response.status == 200
    assert server.count(r"^/repos/octo/widgets$", status=403) == 1
    assert clock.now() - start >= 900
    assert client.stats.primary_waits == 1


def test_remaining_zero_on_a_success_makes_the_next_request_wait_first(server, clock):
    server.limits["core"] = 2
    with client_for(server, clock) as client:
        client.get("/repos/octo/widgets")
        client.get("/repos/octo/widgets")  # answered with remaining 0
        before = clock.now()
        client.get("/repos/octo/widgets")
    assert server.count("", status=403) == 0  # waited before asking, never refused
    assert clock.now() - before > 3000


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_with_retry_after_is_honoured(server, clock, status):
    server.inject(r"/pulls", secondary_limit(retry_after=75, status=status))
    with client_for(server, clock) as client:
        response = client.get("/repos/octo/widgets/pulls")
    assert response.status == 200
    assert 75 in clock.sleeps
    assert client.stats.secondary_waits == 1


def test_secondary_limit_without_retry_after_backs_off_at_least_a_minute(server, clock):
    server.inject(r"/pulls", secondary_limit(retry_after=None, times=2))
    with client_for(server, clock) as client:
        assert client.get("/repos/octo/widgets/pulls").ok
    assert clock.sleeps[:2] == [60, 120]


def test_5xx_burst_and_dropped_connections_are_retried(server, clock):
    server.inject(r"/repos/octo/widgets$", server_error(times=3))
    server.inject(r"/repos/octo/widgets$", dropped(times=1))
    with client_for(server, clock) as client:
        assert client.get("/repos/octo/widgets").ok
    assert client.stats.retries == 4
    assert all(s < 30 for s in clock.sleeps)


def test_a_server_that_keeps_failing_is_a_clear_error(server, clock):
    server.inject(r"/repos/octo/widgets$", server_error(times=None))
    with (
        client_for(server, clock, max_attempts=3) as client,
        pytest.raises(GitHubError, match="HTTP 500 after 3"),
    ):
        client.get("/repos/octo/widgets")


@pytest.mark.parametrize(
    "status_kind, status, fact", [("not_found", 404, "not_found"), ("blocked", 451, "blocked")]
)
def test_repository_facts_come_back_as_answers_not_retried(server, clock, status_kind, status, fact):
    server.add_repo(FakeRepo("gone/away", id=7, status=status_kind))
    with client_for(server, clock) as client:
        response = client.get("/repos/gone/away")
    assert (response.status, response.fact) == (status, fact)
    assert server.count(r"/repos/gone/away") == 1


def test_empty_repository_tree_is_409(server, clock):
    server.add_repo(FakeRepo("empty/repo", id=8, status="empty"))
    with client_for(server, clock) as client:
        response = client.get("/repos/empty/repo/git/trees/main")
    assert response.fact == "empty_repository" and "empty" in response.message


def test_search_past_1000_hits_is_the_real_422(server, clock):
    with client_for(server, clock) as client:
        response = client.get("/search/code", {"q": "filename:asv.conf.json", "per_page": 100, "page": 11})
    assert response.status == 422 and "1000" in response.message


def test_token_from_tokens_env_and_never_in_logs_errors_or_messages(tmp_path, server, clock, caplog):
    (tmp_path / "tokens.env").write_text(f"# tokens\nCODECOV_TOKEN=x\nGH_TOKEN={TOKEN}\n")
    token = load_token({}, [tmp_path])
    assert token == TOKEN
    caplog.set_level(logging.DEBUG)
    server.inject(r"/repos/octo/widgets$", server_error(times=None))
    with client_for(server, clock, token=token, max_attempts=2) as client:
        with pytest.raises(GitHubError) as raised:
            client.get("/repos/octo/widgets")
        client.get("/repos/octo/widgets/pulls")
    assert TOKEN not in str(raised.value)
    assert TOKEN not in caplog.text


def test_environment_token_wins_over_the_file(tmp_path):
    (tmp_path / "tokens.env").write_text("GITHUB_TOKEN=from-file\n")
    assert load_token({"GH_TOKEN": "from-env"}, [tmp_path]) == "from-env"
    assert load_token({}, [tmp_path]) == "from-file"
    assert load_token({}, []) is None
