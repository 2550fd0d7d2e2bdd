"""The typed sources file (issue 15): each section's model, its defaults, the renamed sections, the JSON
Schema for editors, and that loading it imports no stage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from ingest.sources import (
    DEFAULT_API_URL,
    DEFAULT_ASV_ARGS,
    DEFAULT_MAX_PULL_REQUESTS,
    DEFAULT_SEARCH_QUERY,
    DEFAULT_TOP_N,
    SCHEMA_FILE,
    SourcesError,
    load_sources,
    schema_text,
)
from tests.support.common import PROJECT_ROOT, fixture_path, materialize


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "sources.yml"
    file.write_text(text)
    return file


def error_of(tmp_path: Path, text: str) -> str:
    file = write(tmp_path, text)
    with pytest.raises(SourcesError) as raised:
        load_sources(file)
    message = str(raised.value)
    assert message.startswith(f"{file}: line ") and "\n" not in message
    return message.removeprefix(f"{file}: ")


def test_each_section_with_only_its_required_keys_gets_the_defaults(tmp_path):
    dashboard, results = fixture_path("dashboards", "django"), fixture_path("results", "django")
    file = write(
        tmp_path,
        f"""
dashboards:
  - name: django-site
    url: {dashboard}
results:
  - name: django-results
    path: {results}
github:
  repos: [django/django]
benchmark_runner:
  - repo: django/django
    machine: ci
    commits: [abc1234]
detection:
dataset:
  agent_results:
    - name: agent
      path: agent
      task_id: django_django_abc1234
""",
    )
    sources = load_sources(file)
    assert (sources.dashboards[0].url, sources.dashboards[0].repo, sources.dashboards[0].credentials) == (
        str(dashboard), None, None,
    )  # fmt: skip
    assert (sources.results[0].path, sources.results[0].repo) == (results, None)
    github = sources.github
    assert (github.discover, github.repos, github.min_stars, github.max_repos, github.top_n) == (
        False, ("django/django",), 0, DEFAULT_TOP_N, DEFAULT_TOP_N,
    )  # fmt: skip
    assert (github.max_pull_requests, github.api_url, github.clones_dir, github.search_query) == (
        DEFAULT_MAX_PULL_REQUESTS, DEFAULT_API_URL, None, DEFAULT_SEARCH_QUERY,
    )  # fmt: skip
    (target,) = sources.benchmark_runner.targets
    assert (target.key, target.source_name, target.line, target.commits) == (
        "django.django", "run.django.django.ci", 11, ("abc1234",),
    )  # fmt: skip
    assert (target.clone, target.asv_config, target.from_commits_filtered, target.machine_facts) == (
        None,
        None,
        None,
        {},
    )
    assert (target.jobs, target.cores_per_job, target.timeout_s, target.asv_args) == (
        1,
        1,
        3600.0,
        DEFAULT_ASV_ARGS,
    )
    assert (target.python, target.name, target.work_dir, target.results_dir, target.cluster) == (None,) * 5
    assert (
        sources.detection.replication.pairs == () and sources.detection.replication.min_shared_commits == 10
    )
    (agent,) = sources.dataset.agent_results
    assert (agent.path, agent.repo, agent.base_commit, agent.agent_commit) == (
        tmp_path / "agent",
        None,
        None,
        None,
    )
    assert sources.dbt_vars() == {
        "replication_pairs": [],
        "replication_min_shared_commits": 10,
        "github_min_stars": 0,
        "github_top_n": DEFAULT_TOP_N,
    }
    # and a file with one section leaves every other section empty (or absent: github)
    only = load_sources(write(tmp_path, f"results:\n  - name: r\n    path: {results}\n"))
    assert (only.dashboards, only.github, only.benchmark_runner.targets, only.dataset.agent_results) == (
        (),
        None,
        (),
        (),
    )


@pytest.mark.parametrize(
    ("old", "new", "text"),
    [
        (
            "benchmarks",
            "'benchmark_runner'",
            "benchmarks:\n  - repo: a/b\n    machine: m\n    commits: [abc1234]\n",
        ),
        (
            "replication",
            "'detection.replication' (indent it under 'detection:')",
            "replication:\n  min_shared_commits: 5\n",
        ),
        (
            "agent_results",
            "'dataset.agent_results' (indent it under 'dataset:')",
            "agent_results:\n  - {name: agent, path: x, task_id: t}\n",
        ),
    ],
)
def test_an_old_section_name_is_a_one_line_error_naming_the_new_one(tmp_path, old, new, text):
    results = fixture_path("results", "django")
    message = error_of(tmp_path, f"results:\n  - name: r\n    path: {results}\n{text}")
    assert message == f"line 4: section {old!r} is now {new}"


def test_an_old_section_name_stops_materialize_with_exit_2(tmp_path, capsys):
    file = write(tmp_path, "agent_results:\n  - {name: agent, path: x, task_id: t}\n")
    assert materialize(file, tmp_path / "warehouse.duckdb") == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{file}: line 1: section 'agent_results' is now 'dataset.agent_results' "
                        "(indent it under 'dataset:')")  # fmt: skip
    assert len(err.splitlines()) == 1 and not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "results:\n  - name: a\n    path: x\n    path: y\n",
            "line 4: an entry of 'results' has the key 'path' twice",
        ),
        (
            "resultz:\n  - name: a\n",
            "line 1: unknown section 'resultz'; expected one of 'dashboards', 'results', 'github', "
            "'benchmark_runner', 'detection', 'dataset'",
        ),
        ("github: [a/b]\n", "line 1: 'github' must be a mapping of keys to values"),
        ("results:\n  - just-a-name\n", "line 2: an entry of 'results' must be a mapping of keys to values"),
        ("dashboards:\n  - name: a\n    url:\n", "line 3: 'url' must be a non-empty text value"),
        (
            "github:\n  repos: [a/b]\n  max_repos: 5\n  top_n: 5\n",
            "line 4: 'github' has both 'max_repos' and 'top_n'; they are the same setting",
        ),
        (
            "github:\n  repos: [a/b]\n  tokn: x\n",
            "line 3: unknown key 'tokn' in 'github'; allowed: api_url, clones_dir, discover, max_pull_requests, "
            "max_repos, min_stars, repos, search_query, top_n",
        ),
        (
            "detection:\n  replicaton: {}\n",
            "line 2: unknown key 'replicaton' in 'detection'; allowed: replication",
        ),
        (
            "detection:\n  replication:\n    pairs:\n      - {a_source: a, a_machine: m}\n",
            "line 4: a replication pair needs exactly a_machine, a_source, b_machine, b_source",
        ),
        (
            "detection:\n  replication:\n    min_shared_commits: many\n",
            "line 3: 'min_shared_commits' must be a whole number of at least 0",
        ),
        (
            "dataset:\n  agent_results:\n    - {name: a, path: x, task_id: t, colour: red}\n",
            "line 3: unknown key 'colour' in 'dataset.agent_results'; allowed: agent_commit, base_commit, name, "
            "path, repo, task_id",
        ),
        (
            "benchmark_runner:\n  - repo: a/b\n    machine: m\n    commits: [x]\n    machine_facts: {cpu: x, gpu: y}\n",
            "line 5: unknown machine fact 'gpu'; allowed: arch, cpu, num_cpu, os, ram",
        ),
        (
            "benchmark_runner:\n  - repo: a/b\n    machine: a b\n    commits: [x]\n",
            "line 3: machine 'a b' may hold only letters, digits, '.', '_' or '-'",
        ),
        (
            "benchmark_runner:\n  - repo: a/b\n    machine: m\n    from_commits_filtered: 0\n",
            "line 4: 'from_commits_filtered' must be a whole number of at least 1",
        ),
        # several mistakes: the first one in the file is reported
        (
            "results:\n  - name: a\n    path: x\n    repo: nope\ndashboards:\n  - name: B\n    url: x\n",
            "line 4: repo 'nope' must be written as owner/name",
        ),
    ],
)
def test_mistakes_the_models_find_name_the_line(tmp_path, text, expected):
    assert error_of(tmp_path, text).startswith(expected)


def test_scalars_are_read_as_written_and_paths_resolve_against_the_file(tmp_path):
    file = write(
        tmp_path,
        """
