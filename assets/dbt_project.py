"""The one dbt project, with its manifest built ahead of time (never `dbt parse` at import)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
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


def keep_partial_parse(invocation_target: Path) -> None:
    """Make a dbt invocation's parse state the one the next invocation starts from. dagster-dbt runs
    each `dbt build` in its own target folder, seeded with target/partial_parse.msgpack; dbt re-parses
    the whole project when that state was made with other vars or another warehouse path (the profile),
    which `make manifest`'s parse always was. Copying the state back after each build means a run parses
    once, and its later builds (same vars, same warehouse) parse only what changed. The copy is atomic,
    so a concurrent run reads one state or the other, never half of one."""
    state = Path(invocation_target) / PARTIAL_PARSE
    if not state.exists():
        return
    target = PROJECT_ROOT / "target"
    target.mkdir(exist_ok=True)
    partial = target / f".{PARTIAL_PARSE}.{os.getpid()}"
    shutil.copyfile(state, partial)
    os.replace(partial, target / PARTIAL_PARSE)
