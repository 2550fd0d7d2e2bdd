"""The GitHub stage's public API: discovery of benchmarked projects, their pull requests, local clones and
what each commit changed, all stored in the warehouse's raw GitHub tables (``GITHUB_DDL``).

Other packages import these names from ``ingest.github`` only (the import-linter contract in pyproject.toml).
The names resolve on first use (PEP 562), so importing the package does not load httpx or the section parser.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module of this package that defines it
_EXPORTS = {
    "DEFAULT_API_URL": "client",
    "GitHubClient": "client",
    "GitHubError": "client",
    "GitHubResponse": "client",
    "load_token": "client",
    "discover": "discovery",
    "DiscoveryReport": "discovery",
    "collect_pull_requests": "pulls",
    "merged_pull_requests": "pulls",
    "CloneError": "clones",
    "clone_path": "clones",
    "clones_root": "clones",
    "collect_changed_files": "clones",
    "ensure_clone": "clones",
    "GITHUB_DDL": "store",
    "diffed_commits": "store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
