"""Assets for commit reports, the export and the score (placeholder until its issue lands)."""

from pathlib import Path

import dagster as dg

from ingest.sources import Sources


def build_dataset_definitions(sources: Sources, db_path: Path) -> dg.Definitions:
    return dg.Definitions()
