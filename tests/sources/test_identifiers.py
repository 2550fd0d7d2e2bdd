"""The one validation of identifiers (ingest/identifiers.py) and where the sources file and the GitHub stage
use it (issue 13, cases 1 and 12): commit hashes, owner/name, names, and the token in stored messages."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingest.identifiers import (
    IdentifierError,
    check_commit_hash,
    check_name,
    check_repo,
    is_commit_hash,
    is_name,
    is_repo,
)
from ingest.sources import SourcesError, load_sources
from tests.support.common import fixture_path


def dashboard_hashes(dashboard: str, key: str) -> list[str]:
    """Every hash a real dashboard's index.json maps its revisions (or dates) to."""
    return list(json.loads(fixture_path("dashboards", dashboard, "index.json").read_text())[key].values())


def test_every_real_commit_hash_is_accepted():
    full = dashboard_hashes("django", "revision_to_hash")
    short = dashboard_hashes("photutils-2016", "date_to_hash")  # asv 0.1 kept 8 characters
    assert len(full) == 2290 and {len(h) for h in full} == {40}
    assert len(short) == 321 and {len(h) for h in short} == {8}
    assert all(is_commit_hash(h) for h in full + short)
    document = json.loads(
        fixture_path(
            "results", "django", "results", "ubuntu-latest", "01a4d8a3-conda-py3.10.json"
        ).read_text()
    )
    assert check_commit_hash(document["commit_hash"].upper()) == document["commit_hash"]
    assert is_commit_hash("a" * 64)  # a SHA-256 repository's object name


@pytest.mark.parametrize(
    "value",
    [
        "--output=/tmp/pwned", "-p", "HEAD", "HEAD~1", "main", "abc", "a" * 65, "01a4d8a3\n", "01a4d8a3 ",
        "01a4d8a3^", "01a4d8a3..02b5e9b4", "", None, 1234567, "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17",
    ],
)  # fmt: skip
def test_anything_but_4_to_64_hex_digits_is_not_a_commit_hash(value):
    assert not is_commit_hash(value)
    with pytest.raises(IdentifierError, match="commit hash"):
        check_commit_hash(value)


@pytest.mark.parametrize(
    "value",
    ["django/django", "numpy/numpy", "scikit-learn/scikit-learn", "astropy/.github", "o_emu/r.py", "a/b"],
)
def test_github_repositories_are_accepted(value):
    assert is_repo(value) and check_repo(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "../..", "x/..", "x/.", "../x", "-c/x", "x/-c", "a/b\n", "a/b/c", "a", "/b", "a/", "a b/c", "a/b c",
        "a" * 40 + "/b", "a/" + "b" * 101, "a.b/c", "a\x00/b",
    ],
)  # fmt: skip
def test_anything_else_is_not_a_repository(value):
    assert not is_repo(value)
    with pytest.raises(IdentifierError, match="owner/name"):
        check_repo(value)


def test_names_hold_no_control_characters():
    assert is_name("ubuntu-latest") and is_name("Aarons-MacBook-Pro.local") and is_name("ünïcode name")
    for bad in ("ubuntu\n", "a\rb", "a\x1b[31m", "a\x7f", "a\u0085", "a\u2028b", ""):
        assert not is_name(bad)
    with pytest.raises(IdentifierError, match=r"machine 'x\\n' holds control characters \(U\+000A\)"):
        check_name("x\n", "machine")


