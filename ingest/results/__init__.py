"""The results stage's public API: raw asv result trees loaded into the warehouse's raw tables."""

from ingest.results.ddl import RESULTS_DDL
from ingest.results.load import (
    MAX_FILE_BYTES_ENV,
    IngestReport,
    ResultsSourceError,
    SourceFile,
    discover_files,
    ingest_results_source,
    max_file_bytes,
)
from ingest.results.profile_store import PROFILES_DDL, load_profile_files, load_result_file_profiles

__all__ = [
    "MAX_FILE_BYTES_ENV",
    "RESULTS_DDL",
    "IngestReport",
    "ResultsSourceError",
    "SourceFile",
    "discover_files",
    "ingest_results_source",
    "max_file_bytes",
]
__all__ += ["PROFILES_DDL", "load_profile_files", "load_result_file_profiles"]  # asv profiles
