"""The sources file, typed: one pydantic model per section, the whole file as ``Sources``.

    dashboards: [{name, url, repo}]           published asv sites (DashboardSource)
    results: [{name, path, repo}]             raw asv results trees (ResultsSource)
    github: {discover, repos, ...}            the GitHub stage (GitHubSettings)
    benchmark_runner: [{repo, machine, ...}]  what the runner measures (BenchmarkTarget; was `benchmarks:`)
    detection: {replication: {pairs, min_shared_commits}}       (was `replication:`)
    dataset: {agent_results: [{name, path, task_id, ...}]}      (was `agent_results:`)

``load_sources`` reads the YAML keeping every node's line and hands each scalar to the models as the text
written (``python: 3.10`` stays "3.10"); relative paths resolve against the file's folder. The first mistake
in the file is raised as ``SourcesError("<file>: line N: <message>")``: a sources file is edited by hand and
a traceback helps nobody. ``sources.schema.json`` beside this module is the models' JSON Schema for editors
(``python -m ingest.sources > ingest/sources.schema.json`` writes it; a test keeps it current).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, get_args
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ingest.identifiers import COMMIT_HASH, SOURCE_NAME_PATTERN, name_problem, repo_problem

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES_FILE = PROJECT_ROOT / "sources.yml"
DEFAULT_DB_PATH = PROJECT_ROOT / "artifacts" / "warehouse.duckdb"
SCHEMA_FILE = Path(__file__).with_name("sources.schema.json")

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TOP_N = 350
DEFAULT_MAX_PULL_REQUESTS = 5000
DEFAULT_SEARCH_QUERY = "filename:asv.conf.json"
# The runner's sampling: two rounds interleaved across commits, samples appended, 2 repeats.
DEFAULT_ASV_ARGS = ("--interleave-rounds", "--append-samples", "-a", "rounds=2", "-a", "repeat=2")
# The facts asv's machine.json records (`asv machine --arch ... --cpu ... --num_cpu ... --os ... --ram ...`).
MACHINE_FACT_KEYS = ("arch", "cpu", "num_cpu", "os", "ram")
NAME_PART = re.compile(r"[^a-z0-9_.-]+")

# Anything that starts like a URL ("scheme:/"): it must then be a scheme we read, never a local folder.
URL_LIKE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):/")
DASHBOARD_SCHEMES = ("http", "https", "file")
CLONE_URL = re.compile(r"^(https?|ssh|git|file)://|^git@")
SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss)://[^\s/]+:\d+$")
EMPTY = ("", "null", "~")  # a section or list written with no value is empty
RENAMED = {
    "benchmarks": "'benchmark_runner'",
    "replication": "'detection.replication' (indent it under 'detection:')",
    "agent_results": "'dataset.agent_results' (indent it under 'dataset:')",
}
PAIR_KEYS = ("a_machine", "a_source", "b_machine", "b_source")


class SourcesError(ValueError):
    """A sources file that cannot be used; the message names the file and line."""


def sources_file_from_env() -> Path:
    return Path(os.environ.get("DATASMITH_SOURCES", DEFAULT_SOURCES_FILE)).resolve()


def db_path_from_env() -> Path:
    return Path(os.environ.get("DATASMITH_DB", DEFAULT_DB_PATH)).resolve()


def resolve_local(file: Path | None, location: str) -> Path:
    """A path as written in the sources file: absolute as is, relative to the file's folder otherwise."""
    path = Path(os.path.expanduser(location))
    return path if path.is_absolute() else ((file.parent if file else Path.cwd()) / path).resolve()


def run_source_name(repo: str, machine: str) -> str:
    """The warehouse source a runner target's results land in: run.<owner>.<name>.<machine>, lower case."""
    owner, name = repo.lower().split("/", 1)
    return "run." + ".".join(NAME_PART.sub("-", p).strip("-") or "x" for p in (owner, name, machine.lower()))


# ---- validators: each raises the message a user reads; `at` is where below the value it points ----


def _error(message: str, at: tuple = (), key: bool = False) -> PydanticCustomError:
    return PydanticCustomError("sources", "{message}", {"message": message, "at": at, "key": key})


# The file being loaded and its node lines, for the validators (a context variable, not pydantic's
# validation context: the sources' positional __init__ makes pydantic validate them without it).
_LOADING: ContextVar[dict | None] = ContextVar("sources_loading", default=None)


