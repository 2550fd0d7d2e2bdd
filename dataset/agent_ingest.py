"""Load `dataset: agent_results:` folders (an optimizer's asv results) into raw.agent_result_files.

Same rules as the results ingest (each file once per distinct content, provenance kept, unusable
files quarantined with the reason), but in tables of their own: an optimizer's runs are not history,
so they never reach fct_measurements or change-point detection. Agent folders are small, so files
are checked in Python (asv's bare NaN tokens are valid for Python's json).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from ingest.results import ResultsSourceError, discover_files
from ingest.sources import AgentResults


@dataclass
class AgentIngestReport:
    agent_name: str
    files_seen: int = 0
    files_loaded: int = 0
    files_unchanged: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.agent_name}: {self.files_seen} files seen, {self.files_loaded} loaded, "
            f"{self.files_unchanged} unchanged, {len(self.quarantined)} quarantined"
        )


def problem_with(kind: str, data: bytes) -> str | None:
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start})"
    except ValueError:
        return "not valid JSON (truncated or corrupt file)"
    if not isinstance(doc, dict):
        return f"top level is a JSON {type(doc).__name__}, not an object"
    if kind != "result":
        return None
    if not isinstance(doc.get("results"), dict):
        return 'no "results" object: not an asv result file'
    if not isinstance(doc.get("commit_hash"), str):
        return 'no "commit_hash": not an asv result file'
    if doc.get("version") != 2 or not isinstance(doc.get("result_columns"), list):
        return "agent results must be asv result schema version 2 (asv 0.5 or later)"
    return None


def register_agent_runs(con: duckdb.DuckDBPyConnection, entries: tuple[AgentResults, ...]) -> int:
    """A row in raw.agent_runs for each entry that is new or changed since its last row."""
    now = datetime.now(UTC).replace(tzinfo=None)
    added = 0
    for e in entries:
        last = con.execute(
            """select location, task_id, repo, base_commit, agent_commit from raw.agent_runs
               where agent_name = ? order by registered_at desc limit 1""",
            [e.name],
        ).fetchone()
        current = (str(e.path), e.task_id, e.repo, e.base_commit, e.agent_commit)
        if last != current:
            con.execute("insert into raw.agent_runs values (?, ?, ?, ?, ?, ?, ?)", [e.name, *current, now])
            added += 1
    return added


def ingest_agent_results(con: duckdb.DuckDBPyConnection, entry: AgentResults) -> AgentIngestReport:
    report = AgentIngestReport(entry.name)
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        files = [f for f in discover_files(entry.path) if f.kind != "config"]
    except ResultsSourceError as exc:
        report.quarantined.append((str(entry.path), str(exc)))
        con.execute(
            "insert into raw.agent_results_quarantine values (?, ?, null, null, ?, ?)",
            [entry.name, "", now, str(exc)],
        )
        return report
    report.files_seen = len(files)
    known = set(
        con.execute(
            """select relative_path, sha256 from raw.agent_result_files where agent_name = $a
               union all select relative_path, sha256 from raw.agent_results_quarantine where agent_name = $a""",
            {"a": entry.name},
        ).fetchall()
    )
    loaded, quarantined = [], []
    for f in files:
        try:
            data = (entry.path / f.relative_path).read_bytes()
        except OSError as exc:
            quarantined.append((entry.name, f.relative_path, None, None, now, f"cannot read the file: {exc}"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if (f.relative_path, digest) in known:
            report.files_unchanged += 1
            continue
        problem = problem_with(f.kind, data)
        if problem:
            quarantined.append((entry.name, f.relative_path, digest, len(data), now, problem))
        else:
            text = data.decode("utf-8")
            loaded.append(
                (entry.name, f.relative_path, f.kind, f.machine_dir or None, digest, len(data), now, text)
            )
    con.execute("begin")
    try:
        if loaded:
            con.executemany("insert into raw.agent_result_files values (?, ?, ?, ?, ?, ?, ?, ?)", loaded)
        if quarantined:
            con.executemany("insert into raw.agent_results_quarantine values (?, ?, ?, ?, ?, ?)", quarantined)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    report.files_loaded = len(loaded)
    report.quarantined = [(q[1], q[5]) for q in quarantined]
    return report
