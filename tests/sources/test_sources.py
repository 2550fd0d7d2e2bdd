"""The sources file: valid files load, and every mistake names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.sources import SourcesError, load_sources


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "sources.yml"
    file.write_text(text)
    return file


def test_loads_both_sections_and_resolves_paths_relative_to_the_file(tmp_path):
    file = write(
        tmp_path,
        """
dashboards:
  - name: numpy
    url: https://pv.github.io/numpy-bench/
    repo: numpy/numpy
  - name: local-site
    url: site
results:
  - name: sample
    path: results
    repo: owner/project
""",
    )
    sources = load_sources(file)
    assert [d.name for d in sources.dashboards] == ["numpy", "local-site"]
    assert sources.dashboards[0].url == "https://pv.github.io/numpy-bench/"
    assert sources.dashboards[1].url == str(tmp_path / "site")
    assert sources.results[0].path == tmp_path / "results"
    assert sources.results[0].repo == "owner/project"
    assert sources.by_name("sample").kind == "results"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("results:\n  - name: a\n    path: x\n  - name: a\n    path: y\n", 4, "used twice"),
        ("results:\n  - name: a\n", 2, "missing 'path'"),
        ("results:\n  - name: a\n    path: x\n    colour: red\n", 4, "unknown key 'colour'"),
        ("results:\n  - name: Bad Name\n    path: x\n", 2, "lower case"),
        ("results:\n  - name: a\n    path: x\n    repo: not-a-repo\n", 4, "owner/name"),
        ("dashboards: {name: a}\n", 1, "must be a list"),
        ("resultz:\n  - name: a\n", 1, "unknown section 'resultz'"),
        ("results:\n  - name: a\n    path: [x\n", 4, "not valid YAML"),
        # issue 13: a repo naming a parent folder or an option, a name ending in a newline ($ matched
        # before it), a dashboard URL whose scheme is a typo or unknown (it was taken as a local folder)
        (
            "results:\n  - name: a\n    path: x\n    repo: ../..\n",
            4,
            "repo '../..' must be written as owner/name",
        ),
        ("results:\n  - name: a\n    path: x\n    repo: owner/..\n", 4, "owner/name"),
        ("results:\n  - name: a\n    path: x\n    repo: -c/x\n", 4, "owner/name"),
        ('results:\n  - name: a\n    path: x\n    repo: "a/b\\n"\n', 4, "owner/name"),
        ('results:\n  - name: "a\\n"\n    path: x\n', 2, "lower case"),
        ("dashboards:\n  - name: a\n    url: htps://pv.github.io/numpy-bench/\n", 3, "scheme 'htps'"),
        ("dashboards:\n  - name: a\n    url: ftp://example.org/bench/\n", 3, "scheme 'ftp'"),
        ("dashboards:\n  - name: a\n    url: https:/pv.github.io/x/\n", 3, "has no host"),
        ("dashboards:\n  - name: a\n    url: https://\n", 3, "has no host"),
        ("dashboards:\n  - name: a\n    url: file://host/x\n", 3, "file:///path"),
    ],
)
def test_a_malformed_file_is_a_clear_error_naming_the_line(tmp_path, text, line, words):
    file = write(tmp_path, text)
    with pytest.raises(SourcesError) as error:
        load_sources(file)
    message = str(error.value)
    assert str(file) in message
    assert f"line {line}" in message
    assert words in message


def test_missing_and_empty_files_are_clear_errors(tmp_path):
    with pytest.raises(SourcesError, match="cannot read sources file"):
        load_sources(tmp_path / "absent.yml")
    with pytest.raises(SourcesError, match="empty"):
        load_sources(write(tmp_path, ""))


def test_the_shipped_sources_files_are_valid():
    root = Path(__file__).resolve().parents[2]
    public = load_sources(root / "sources.yml")
    assert {d.name for d in public.dashboards} >= {"scipy", "numpy", "astropy", "scikit-learn", "pandas"}
    assert all(d.url.startswith("https://") for d in public.dashboards)
    demo = load_sources(root / "samples" / "sources.yml")
    assert demo.results and all(r.path.is_dir() for r in demo.results)


def test_replication_settings_become_dbt_vars_and_name_real_sources(tmp_path):
    file = write(
        tmp_path,
        """
results:
  - {name: a, path: x}
  - {name: b, path: y}
detection:
  replication:
    min_shared_commits: 5
    pairs:
      - {a_source: a, a_machine: m1, b_source: b, b_machine: m2}
""",
    )
    assert load_sources(file).dbt_vars() == {
        "replication_pairs": [{"a_source": "a", "a_machine": "m1", "b_source": "b", "b_machine": "m2"}],
        "replication_min_shared_commits": 5,
    }
    bad = write(
        tmp_path,
        "results:\n  - {name: a, path: x}\ndetection:\n  replication:\n    pairs:\n"
        "      - {a_source: a, a_machine: m, b_source: zz, b_machine: m}\n",
    )
    with pytest.raises(SourcesError, match="line 6: replication names 'zz'"):
        load_sources(bad)


def test_dashboard_url_schemes_are_matched_without_case_and_file_urls_are_local_folders(tmp_path):
    """issue 13: `HTTPS://` and `file://` were taken as relative local paths (`<folder>/HTTPS:/...`)."""
    from tests.support.common import fixture_path

    django = fixture_path("dashboards", "django")
    file = write(
        tmp_path,
        f"""
dashboards:
  - name: upper
    url: HTTPS://pv.github.io/numpy-bench/
  - name: mixed
    url: Http://localhost:8080/site/
  - name: local-url
    url: {django.as_uri()}
  - name: localhost-url
    url: file://localhost{django}
""",
    )
    sources = load_sources(file)
    urls = [d.url for d in sources.dashboards]
    assert urls == [
        "https://pv.github.io/numpy-bench/",
        "http://localhost:8080/site/",
        str(django),
        str(django),
    ]
    assert (Path(urls[2]) / "index.json").is_file()


def test_a_dashboard_url_with_a_typo_in_its_scheme_stops_materialize_with_exit_2(tmp_path, capsys):
    """issue 13, case 11: `htps://...` was taken as a local folder, "loaded" with one missing file, exit 0."""
    from tests.support.common import materialize

    file = write(tmp_path, "dashboards:\n  - name: numpy\n    url: htps://pv.github.io/numpy-bench/\n")
    assert materialize(file, tmp_path / "warehouse.duckdb") == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{file}: line 3: dashboard url 'htps://pv.github.io/numpy-bench/' has the scheme 'htps'; "
                        "expected http://, https://, file:// or a local folder")  # fmt: skip
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_bad_dashboard_url_is_quoted_without_its_password(tmp_path):
    """A malformed URL's error names file and line but never the password written into it."""
    file = write(tmp_path, "dashboards:\n  - name: a\n    url: htps://alice:s3cret-pw@host.example/site/\n")
    with pytest.raises(SourcesError) as error:
        load_sources(file)
    assert "line 3" in str(error.value) and "htps://***@host.example/site/" in str(error.value)
    assert "s3cret-pw" not in str(error.value)
