"""The dataset card names each source repository's license as the GitHub stage recorded it.

One `datasmith materialize` of the demo's results and dashboard together with a `github:` source for the
same project, against the fake GitHub serving the real repository bodies (tests/github_server.py): the
license in the card is the one in the metadata body GitHub served, carried through repos_valid.
"""

from __future__ import annotations

import contextlib
import io

import duckdb
import pytest
import yaml
from conftest import materialize
from dataset_support import DEMO_REPO, SAMPLES

from datasmith.export import _license_cell, _licenses, read_card_header
from tests.github_support import build_world

TOKEN = "ghp_LICENSEtestTokenNeverStored0123456789"


@pytest.fixture(scope="module")
def licensed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataset_license")
    world = build_world(folder)  # the demo sample's history, served as datasmith-demo/fastfuncs
    demo = yaml.safe_load((SAMPLES / "sources.yml").read_text())
    db = folder / "warehouse.duckdb"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("CODECOV_TOKEN", raising=False)
    stderr = io.StringIO()
    try:
        with world.server, contextlib.redirect_stderr(stderr):  # the server's port is known once started
            # every GitHub request stays local, the reports' discussion fetch included
            monkeypatch.setenv("GITHUB_API_URL", world.server.url)
            document = {
                "results": [{**e, "path": str(SAMPLES / e["path"])} for e in demo["results"]],
                "dashboards": [{**e, "url": str(SAMPLES / e["url"])} for e in demo["dashboards"]],
                "github": {"api_url": world.server.url, "repos": [DEMO_REPO]},
            }
            sources = folder / "sources.yml"
            sources.write_text(yaml.safe_dump(document, sort_keys=False))
            code = materialize(sources, db)
    finally:
        monkeypatch.undo()
    assert code == 0, stderr.getvalue()[-4000:]
    served = world.server.repo_body(world.server.repo_for(DEMO_REPO))["license"]
    return {"db": db, "folder": db.parent / "dataset", "spdx": served["spdx_id"]}


def test_the_card_names_the_license_github_served_for_the_project(licensed):
    con = duckdb.connect(str(licensed["db"]), read_only=True)
    try:
        assert con.execute("select repo_name, license_spdx from main.repos_valid").fetchall() == [
            (DEMO_REPO, licensed["spdx"])
        ]
        tasks = con.execute("select count(*) from main.fct_tasks where repo = ?", [DEMO_REPO]).fetchone()[0]
    finally:
        con.close()
    assert tasks  # the card is about real tasks of that repository
    card = (licensed["folder"] / "README.md").read_text(encoding="utf-8")
    licenses = card.split("## Licenses\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in licenses.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{DEMO_REPO}` | {licensed['spdx']} |"]
    assert "unknown" not in licenses
    header = read_card_header(licensed["folder"])
    # per-repository licensing: the hub field says `other` and points at the table
    assert header["license"] == "other" and header["license_name"] == "per-repository"
    assert "see below" in header["license_details"]


def test_names_match_case_insensitively_and_an_unknown_repository_stays_unknown(licensed):
    con = duckdb.connect(str(licensed["db"]), read_only=True)
    try:
        found = _licenses(con, ("DataSmith-Demo/FastFuncs", "someone/elsewhere"))
    finally:
        con.close()
    assert found == {"DataSmith-Demo/FastFuncs": licensed["spdx"], "someone/elsewhere": None}
    assert _license_cell(None).startswith("unknown")
    unrecognised = _license_cell("NOASSERTION")  # GitHub's answer for a license it cannot identify
    assert unrecognised.startswith("NOASSERTION") and "check the repository" in unrecognised


def test_without_the_github_stage_every_license_reads_unknown(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        assert _licenses(con, (DEMO_REPO,)) == {DEMO_REPO: None}
    finally:
        con.close()