def sources_error(tmp_path: Path, text: str) -> str:
    file = tmp_path / "sources.yml"
    file.write_text(text)
    with pytest.raises(SourcesError) as raised:
        load_sources(file)
    message = str(raised.value)
    assert message.startswith(f"{file}: line ") and "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("github:\n  repos: [../..]\n", 2, "repository '../..' must be written as owner/name"),
        ("github:\n  repos: [django/django, -x/y]\n", 2, "'-x/y' must be written as owner/name"),
        ("github:\n  repos: [django/django]\n  api_url: htps://api.github.com\n", 3, "http(s) URL"),
        ("benchmark_runner:\n  - repo: ../..\n    machine: m\n    commits: [abc1234]\n", 2, "repo '../..'"),
        (
            'benchmark_runner:\n  - repo: a/b\n    machine: m\n    commits: [abc1234]\n    name: "x\\n"\n',
            5,
            "lower case",
        ),
        (
            "dataset:\n  agent_results:\n  - {name: a, path: x, repo: ../.., base_commit: abc1234}\n",
            3,
            "repo '../..'",
        ),
        ('dataset:\n  agent_results:\n  - {name: "a\\n", path: x, task_id: t}\n', 3, "lower case"),
        (
            "dataset:\n  agent_results:\n  - {name: a, path: x, repo: a/b, base_commit: --output=x}\n",
            3,
            "commit hash",
        ),
        (
            'dataset:\n  agent_results:\n  - {name: a, path: x, task_id: "t\\n"}\n',
            3,
            "task_id 't\\n' holds control characters",
        ),
    ],
)
def test_every_section_uses_the_same_checks(tmp_path, text, line, words):
    message = sources_error(tmp_path, text)
    assert f"line {line}: " in message and words in message


def test_the_github_section_takes_an_api_url_in_any_case(tmp_path):
    file = tmp_path / "sources.yml"
    file.write_text("github:\n  repos: [django/django]\n  api_url: HTTPS://api.github.com/\n")
    assert load_sources(file).github.api_url == "HTTPS://api.github.com"


def test_a_token_echoed_in_an_error_body_is_never_stored(tmp_path):
    """issue 13: GitHub error bodies (real ones, with the token echoed into them) became
    raw.github_repo_facts.message verbatim; the response's message is now made with the token redacted."""
    from ingest.github.client import GitHubClient
    from ingest.github.store import GITHUB_DDL, record_fact
    from tests.support.github_server import FakeClock, FakeGitHub, FakeRepo, Fault, Reply, fixture

    token = "ghp_FAKEtokenForTests0123456789abcdefABCD"
    json_body = dict(fixture("errors/not_found_404_modern.json")["body_2025_01"])
    json_body["message"] = f"{json_body['message']}: no access with {token}"
    # a non-JSON body whose 200-character cut falls inside the token
    text_body = ("<html>" + "x" * 180 + token + "</html>").encode()
    clock = FakeClock()
    fake = FakeGitHub(clock)
    fake.add_repo(FakeRepo("octo/widgets", id=4242, files={"asv.conf.json": "{}"}))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(GITHUB_DDL)
    with fake, GitHubClient(fake.url, token, clock=clock) as client:
        fake.inject(r"/repos/octo/widgets$", Fault("reply", 1, Reply(404, json_body)))
        fake.inject(r"/repos/octo/widgets/pulls", Fault("reply", 1, Reply(403, text_body)))
        for path in ("/repos/octo/widgets", "/repos/octo/widgets/pulls"):
            response = client.get(path)
            record_fact(
                con, "octo/widgets", "repo", response.url, response.status, response.fact, response.message
            )
    messages = [
        row[0]
        for row in con.execute("select message from raw.github_repo_facts order by kind, url").fetchall()
    ]
    con.close()
    assert len(messages) == 2
    assert messages[0] == "Branch not found: no access with [token]"
    assert messages[1].startswith("<html>xxx") and len(messages[1]) == 200
    assert not any(token[:12] in m for m in messages)


def test_discovery_takes_only_real_repositories_from_an_asv_config(tmp_path):
    """asv.conf.json's `repo` names the benchmarked project; a URL whose path is `../..` or starts with
    `-` no longer becomes a candidate repository (it would reach API paths and clone folders)."""
    from ingest.github.discovery import benchmarked_project
    from ingest.results.load import _config_as_json

    def repo_field(name: str) -> str:
        text = fixture_path("results", name, "asv.conf.json").read_text()
        return json.loads(_config_as_json(text)[0])["repo"]

    assert benchmarked_project(repo_field("django")) == "django/django"
    assert benchmarked_project(repo_field("photutils")) == "astropy/photutils"
    assert benchmarked_project(repo_field("conda")) is None  # "../conda": relative
    real = repo_field("django")  # https://github.com/django/django.git, mutated:
    for project in ("../..", "-c/x", "django/..", "-django/django"):
        hostile = real.replace("django/django", project)
        assert hostile != real and benchmarked_project(hostile) is None, hostile