def _file(info: ValidationInfo) -> Path | None:
    return (_LOADING.get() or {}).get("file")


def _text(value: Any, info: ValidationInfo) -> str:
    if isinstance(value, os.PathLike | int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value == "":
        raise _error(f"'{info.field_name}' must be a non-empty text value")
    return value


def _checked(problem_of, what: str | None = None) -> BeforeValidator:
    """Text that ``problem_of(text, what)`` (an ingest.identifiers rule) accepts."""

    def check(value: Any, info: ValidationInfo) -> str:
        text = _text(value, info)
        problem = problem_of(text, what or info.field_name)
        if problem:
            raise _error(problem)
        return text

    return BeforeValidator(check)


def _whole(minimum: int) -> BeforeValidator:
    def check(value: Any, info: ValidationInfo) -> int:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not (isinstance(text, str) and text.isdigit() and int(text) >= minimum):
            raise _error(f"'{info.field_name}' must be a whole number of at least {minimum}")
        return int(text)

    return BeforeValidator(check)


def _flag(value: Any, info: ValidationInfo) -> bool:
    text = str(value).lower()
    if text not in ("true", "false", "yes", "no", "on", "off"):
        raise _error(f"'{info.field_name}' must be true or false")
    return text in ("true", "yes", "on")


def _local(value: Any, info: ValidationInfo) -> Path:
    return resolve_local(_file(info), _text(value, info))


def _lower_name(text: str, what: str) -> str | None:
    return None if SOURCE_NAME_PATTERN.fullmatch(text) else f"{what} {text!r} must be lower case letters, digits, '.', '_' or '-'"  # fmt: skip


def _commit(text: str, what: str) -> str | None:
    ok = 7 <= len(text) <= 64 and COMMIT_HASH.fullmatch(text)
    return None if ok else f"'{what}' must be a commit hash (7 to 64 hex digits)"


def _machine(text: str, what: str) -> str | None:
    bad = not NAME_PART.sub("", text.lower()) or NAME_PART.search(text.lower())
    return f"machine {text!r} may hold only letters, digits, '.', '_' or '-'" if bad else None


def _dashboard_url(value: Any, info: ValidationInfo) -> str:
    """An http(s) URL (its scheme lower-cased), or an absolute local folder: a path, or a file:// URL
    (file:///abs/path or file://localhost/abs/path). Anything else that looks like a URL is a mistake."""
    url = _text(value, info)
    scheme = URL_LIKE.match(url)
    if scheme is None:
        return str(resolve_local(_file(info), url))
    name, parts = scheme.group(1).lower(), urlsplit(url)
    shown = re.sub(r"^([^/]*//)[^/@]*@", r"\1***@", url)  # what an error may quote: never a password
    if name not in DASHBOARD_SCHEMES:
        raise _error(f"dashboard url {shown!r} has the scheme {scheme.group(1)!r}; "
                     "expected http://, https://, file:// or a local folder")  # fmt: skip
    if name == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise _error(
                f"dashboard url {shown!r}: a file:// URL must name an absolute local folder (file:///path)"
            )
        return str(Path(unquote(parts.path)).resolve())
    if not url[len(scheme.group(0)) :].startswith("/") or not parts.hostname:
        raise _error(f"dashboard url {shown!r} has no host; expected {name}://host/path")
    return name + url[len(scheme.group(1)) :]


def _api_url(value: Any, info: ValidationInfo) -> str:
    url = _text(value, info).rstrip("/")
    if not url.lower().startswith(("http://", "https://")):
        raise _error("'api_url' must be an http(s) URL")
    return url


def _search_query(value: Any, info: ValidationInfo) -> str:
    query = _text(value, info).strip()
    if "size:" in query:
        raise _error("'search_query' must not name size: (discovery shards by size)")
    if not query:
        raise _error("'search_query' must not be empty")
    return query


def _words(value: Any) -> Any:
    """A list, or one line split as a shell would (`asv_args: --quick -e`)."""
    return shlex.split(value) if isinstance(value, str) else value


def _seconds(value: Any, info: ValidationInfo) -> float:
    try:
        seconds = float(_text(value, info))
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise _error("'timeout_s' must be a positive number of seconds")
    return seconds


def _number(value: Any, info: ValidationInfo) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(_text(value, info))
    except ValueError:
        raise _error(f"'{info.field_name}' must be a number") from None


def _fraction(value: Any, info: ValidationInfo) -> float:
    number = _number(value, info)
    if not 0 < number < 1:
        raise _error(f"'{info.field_name}' must be a fraction between 0 and 1 (0.02 is +-2%)")
    return number


def _positive(value: Any, info: ValidationInfo) -> float:
    number = _number(value, info)
    if not number > 0:
        raise _error(f"'{info.field_name}' must be a positive number")
    return number


def _non_negative(value: Any, info: ValidationInfo) -> float:
    number = _number(value, info)
    if not number >= 0:
        raise _error(f"'{info.field_name}' must be zero or a positive number")
    return number


SAMPLING_HELP = "noise-aware asv rounds/repeat from a pilot run (SamplingSettings); absent: asv_args as given"


def _clone(value: Any, info: ValidationInfo) -> str:
    clone = _text(value, info)
    return clone if CLONE_URL.match(clone) else str(resolve_local(_file(info), clone))


def _cluster(value: Any, info: ValidationInfo) -> str:
    cluster = _text(value, info)
    if "://" in cluster and not SCHEDULER_ADDRESS.match(cluster):
        raise _error(f"cluster {cluster!r} must be a scheduler address like tcp://host:8786 or a scheduler file's path")  # fmt: skip
    return cluster if "://" in cluster else str(resolve_local(_file(info), cluster))


def _facts(value: Any) -> Any:
    for key in value if isinstance(value, dict) else ():
        if key not in MACHINE_FACT_KEYS:
            raise _error(
                f"unknown machine fact {key!r}; allowed: {', '.join(MACHINE_FACT_KEYS)}", (key,), True
            )
    return value


Text = Annotated[str, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_flag)]
LocalPath = Annotated[Path, BeforeValidator(_local)]
Repo = Annotated[str, _checked(repo_problem)]
SourceName = Annotated[str, _checked(_lower_name, "source name")]
Commit = Annotated[str, _checked(_commit), AfterValidator(str.lower)]
EmptyList = BeforeValidator(lambda value: [] if value in EMPTY else value)
EmptyMapping = BeforeValidator(lambda value: {} if value in EMPTY else value)
Words = Annotated[tuple[Text, ...], BeforeValidator(_words)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Source(_Model):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # positional, like the dataclasses they were
        super().__init__(**dict(zip(type(self).model_fields, args, strict=False)), **kwargs)


class DashboardSource(_Source):
    """A published asv site: name (lower case, unique), url (http(s) URL, file:// URL or local folder), repo
    (owner/name). Credentials written into the URL (https://user:pass@host/) are taken out of ``url`` (what
    is stored and logged) and kept apart in ``credentials``, out of repr and dumps, for HTTP Basic auth."""

    kind: ClassVar[str] = "dashboard"
    name: SourceName
    url: Annotated[str, BeforeValidator(_dashboard_url)]
    repo: Repo | None = None
    _credentials: tuple[str, str] | None = PrivateAttr(None)

    def model_post_init(self, context: Any) -> None:
        parts = urlsplit(self.url)
        if parts.scheme.lower() in ("http", "https") and "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            self.__dict__["url"] = urlunsplit(parts._replace(netloc=host))
            self._credentials = (unquote(user), unquote(password))

    @property
    def credentials(self) -> tuple[str, str] | None:
        return self._credentials

    @property
    def location(self) -> str:
        return self.url


class ResultsSource(_Source):
    """An asv results tree (or an asv project holding one): name (lower case, unique), path, repo."""

    kind: ClassVar[str] = "results"
    name: SourceName
    path: LocalPath
    repo: Repo | None = None

    @property
    def location(self) -> str:
        return str(self.path)


class GitHubSettings(_Model):
    """`github:` which repositories the GitHub stage looks at. discover: code search for asv.conf.json
    (needs a token); repos: added without search; min_stars: below it a repository is dropped; max_repos
    (alias top_n): the top N benchmarked projects by stars; max_pull_requests: closed pull requests listed
    per repository; api_url: GitHub Enterprise or a local fake; search_query: the code search (sharded by
    size: on top); clones_dir: default <warehouse folder>/clones. Needs discover: true or repos (or both)."""

    model_config = ConfigDict(
        json_schema_extra=lambda schema: schema["properties"].update(top_n={"type": "integer"})
    )
    also_allowed: ClassVar[tuple[str, ...]] = ("top_n",)
    discover: Flag = False
    repos: Annotated[tuple[Annotated[str, _checked(repo_problem, "repository")], ...], EmptyList] = ()
    min_stars: Annotated[int, _whole(0)] = 0
    max_repos: Annotated[int, _whole(1)] = DEFAULT_TOP_N
    max_pull_requests: Annotated[int, _whole(1)] = DEFAULT_MAX_PULL_REQUESTS
    api_url: Annotated[str, BeforeValidator(_api_url)] = DEFAULT_API_URL
    clones_dir: LocalPath | None = None
    # GitHub documents that code search needs "at least one search term"; qualifier-only queries have been
    # accepted in practice, and if that stops, a term can be added here without a code change.
    search_query: Annotated[str, BeforeValidator(_search_query)] = DEFAULT_SEARCH_QUERY

    @model_validator(mode="before")
    @classmethod
    def _top_n_is_max_repos(cls, data: Any) -> Any:
        if isinstance(data, dict) and "top_n" in data:
            if "max_repos" in data:
                raise _error(
                    "'github' has both 'max_repos' and 'top_n'; they are the same setting", ("top_n",)
                )
            data = {("max_repos" if k == "top_n" else k): v for k, v in data.items()}
        return data

    @field_validator("repos")
    @classmethod
    def _listed_once(cls, repos: tuple[str, ...]) -> tuple[str, ...]:
        for i, repo in enumerate(repos):
            if repo.lower() in (r.lower() for r in repos[:i]):
                raise _error(f"repository {repo!r} is listed twice", (i,))
        return repos

    @model_validator(mode="after")
    def _something_to_do(self) -> GitHubSettings:
        if not self.discover and not self.repos:
            raise _error("'github' needs 'discover: true' or a list of 'repos' (or both)")
        return self

    @property
    def top_n(self) -> int:
        return self.max_repos

    def dbt_vars(self) -> dict:
        return {"github_min_stars": self.min_stars, "github_top_n": self.max_repos}


class ProfileSettings(_Model):
    """`profile:` of a benchmark_runner target (benchmark_runner/profiling.py): asv's cProfile of each task's
    improved benchmarks, at the commit before and at the commit, in an extra pass after the timed run.
    enabled (default true when the key is there); top_workloads: the N most improved benchmarks per task
    (default 3). `profile: true` or `profile: false` alone also works; without the key, no profiling."""

    enabled: Flag = True
    top_workloads: Annotated[int, _whole(1)] = 3


def _profile(value: Any, info: ValidationInfo) -> Any:
    return {"enabled": value} if isinstance(value, (bool, str)) else value


class SamplingSettings(_Model):
    """`sampling:` in a benchmark_runner target: noise-aware asv rounds/repeat (benchmark_runner/sampling.py).
    A pilot job (pilot_rounds x pilot_repeat samples, recorded) measures each benchmark's noise; rounds
    (min_rounds) and repeat (at most max_repeat) are then chosen so the widest 99% CI half-width, relative to
    the median, reaches precision (default 0.02) within budget_seconds of benchmark time per commit (default
    60); warmup_time, if given, is passed to asv as it is. Every key is optional."""

    precision: Annotated[float, BeforeValidator(_fraction)] = 0.02
    budget_seconds: Annotated[float, BeforeValidator(_positive)] = 60.0
    pilot_rounds: Annotated[int, _whole(1)] = 2
    pilot_repeat: Annotated[int, _whole(2)] = 10
    min_rounds: Annotated[int, _whole(1)] = 2
    max_repeat: Annotated[int, _whole(1)] = 1000
    warmup_time: Annotated[float, BeforeValidator(_non_negative)] | None = None


class BenchmarkTarget(_Model):
    """A repository the runner measures on one machine: repo, machine (required); clone (a local clone or
    git URL; default the GitHub stage's clone); asv_config (default asv.conf.json in the clone); commits
    (a list) or from_commits_filtered (the latest N of fct_core_commits); machine_facts (arch, cpu, num_cpu,
    os, ram); jobs, cores_per_job (default 1); timeout_s per job (default 3600); asv_args; python (default
    the config's first); name (the partition key, default <owner>.<name>); work_dir, results_dir (default
    <warehouse dir>/runner/work|results); cluster (a Dask scheduler address or file; default: here); profile
    (asv's cProfile of each task, benchmark_runner/profiling.py; default off).
    The results become the warehouse source run.<owner>.<name>.<machine>."""

    repo: Repo
    machine: Annotated[str, _checked(_machine)]
    clone: Annotated[str, BeforeValidator(_clone)] | None = None
    asv_config: LocalPath | None = None
    commits: Words = ()
    from_commits_filtered: Annotated[int, _whole(1)] | None = None
    machine_facts: Annotated[dict[str, Text], BeforeValidator(_facts)] = Field(default_factory=dict)
    jobs: Annotated[int, _whole(1)] = 1
    cores_per_job: Annotated[int, _whole(1)] = 1
    timeout_s: Annotated[float, BeforeValidator(_seconds)] = 3600.0
    asv_args: Words = DEFAULT_ASV_ARGS
    sampling: Annotated[SamplingSettings, EmptyMapping] | None = Field(None, description=SAMPLING_HELP)
    python: Text | None = None
    name: Annotated[str, _checked(_lower_name)] | None = None
    work_dir: LocalPath | None = None
    results_dir: LocalPath | None = None
    cluster: Annotated[str, BeforeValidator(_cluster)] | None = None
    profile: Annotated[ProfileSettings, BeforeValidator(_profile)] | None = None  # off without the key
    _line: int = PrivateAttr(0)

    @field_validator("commits")
    @classmethod
    def _not_empty(cls, commits: tuple[str, ...]) -> tuple[str, ...]:
        if not commits:
            raise _error("'commits' is empty")
        return commits

    @model_validator(mode="after")
    def _one_way_to_commits(self) -> BenchmarkTarget:
        if bool(self.commits) == (self.from_commits_filtered is not None):
            raise _error(
                "a benchmark_runner target needs exactly one of 'commits' or 'from_commits_filtered'"
            )
        return self

    @property
    def key(self) -> str:
        """The Dagster partition key."""
        return self.name or NAME_PART.sub("-", self.repo.lower().replace("/", "."))

    @property
    def source_name(self) -> str:
        return run_source_name(self.repo, self.machine)

    @property
    def line(self) -> int:
        return self._line


class BenchmarkRunnerSection(RootModel[Annotated[tuple[BenchmarkTarget, ...], EmptyList]]):
    """`benchmark_runner:` the list of targets."""

    model_config = ConfigDict(frozen=True)

    @property
    def targets(self) -> tuple[BenchmarkTarget, ...]:
        return self.root

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.root]

    def by_key(self, key: str) -> BenchmarkTarget:
        for target in self.root:
            if target.key == key:
                return target
        raise KeyError(f"no benchmark_runner target {key!r}; known: {', '.join(self.keys) or 'none'}")


