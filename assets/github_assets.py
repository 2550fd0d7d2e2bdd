"""Assets for GitHub discovery, pull requests and clones (placeholder until its issue lands)."""

from pathlib import Path

import dagster as dg

from ingest.sources import Sources


def build_github_definitions(sources: Sources, db_path: Path) -> dg.Definitions:
    return dg.Definitions()