github:
  discover: yes
  clones_dir: clones
benchmark_runner:
  - repo: a/b
    machine: m
    commits: [12345678, 1e10]
    python: 3.10
    asv_args: --quick -e
    timeout_s: 90
""",
    )
    sources = load_sources(file)
    assert sources.github.discover is True and sources.github.clones_dir == tmp_path / "clones"
    (target,) = sources.benchmark_runner.targets
    assert (target.commits, target.python, target.asv_args, target.timeout_s) == (
        ("12345678", "1e10"), "3.10", ("--quick", "-e"), 90.0,
    )  # fmt: skip


def test_dashboard_credentials_stay_out_of_repr_dumps_and_the_schema(tmp_path):
    file = write(tmp_path, "dashboards:\n  - name: a\n    url: https://reader:s3cret-pw@host.example/site/\n")
    (source,) = load_sources(file).dashboards
    assert (source.url, source.location, source.credentials) == (
        "https://host.example/site/", "https://host.example/site/", ("reader", "s3cret-pw"),
    )  # fmt: skip
    assert "s3cret-pw" not in repr(source) and "s3cret-pw" not in json.dumps(source.model_dump())
    assert "credentials" not in json.loads(SCHEMA_FILE.read_text())["$defs"]["DashboardSource"]["properties"]


def test_the_committed_json_schema_is_the_models_schema():
    """Regenerate with `python -m ingest.sources > ingest/sources.schema.json`."""
    assert SCHEMA_FILE.read_text() == schema_text()


def test_the_schema_takes_the_shipped_files_and_refuses_an_old_section():
    schema = json.loads(SCHEMA_FILE.read_text())
    for file in (PROJECT_ROOT / "sources.yml", PROJECT_ROOT / "samples" / "sources.yml"):
        assert (
            f"$schema={'../' if 'samples' in file.parts else ''}ingest/sources.schema.json"
            in file.read_text()
        )
        jsonschema.validate(yaml.safe_load(file.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError, match="benchmarks"):
        jsonschema.validate({"benchmarks": [{"repo": "a/b", "machine": "m"}]}, schema)
    jsonschema.validate({"github": {"repos": ["a/b"], "top_n": 5}}, schema)  # the alias editors see too


def test_loading_every_section_imports_no_stage(tmp_path):
    """The sources file is core: reading it never imports a stage package (import-linter's layers)."""
    file = write(
        tmp_path,
        "github:\n  repos: [a/b]\nbenchmark_runner:\n  - {repo: a/b, machine: m, commits: [abc1234]}\n"
        "dataset:\n  agent_results:\n    - {name: agent, path: x, task_id: t}\n",
    )
    code = (
        "import sys; from ingest.sources import load_sources; load_sources(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('assets', 'benchmark_runner', 'datasmith', 'dataset', 'detection') or m.startswith('ingest.github')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(file)], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