class ReplicationPair(_Model):
    a_source: Text
    a_machine: Text
    b_source: Text
    b_machine: Text

    @model_validator(mode="before")
    @classmethod
    def _all_four(cls, data: Any) -> Any:
        if isinstance(data, dict) and sorted(data) != list(PAIR_KEYS):
            raise _error(f"a replication pair needs exactly {', '.join(PAIR_KEYS)}")
        return data


class ReplicationSettings(_Model):
    """Which measurement sets to compare (dbt vars of fct_replication_set_pairs): explicit pairs, and the
    shared commits automatic pairs need."""

    pairs: Annotated[tuple[ReplicationPair, ...], EmptyList] = ()
    min_shared_commits: Annotated[int, _whole(0)] = 10


class DetectionSettings(_Model):
    """`detection:` settings of the detection stage."""

    replication: Annotated[ReplicationSettings, EmptyMapping] = ReplicationSettings()


class AgentResults(_Model):
    """An optimizer's own asv results, one folder per run: name (lower case, unique among all sources),
    path (an asv results tree or a project holding one), task_id (the task it attempted) or else repo and
    base_commit (the commit it started from), agent_commit (which measured commit is the optimizer's;
    default every result file not at the base commit)."""

    name: SourceName
    path: LocalPath
    task_id: Annotated[str, _checked(name_problem)] | None = None
    repo: Repo | None = None
    base_commit: Commit | None = None
    agent_commit: Commit | None = None

    @model_validator(mode="after")
    def _task_or_commit(self) -> AgentResults:
        has_commit = self.repo is not None and self.base_commit is not None
        if (self.task_id is not None) == has_commit or (self.repo is None) != (self.base_commit is None):
            raise _error(f"agent_results entry {self.name!r} needs either 'task_id' or both 'repo' and 'base_commit'")  # fmt: skip
        return self


