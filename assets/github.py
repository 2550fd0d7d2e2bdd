"""Assets for the GitHub stage: discovery, merged pull requests and changed files (the ingest.github package
does the work; dbt's dim_repositories decides which projects go on).

    raw_github_discovery  ->  dim_repositories (dbt)  ->  raw_github_pull_requests [one partition per project]
                                                 ->  raw_github_commit_files [same partitions]  ->  fct_core_commits (dbt)

The partitions (``github_repos``) are the benchmarked projects of ``dim_repositories``: `datasmith materialize`
adds them when their step comes (assets.partitions), `dagster dev` through the partitions sensor.
"""

import logging
from pathlib import Path

import dagster as dg
import duckdb

from assets.dbt_keys import model_keys
from assets.partitions import DynamicPartitions, KeysFunction
from assets.resources import WarehouseResource
from ingest.github import (
    CloneError,
    GitHubClient,
    clone_path,
    clones_root,
    collect_changed_files,
    collect_pull_requests,
    diffed_commits,
    discover,
    ensure_clone,
    load_token,
    merged_pull_requests,
)
from ingest.sources import GitHubSettings, Sources
from ingest.warehouse import WarehouseLockTimeout, connect_reader, writer_lock

log = logging.getLogger("datasmith")
PARTITIONS_NAME = "github_repos"


def valid_repositories(db_path: Path) -> list[str]:
    """The benchmarked projects in dim_repositories, by stars (none before the first dbt build)."""
    if not Path(db_path).exists():
        return []
    try:
        with writer_lock(db_path, timeout_s=30):  # a reader must not meet a half-written file
            con = connect_reader(db_path)
            try:
                rows = con.execute(
                    "select repo_name from main.dim_repositories order by stars_rank"
                ).fetchall()
                return [name for (name,) in rows]
            finally:
                con.close()
    except (duckdb.Error, WarehouseLockTimeout):  # not built yet, or busy: the next sync finds them
        return []


def partition_keys(sources: Sources) -> dict[str, KeysFunction]:
    """The GitHub stage's dynamic partitions (one per benchmarked project) and where their keys come from."""
    return {PARTITIONS_NAME: valid_repositories} if sources.github is not None else {}


class GitHubResource(dg.ConfigurableResource):
    """Where the GitHub API is. The token is read from GH_TOKEN / GITHUB_TOKEN / tokens.env when a run
    starts and never becomes part of the run's configuration."""

    api_url: str = "https://api.github.com"

    def client(self) -> GitHubClient:
        return GitHubClient(self.api_url, load_token())


def _progress(context):
    def progress(message: str) -> None:
        context.log.info(message)
        log.info(message)

    return progress


