"""The sources file's `agent_results:` section: an optimizer's own asv results, one folder per run.

    agent_results:
      - name: demo-human-patch          # lower case, unique among all sources
        path: agent/human-patch         # an asv results tree (or an asv project holding one)
        task_id: datasmith-demo_fastfuncs_84667a78   # the task it attempted ...
        # ... or, instead of task_id:
        # repo: owner/name
        # base_commit: <40 hex>          # the commit the optimizer started from
        agent_commit: <hex>              # optional: which measured commit is the optimizer's; by
                                         # default every result file not at the base commit

The folder holds asv result files for the optimizer's code and, ideally, for the base commit measured
in the same run (the fair baseline). Without the latter the base times come from the warehouse's own
measurements of the base commit on the same machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ingest.identifiers import COMMIT_HASH, SOURCE_NAME_PATTERN, name_problem, repo_problem
from ingest.sources import entries_of, fail_at, mapping_of, resolve_local, scalar_of

ALLOWED_KEYS = {"name", "path", "task_id", "repo", "base_commit", "agent_commit"}


@dataclass(frozen=True)
class AgentResults:
    name: str
    path: Path
    task_id: str | None = None
    repo: str | None = None
    base_commit: str | None = None
    agent_commit: str | None = None


@dataclass(frozen=True)
class AgentResultsSection:
    entries: tuple[AgentResults, ...]

    def by_name(self, name: str) -> AgentResults:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(name)


def parse_agent_results_section(file: Path, node: yaml.Node, seen: dict[str, int]) -> AgentResultsSection:
    entries = []
    for entry in entries_of(file, node, "agent_results"):
        fields = mapping_of(file, entry, "an entry of 'agent_results'")
        for key, value in fields.items():
            if key not in ALLOWED_KEYS:
                raise fail_at(
                    file,
                    value,
                    f"unknown key {key!r} in 'agent_results'; allowed: {', '.join(sorted(ALLOWED_KEYS))}",
                )
        for key in ("name", "path"):
            if key not in fields:
                raise fail_at(file, entry, f"an entry of 'agent_results' is missing {key!r}")
        values = {key: scalar_of(file, value, f"'{key}'") for key, value in fields.items()}
        name = values["name"]
        if not SOURCE_NAME_PATTERN.fullmatch(name):
            raise fail_at(
                file,
                fields["name"],
                f"source name {name!r} must be lower case letters, digits, '.', '_' or '-'",
            )
        if name in seen:
            raise fail_at(
                file, fields["name"], f"source name {name!r} is used twice (first on line {seen[name]})"
            )
        seen[name] = fields["name"].start_mark.line + 1
        has_task = "task_id" in values
        has_commit = "repo" in values and "base_commit" in values
        if has_task == has_commit or ("repo" in values) != ("base_commit" in values):
            raise fail_at(
                file,
                entry,
                f"agent_results entry {name!r} needs either 'task_id' or both 'repo' and 'base_commit'",
            )
        problem = repo_problem(values["repo"], "repo") if "repo" in values else None
        if problem:
            raise fail_at(file, fields["repo"], problem)
        problem = name_problem(values["task_id"], "task_id") if "task_id" in values else None
        if problem:
            raise fail_at(file, fields["task_id"], problem)
        for key in ("base_commit", "agent_commit"):
            if key in values and not (7 <= len(values[key]) <= 64 and COMMIT_HASH.fullmatch(values[key])):
                raise fail_at(file, fields[key], f"'{key}' must be a commit hash (7 to 64 hex digits)")
        entries.append(
            AgentResults(
                name=name,
                path=resolve_local(file, values["path"]),
                task_id=values.get("task_id"),
                repo=values.get("repo"),
                base_commit=values.get("base_commit", "").lower() or None,
                agent_commit=values.get("agent_commit", "").lower() or None,
            )
        )
    return AgentResultsSection(tuple(entries))