class DatasetSettings(_Model):
    """`dataset:` inputs of the dataset stage."""

    agent_results: Annotated[tuple[AgentResults, ...], EmptyList] = ()


class Sources(_Model):
    """The sources file: which dashboards and results trees the warehouse ingests, and the stages' settings."""

    dashboards: Annotated[tuple[DashboardSource, ...], EmptyList] = ()
    results: Annotated[tuple[ResultsSource, ...], EmptyList] = ()
    github: Annotated[GitHubSettings | None, BeforeValidator(lambda v: None if v in EMPTY else v)] = None
    benchmark_runner: BenchmarkRunnerSection = BenchmarkRunnerSection(())
    detection: Annotated[DetectionSettings, EmptyMapping] = DetectionSettings()
    dataset: Annotated[DatasetSettings, EmptyMapping] = DatasetSettings()
    _file: Path = PrivateAttr(DEFAULT_SOURCES_FILE)

    @model_validator(mode="before")
    @classmethod
    def _renamed_sections(cls, data: Any) -> Any:
        for old, new in RENAMED.items():
            if isinstance(data, dict) and old in data:
                raise _error(f"section {old!r} is now {new}", (old,), True)
        return data

    @model_validator(mode="after")
    def _names_once(self) -> Sources:
        """Every source name once across sections; replication pairs name sources of this file."""
        line = (_LOADING.get() or {}).get("line", lambda loc: 0)
        seen: dict[str, tuple] = {}  # name -> where it was first used
        named = [
            ((s, i, "name"), e.name)
            for s in ("dashboards", "results")
            for i, e in enumerate(getattr(self, s))
        ]
        for at, name in named:
            if name in seen:
                raise _error(f"source name {name!r} is used twice (first on line {line(seen[name])})", at)
            seen[name] = at
        for i, pair in enumerate(self.detection.replication.pairs):
            for side in ("a_source", "b_source"):
                if getattr(pair, side) not in seen:
                    at = ("detection", "replication", "pairs", i, side)
                    raise _error(f"replication names {getattr(pair, side)!r}, which is not a source here", at)
        keys: dict[str, tuple] = {}
        for i, target in enumerate(self.benchmark_runner.targets):
            at, name = ("benchmark_runner", i), target.source_name
            if target.key in keys:
                raise _error(f"benchmark_runner target {target.key!r} is listed twice (first on line "
                             f"{line(keys[target.key])}); give one of them a distinct 'name'", at)  # fmt: skip
            if name in seen:
                raise _error(f"results source {name!r} is already used (line {line(seen[name])})", at)
            keys[target.key] = seen[name] = at
        for i, entry in enumerate(self.dataset.agent_results):
            at = ("dataset", "agent_results", i, "name")
            if entry.name in seen:
                raise _error(
                    f"source name {entry.name!r} is used twice (first on line {line(seen[entry.name])})", at
                )
            seen[entry.name] = at
        return self

    @property
    def file(self) -> Path:
        return self._file

    @property
    def all(self) -> tuple[DashboardSource | ResultsSource, ...]:
        return (*self.dashboards, *self.results)

    def by_name(self, name: str) -> DashboardSource | ResultsSource:
        for source in self.all:
            if source.name == name:
                return source
        raise SourcesError(
            f"{self.file}: no source named {name!r}; known: {', '.join(s.name for s in self.all)}"
        )

    def dbt_vars(self) -> dict:
        replication = self.detection.replication
        return {
            "replication_pairs": [pair.model_dump() for pair in replication.pairs],
            "replication_min_shared_commits": replication.min_shared_commits,
            **(self.github.dbt_vars() if self.github else {}),
        }