def build_github_definitions(
    sources: Sources, db_path: Path, partitions: DynamicPartitions | None = None
) -> dg.Definitions:
    settings: GitHubSettings | None = sources.github
    if settings is None:
        return dg.Definitions()
    partitions_def = (partitions or DynamicPartitions(partition_keys(sources))).definition(PARTITIONS_NAME)
    clones = clones_root(db_path, settings.clones_dir)
    dim_repositories = model_keys("dim_repositories")  # the dbt model that lists the projects to go on with

    @dg.multi_asset(
        name="raw_github_discovery",
        group_name="github",
        specs=[
            dg.AssetSpec(
                ["raw", "github_discovery_responses"],
                kinds={"duckdb", "github"},
                group_name="github",
                description="Discovery's API answers: code search pages, repository metadata, git trees, asv configs.",
            ),
            dg.AssetSpec(
                ["raw", "github_candidates"],
                kinds={"duckdb"},
                group_name="github",
                description="Repositories discovery looked at, and how each was found.",
            ),
            dg.AssetSpec(
                ["raw", "github_repo_facts"],
                kinds={"duckdb"},
                group_name="github",
                description="404/409/451/422 answers recorded as facts about repositories.",
            ),
        ],
        pool="duckdb_writer",
        description=(
            "Find the repositories that configure asv (code search sharded by file size, plus the sources "
            "file's `github.repos`), with their metadata, asv configs and the projects those benchmark."
        ),
    )
    def raw_github_discovery(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, github: GitHubResource
    ):
        progress = _progress(context)
        with github.client() as client, warehouse.get_connection() as con:
            report = discover(client, con, settings, progress)
            stats = client.stats
        progress(report.summary())
        common = {
            "requests": stats.requests,
            "not_modified": stats.not_modified,
            "rows_added": report.rows_added,
        }
        yield dg.MaterializeResult(asset_key=["raw", "github_discovery_responses"], metadata=common)
        yield dg.MaterializeResult(
            asset_key=["raw", "github_candidates"], metadata={"candidates": report.candidates}
        )
        yield dg.MaterializeResult(
            asset_key=["raw", "github_repo_facts"], metadata={"facts": sum(report.facts.values())}
        )

    @dg.multi_asset(
        name="raw_github_pull_requests",
        group_name="github",
        partitions_def=partitions_def,
        specs=[
            dg.AssetSpec(
                ["raw", "github_pull_pages"],
                kinds={"duckdb", "github"},
                group_name="github",
                deps=dim_repositories,
                description="Closed pull requests of a benchmarked project, 100 per page, most discussed first.",
            ),
            dg.AssetSpec(
                ["raw", "github_pull_crawls"],
                kinds={"duckdb"},
                group_name="github",
                deps=dim_repositories,
                description="Each collection of a project's pull requests; an unfinished one resumes.",
            ),
        ],
        pool="duckdb_writer",
        description=(
            "List one project's closed pull requests (up to `max_pull_requests`), resumably and with "
            "conditional requests; merged ones into the default branch become dim_pull_requests."
        ),
    )
    def raw_github_pull_requests(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, github: GitHubResource
    ):
        repo_name = context.partition_key
        progress = _progress(context)
        with github.client() as client, warehouse.get_connection() as con:
            report = collect_pull_requests(client, con, repo_name, settings.max_pull_requests, progress)
            requests = client.stats.requests
        progress(report.summary())
        metadata = {
            "pages_fetched": report.pages_fetched,
            "pages_not_modified": report.pages_not_modified,
            "pages_stored": report.pages_stored,
            "requests": requests,
            "outcome": report.outcome,
        }
        yield dg.MaterializeResult(asset_key=["raw", "github_pull_pages"], metadata=metadata)
        yield dg.MaterializeResult(asset_key=["raw", "github_pull_crawls"], metadata=metadata)

    @dg.multi_asset(
        name="raw_github_commit_files",
        group_name="github",
        partitions_def=partitions_def,
        specs=[
            dg.AssetSpec(
                ["raw", "github_commit_files"],
                kinds={"duckdb", "git"},
                group_name="github",
                deps=[dg.AssetKey(["raw", "github_pull_pages"])],
                description="The files each merged commit changed (git diff --numstat against its first parent).",
            ),
            dg.AssetSpec(
                ["raw", "github_commit_diffs"],
                kinds={"duckdb"},
                group_name="github",
                deps=[dg.AssetKey(["raw", "github_pull_pages"])],
                description="Each merged commit whose changed files were read, and how.",
            ),
        ],
        pool="duckdb_writer",
        description=(
            "Clone one project bare and blob-less (kept under the warehouse's clones/ folder, which the "
            "benchmark runner checks out) and read its merged commits' changed files from it."
        ),
    )
    def raw_github_commit_files(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, github: GitHubResource
    ):
        repo_name = context.partition_key
        progress = _progress(context)
        with warehouse.get_connection() as con:
            row = con.execute(
                "select clone_url, default_branch from main.dim_repositories where lower(repo_name) = lower(?)",
                [repo_name],
            ).fetchone()
            if row is None:
                raise dg.Failure(f"{repo_name} is not in dim_repositories (run the discovery and dbt first)")
            commits = [pr["merge_commit_sha"] for pr in merged_pull_requests(con, repo_name, row[1])]
            pending = set(commits) - diffed_commits(con, repo_name)
        path = clone_path(Path(clones), repo_name)
        if pending:
            try:  # outside the warehouse lock: a clone can take minutes
                ensure_clone(row[0], path)
            except CloneError as exc:
                context.log.warning(f"{repo_name}: cannot clone ({exc}); the API's commit endpoint stands in")
        with github.client() as client, warehouse.get_connection() as con:
            report = collect_changed_files(
                con, repo_name, row[0], path, commits, client, progress, refresh=False
            )
        progress(report.summary())
        metadata = {
            "commits_read": report.commits_read,
            "commits_already_read": report.commits_already_read,
            "commits_missing": report.commits_missing,
            "files": report.files,
            "method": report.method,
            "clone": dg.MetadataValue.path(str(path)),
        }
        yield dg.MaterializeResult(asset_key=["raw", "github_commit_files"], metadata=metadata)
        yield dg.MaterializeResult(asset_key=["raw", "github_commit_diffs"], metadata=metadata)

    return dg.Definitions(
        assets=[raw_github_discovery, raw_github_pull_requests, raw_github_commit_files],
        resources={"github": GitHubResource(api_url=settings.api_url)},
    )
