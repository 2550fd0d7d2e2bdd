"""`datasmith materialize` as a user meets it (issue 13): a failed step is told by its cause in one line and
exit 1, a selection of one asset of a multi-asset runs the multi-asset whole."""

from __future__ import annotations

import pytest
import yaml

from tests.support.common import PROJECT_ROOT, fixture_path, materialize, read_rows
from tests.support.github_server import FakeGitHub
from tests.support.github_support import write_github_sources


def test_a_results_path_that_does_not_exist_fails_with_its_cause_in_one_line(tmp_path, capfd):
    missing = tmp_path / "moved-away"
    sources = tmp_path / "sources.yml"
    sources.write_text(
        yaml.safe_dump(
            {
                "results": [
                    {"name": "sympy-v1", "path": str(fixture_path("results", "sympy-v1"))},
                    {"name": "gone", "path": str(missing)},
                ]
            }
        )
    )
    db = tmp_path / "warehouse.duckdb"
    assert materialize(sources, db, "--select", "key:raw/asv_result_files") == 1
    err = capfd.readouterr().err
    assert (
        f"datasmith: raw_results_files [gone]: results source 'gone': path {missing} does not exist"
        f" (listed in {sources})\n" in err
    )
    assert (
        "Traceback" not in err
        and "Stack Trace" not in err
        and "DagsterExecutionStepExecutionError" not in err
    )
    assert "1 of 2 steps failed" in err
    assert len(err.splitlines()) < 15, err
    # the source that could be read is loaded
    assert read_rows(db, "select count(*) from raw.asv_result_files where source_name = 'sympy-v1'")[0][0] > 0

    assert (
        materialize(sources, db, "--select", "key:raw/asv_result_files", "--partition", "gone", "--verbose")
        == 1
    )
    err = capfd.readouterr().err
    assert "Stack Trace" in err and "ingest_results_source" in err  # the traceback, on request
    assert f"datasmith: raw_results_files [gone]: results source 'gone': path {missing} does not exist" in err


@pytest.fixture
def fake_github(monkeypatch):
    monkeypatch.setenv("GH_TOKEN", "ghp_" + "x" * 36)
    with FakeGitHub() as server:
        yield server


def test_selecting_one_asset_of_a_multi_asset_runs_the_multi_asset_whole(tmp_path, capfd, fake_github):
    sources = write_github_sources(tmp_path, fake_github.url, ["gone/missing"], discover=False)
    db = tmp_path / "warehouse.duckdb"
    code = materialize(sources, db, "--select", "key:raw/github_discovery_responses")
    err = capfd.readouterr().err
    assert code == 0, err
    assert "also running raw/github_candidates, raw/github_repo_facts" in err
    assert "datasmith: 3 assets" in err
    assert read_rows(db, "select repo_name, fact from raw.github_repo_facts") == [
        ("gone/missing", "not_found")
    ]


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    from assets.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"datasmith {version('datasmith')}\n"


def test_every_selection_example_in_the_help_selects_assets_of_the_real_definitions(tmp_path, capsys):
    import dagster as dg

    from assets.cli import SELECTION_EXAMPLES, main, resolve_bare_names
    from assets.definitions import build_definitions

    with pytest.raises(SystemExit):
        main(["materialize", "--help"])
    help_text = capsys.readouterr().out
    graph = build_definitions(
        PROJECT_ROOT / "samples" / "sources.yml", tmp_path / "w.duckdb"
    ).resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert len(SELECTION_EXAMPLES) >= 5
    for selection, _ in SELECTION_EXAMPLES:
        assert f"--select '{selection}'" in help_text
        selected = dg.AssetSelection.from_string(resolve_bare_names(selection, keys)).resolve(graph)
        assert selected, selection
    # what the examples say they select
    resolve = dict(
        (s, dg.AssetSelection.from_string(resolve_bare_names(s, keys)).resolve(graph))
        for s, _ in SELECTION_EXAMPLES
    )
    assert resolve["key:raw/source_registry"] == {dg.AssetKey(["raw", "source_registry"])}
    assert dg.AssetKey(["raw", "asv_result_files"]) in resolve["+key:fct_measurements"]
    assert dg.AssetKey(["main", "fct_measurements"]) in resolve["key:fct_measurements+"]


def test_a_failed_step_shows_the_end_of_its_log_and_stdout_stays_off_the_terminal(tmp_path, capfd):
    import dagster as dg

    from assets.cli import _run, _StdoutToFile

    @dg.asset
    def noisy() -> None:
        print("dbt-like line 1")
        print("the line that says why")
        raise RuntimeError("model failed")

    log = _StdoutToFile(tmp_path / "logs" / "dbt.log", active=True)
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    with log:
        print("an earlier step's line")
        failed = _run(
            dg,
            [noisy],
            {dg.AssetKey("noisy")},
            None,
            {},
            dg.DagsterInstance.ephemeral(),
            quiet,
            "[2] noisy",
            log,
        )
    out, err = capfd.readouterr()
    assert failed == 1
    assert out == ""
    assert "datasmith: noisy: RuntimeError: model failed\n" in err
    assert f"datasmith: the last lines of {tmp_path / 'logs' / 'dbt.log'}:\n" in err
    assert "  | the line that says why\n" in err
    assert "an earlier step's line" not in err  # only what this step wrote
    assert "an earlier step's line" in (tmp_path / "logs" / "dbt.log").read_text()