# ---- the file: YAML with lines, validated by the models, errors mapped back to their line ----


def load_sources(path: str | os.PathLike | None = None) -> Sources:
    file = Path(path).resolve() if path else sources_file_from_env()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {file}: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise SourcesError(
            f"{file}: {where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"
        ) from exc
    if root is None:
        raise SourcesError(f"{file}: the file is empty; expected 'dashboards:' and/or 'results:' lists")

    def line(loc: tuple, key: bool = False) -> int:
        node, key_node = _node_at(root, loc)
        return ((key_node if key and key_node is not None else node).start_mark.line) + 1

    loading = _LOADING.set({"file": file, "line": line})
    try:
        sources = Sources.model_validate(_plain(file, root, "the sources file"))
    except ValidationError as exc:
        mistakes = []
        for error in exc.errors(include_url=False):
            loc, ctx = tuple(error["loc"]), error.get("ctx") or {}
            if error["type"] == "sources":
                loc, message, key = loc + tuple(ctx["at"]), ctx["message"], ctx["key"]
            else:
                message, key = _message(error["type"], loc, error["msg"]), error["type"] == "extra_forbidden"
            # an unknown key is told before a missing one in the same entry (a misspelt key is both)
            unknown = error["type"] == "extra_forbidden"
            mistakes.append((line(loc[:-1] if unknown else loc), not unknown, line(loc, key), message))
        _, _, first_line, message = min(mistakes, key=lambda m: m[:3])
        raise SourcesError(f"{file}: line {first_line}: {message}") from None
    finally:
        _LOADING.reset(loading)
    sources._file = file
    for i, target in enumerate(sources.benchmark_runner.targets):
        target._line = line(("benchmark_runner", i))
    return sources


