"""The one dbt project, with its manifest built ahead of time (never `dbt parse` at import)."""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_INPUTS = ("models", "macros", "dbt_project.yml", "profiles.yml")

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)


def manifest_is_stale() -> bool:
    manifest = Path(dbt_project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in MANIFEST_INPUTS:
        path = PROJECT_ROOT / name
        files = [path] if path.is_file() else path.rglob("*")
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than a model, macro or config.
    Processes started together (tests, two `datasmith` runs) parse one at a time into target/."""
    if not manifest_is_stale():
        return Path(dbt_project.manifest_path)
    target = PROJECT_ROOT / "target"
    target.mkdir(exist_ok=True)
    with open(target / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale():  # another process may have parsed while we waited
            from dbt.cli.main import dbtRunner

            result = dbtRunner().invoke(
                ["parse", "--quiet", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
            )
            if not result.success:
                raise RuntimeError(f"dbt parse failed: {result.exception or 'see the dbt log above'}")
    return Path(dbt_project.manifest_path)


_parsed: dict[tuple, dict[str, Any]] = {}


def load_manifest() -> dict[str, Any]:
    """The manifest as JSON, read once per version of the file (its size and mtime): building the
    Definitions reads it from several places (the Python assets' deps on dbt models, the dbt sources no asset
    writes, the automation), and each read of the whole file cost ~20 ms. Raises OSError when it is missing."""
    path = Path(dbt_project.manifest_path)
    stat = path.stat()
    version = (str(path), stat.st_size, stat.st_mtime_ns)
    if version not in _parsed:
        _parsed.clear()
        _parsed[version] = json.loads(path.read_text())
    return _parsed[version]


PARTIAL_PARSE = "partial_parse.msgpack"


def warehouse_target(database: str | Path) -> Path:
    """The dbt target folder of one warehouse: `target/warehouses/<file stem>-<hash of its path>/`, the
    same folder for every `dbt build` on that warehouse. dbt keeps its partial-parse state
    (partial_parse.msgpack) in the target folder and throws it away when the profile changed, and the
    profile holds the warehouse's path (dbt-duckdb's `path`, the database name, the temp directory). With
    one shared state, builds on two warehouses took turns re-parsing the whole project; with a folder per
    warehouse, a warehouse's first build parses in full and every later one only what changed. dagster-dbt
    seeds a new folder from target/partial_parse.msgpack (`make manifest`'s). Builds on one warehouse run
    one at a time under its writer lock, so they never share the folder at once."""
    path = Path(database).resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return PROJECT_ROOT / "target" / "warehouses" / f"{path.stem}-{digest}"
