"""The sources file's `benchmarks:` section: which repositories the runner measures, and how.

    benchmarks:
      - repo: datasmith-demo/fastfuncs     # owner/name (required)
        clone: ../fastfuncs                # a local clone (bare or not) or a git URL; optional when the
                                           # GitHub stage has cloned the repository (ingest.git_clones)
        asv_config: ../asv.conf.json       # default: asv.conf.json in the clone; may live outside it
        commits: [49b197c4, 84667a78]      # explicit list ...
        from_commits_filtered: 50          # ... or the latest N of the fct_core_commits mart
        machine: ci-2core                  # asv machine name (required)
        machine_facts: {cpu: "AMD EPYC", ram: 8GB}   # optional fixed facts (arch, cpu, num_cpu, os, ram)
        jobs: 2                            # concurrent jobs (default 1)
        cores_per_job: 1                   # default 1
        timeout_s: 1800                    # per job (default 3600)
        asv_args: [--quick]                # default: --interleave-rounds --append-samples -a rounds=2 -a repeat=2
        python: "3.11"                     # default: the config's first `pythons` entry
        name: fastfuncs-ci                 # the Dagster partition key; default <owner>.<name>
        work_dir: /scratch/runner          # default: <warehouse dir>/runner/work
        results_dir: /mnt/bucket/runner    # default: <warehouse dir>/runner/results
        cluster: tcp://10.0.0.5:8786       # run the jobs on a Dask cluster (a scheduler address, or a
                                           # scheduler file's path); default: here (docs/cluster.md)

Relative paths resolve against the sources file's folder. Each target's results become the warehouse
source ``run.<owner>.<name>.<machine>``, so that name must not be used by another source.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmark_runner.settings import DEFAULT_ASV_ARGS, MACHINE_FACT_KEYS, NAME_PART, RunSettings
from ingest.identifiers import SOURCE_NAME_PATTERN, repo_problem
from ingest.sources import (
    entries_of,
    fail_at,
    mapping_of,
    resolve_local,
    scalar_of,
)

KEYS = {
    "repo", "clone", "asv_config", "commits", "from_commits_filtered", "machine", "machine_facts", "jobs",
    "cores_per_job", "timeout_s", "asv_args", "python", "name", "work_dir", "results_dir", "cluster",
}  # fmt: skip
URL = re.compile(r"^(https?|ssh|git|file)://|^git@")
SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss)://[^\s/]+:\d+$")


@dataclass(frozen=True)
class BenchmarkTarget:
    key: str  # partition key
    repo: str
    machine: str
    clone: str | None  # absolute path or URL; None = the GitHub stage's clone
    asv_config: Path | None
    commits: tuple[str, ...] = ()
    from_commits_filtered: int | None = None
    jobs: int = 1
    cores_per_job: int = 1
    timeout_s: float = 3600.0
    asv_args: tuple[str, ...] = DEFAULT_ASV_ARGS
    python: str | None = None
    machine_facts: dict[str, str] = field(default_factory=dict)
    work_dir: Path | None = None
    results_dir: Path | None = None
    cluster: str | None = None  # a Dask scheduler address or scheduler file; None = run here
    line: int = 0

    @property
    def source_name(self) -> str:
        return self.settings_for(clone="-", db_path=Path("/")).source_name

    def settings_for(self, clone: str, db_path: Path, asv_config: Path | None = None) -> RunSettings:
        runner_root = Path(db_path).resolve().parent / "runner"
        return RunSettings(
            repo=self.repo,
            repository=clone,
            asv_config=asv_config or self.asv_config or Path(clone) / "asv.conf.json",
            machine=self.machine,
            work_dir=self.work_dir or runner_root / "work",
            results_dir=self.results_dir or runner_root / "results",
            jobs=self.jobs,
            cores_per_job=self.cores_per_job,
            timeout_s=self.timeout_s,
            asv_args=self.asv_args,
            python=self.python,
            machine_facts=dict(self.machine_facts),
            cluster=self.cluster,
        )


@dataclass(frozen=True)
class BenchmarksSection:
    targets: tuple[BenchmarkTarget, ...]

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.targets]

    def by_key(self, key: str) -> BenchmarkTarget:
        for target in self.targets:
            if target.key == key:
                return target
        raise KeyError(f"no benchmarks target {key!r}; known: {', '.join(self.keys) or 'none'}")


def parse_benchmarks_section(file: Path, node: yaml.Node, seen: dict[str, int]) -> BenchmarksSection:
    targets = []
    keys: dict[str, int] = {}
    for entry in entries_of(file, node, "benchmarks"):
        target = _target(file, entry)
        if target.key in keys:
            raise fail_at(
                file, entry, f"benchmarks target {target.key!r} is listed twice (first on line {keys[target.key]}); "
                "give one of them a distinct 'name'",
            )  # fmt: skip
        keys[target.key] = target.line
        name = target.source_name
        if name in seen:
            raise fail_at(file, entry, f"results source {name!r} is already used (line {seen[name]})")
        seen[name] = target.line
        targets.append(target)
    return BenchmarksSection(tuple(targets))


def _int(file: Path, node: yaml.Node, what: str, minimum: int = 1) -> int:
    text = scalar_of(file, node, what)
    if not text.isdigit() or int(text) < minimum:
        raise fail_at(file, node, f"{what} must be a whole number of at least {minimum}")
    return int(text)


def _strings(file: Path, node: yaml.Node, what: str) -> tuple[str, ...]:
    if isinstance(node, yaml.SequenceNode):
        return tuple(scalar_of(file, item, f"an item of {what}") for item in node.value)
    return tuple(shlex.split(scalar_of(file, node, what)))


def _target(file: Path, entry: yaml.Node) -> BenchmarkTarget:
    fields = mapping_of(file, entry, "an entry of 'benchmarks'")
    for key, value in fields.items():
        if key not in KEYS:
            raise fail_at(
                file, value, f"unknown key {key!r} in 'benchmarks'; allowed: {', '.join(sorted(KEYS))}"
            )
    for required in ("repo", "machine"):
        if required not in fields:
            raise fail_at(file, entry, f"an entry of 'benchmarks' is missing {required!r}")
    repo = scalar_of(file, fields["repo"], "'repo'")
    problem = repo_problem(repo, "repo")
    if problem:
        raise fail_at(file, fields["repo"], problem)
    machine = scalar_of(file, fields["machine"], "'machine'")
    if not NAME_PART.sub("", machine.lower()) or NAME_PART.search(machine.lower()):
        raise fail_at(
            file, fields["machine"], f"machine {machine!r} may hold only letters, digits, '.', '_' or '-'"
        )
    if ("commits" in fields) == ("from_commits_filtered" in fields):
        raise fail_at(
            file, entry, "a benchmarks target needs exactly one of 'commits' or 'from_commits_filtered'"
        )
    values: dict = {"repo": repo, "machine": machine, "line": entry.start_mark.line + 1}
    if "commits" in fields:
        commits = _strings(file, fields["commits"], "'commits'")
        if not commits:
            raise fail_at(file, fields["commits"], "'commits' is empty")
        values["commits"] = commits
    else:
        values["from_commits_filtered"] = _int(
            file, fields["from_commits_filtered"], "'from_commits_filtered'"
        )
    for key in ("jobs", "cores_per_job"):
        if key in fields:
            values[key] = _int(file, fields[key], f"'{key}'")
    if "timeout_s" in fields:
        text = scalar_of(file, fields["timeout_s"], "'timeout_s'")
        try:
            values["timeout_s"] = float(text)
        except ValueError:
            values["timeout_s"] = -1.0
        if not values["timeout_s"] > 0:
            raise fail_at(file, fields["timeout_s"], "'timeout_s' must be a positive number of seconds")
    if "asv_args" in fields:
        values["asv_args"] = _strings(file, fields["asv_args"], "'asv_args'")
    if "python" in fields:
        values["python"] = scalar_of(file, fields["python"], "'python'")
    if "machine_facts" in fields:
        facts = mapping_of(file, fields["machine_facts"], "'machine_facts'")
        for key, value in facts.items():
            if key not in MACHINE_FACT_KEYS:
                raise fail_at(
                    file, value, f"unknown machine fact {key!r}; allowed: {', '.join(MACHINE_FACT_KEYS)}"
                )
        values["machine_facts"] = {k: scalar_of(file, v, f"'{k}'") for k, v in facts.items()}
    if "clone" in fields:
        clone = scalar_of(file, fields["clone"], "'clone'")
        values["clone"] = clone if URL.match(clone) else str(resolve_local(file, clone))
    else:
        values["clone"] = None
    values["asv_config"] = (
        resolve_local(file, scalar_of(file, fields["asv_config"], "'asv_config'"))
        if "asv_config" in fields
        else None
    )
    for key in ("work_dir", "results_dir"):
        if key in fields:
            values[key] = resolve_local(file, scalar_of(file, fields[key], f"'{key}'"))
    if "cluster" in fields:
        cluster = scalar_of(file, fields["cluster"], "'cluster'")
        if "://" in cluster and not SCHEDULER_ADDRESS.match(cluster):
            raise fail_at(
                file, fields["cluster"],
                f"cluster {cluster!r} must be a scheduler address like tcp://host:8786 or a scheduler file's path",
            )  # fmt: skip
        values["cluster"] = cluster if "://" in cluster else str(resolve_local(file, cluster))
    if "name" in fields:
        key = scalar_of(file, fields["name"], "'name'")
        if not SOURCE_NAME_PATTERN.fullmatch(key):
            raise fail_at(
                file, fields["name"], f"name {key!r} must be lower case letters, digits, '.', '_' or '-'"
            )
    else:
        key = NAME_PART.sub("-", repo.lower().replace("/", "."))
    return BenchmarkTarget(key=key, **values)