def _plain(file: Path, node: yaml.Node, what: str) -> Any:
    """The YAML as dicts, lists and the text of each scalar; a key given twice is an error."""
    if isinstance(node, yaml.SequenceNode):
        return [_plain(file, item, f"an entry of {what}") for item in node.value]
    if not isinstance(node, yaml.MappingNode):
        return node.value
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in out:
            raise SourcesError(
                f"{file}: line {key_node.start_mark.line + 1}: {what} has the key {key!r} twice"
            )
        out[key] = _plain(file, value_node, f"'{key}'")
    return out


def _node_at(root: yaml.Node, loc: tuple) -> tuple[yaml.Node, yaml.Node | None]:
    """The node at a pydantic error's loc (and its key's node): as deep as the file goes."""
    node, key_node = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = [(k, v) for k, v in node.value if k.value == part]
            if not found:
                break
            key_node, node = found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            key_node, node = None, node.value[part]
        else:
            break
    return node, key_node


def _model_at(loc: tuple) -> type[BaseModel] | None:
    def model_in(kind: Any) -> type[BaseModel] | None:
        if isinstance(kind, type) and issubclass(kind, RootModel):
            return model_in(kind.model_fields["root"].annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
        return next((m for m in map(model_in, get_args(kind)) if m is not None), None)

    model: type[BaseModel] | None = Sources
    for part in loc:
        if isinstance(part, str) and model is not None:
            model = model_in(model.model_fields[part].annotation) if part in model.model_fields else None
    return model


def _message(kind: str, loc: tuple, fallback: str) -> str:
    """Pydantic's own error types, said the way the sources file's readers know them."""
    parent, last = loc[:-1], (loc[-1] if loc else "")
    section = ".".join(str(p) for p in parent if isinstance(p, str))
    here = ".".join(str(p) for p in loc if isinstance(p, str))
    entry = bool(parent) and isinstance(parent[-1], int)
    if kind == "extra_forbidden" and not parent:
        return f"unknown section {last!r}; expected one of {', '.join(map(repr, Sources.model_fields))}"
    if kind == "extra_forbidden":
        model = _model_at(parent)
        allowed = sorted([*model.model_fields, *getattr(model, "also_allowed", ())]) if model else []
        return f"unknown key {last!r} in '{section}'; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"an entry of '{section}' is missing {last!r}" if entry else f"'{section}' is missing {last!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if not loc:
            return "the sources file must be a mapping of keys to values"
        return f"an entry of '{here}' must be a mapping of keys to values" if isinstance(last, int) else (
            f"'{here}' must be a mapping of keys to values"
        )  # fmt: skip
    if kind in ("tuple_type", "list_type"):
        return f"'{here}' must be a list of entries (each starting with '- name: ...')"
    return f"'{here}': {fallback}"


def schema_text() -> str:
    """The JSON Schema of the sources file, as committed in ingest/sources.schema.json."""
    return json.dumps(Sources.model_json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
