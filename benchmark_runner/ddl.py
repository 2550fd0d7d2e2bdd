"""raw.benchmark_runs, handed to ingest.warehouse.create_schema by assets.resources (kept import-light)."""

BENCHMARK_RUNS_DDL = """
create schema if not exists raw;
-- One row per benchmark-runner job (one commit measured once), from the job's record file; append-only.
create table if not exists raw.benchmark_runs (
    run_id            varchar   not null,  -- the job attempt
    source_name       varchar   not null,  -- run.<owner>.<name>.<machine>: where its results were ingested
    repo              varchar   not null,  -- owner/name
    commit_hash       varchar   not null,
    status            varchar   not null,  -- ok, build_failed, benchmark_failed, timeout
    machine           varchar   not null,
    env_name          varchar   not null,  -- asv environment, e.g. virtualenv-py3.11
    asv_args          varchar   not null,  -- JSON list of the extra `asv run` arguments
    asv_args_hash     varchar   not null,
    started_at        timestamp,
    finished_at       timestamp,
    env_build_seconds double,              -- creating the job's asv environment (0 when reused)
    benchmark_seconds double,              -- the `asv run` process, wall clock
    install_seconds   double,              -- asv's build+install of the commit, when asv recorded it
    exit_code         integer,
    slot              integer,
    cores             varchar,             -- the cores the job was pinned to, comma-separated
    log_path          varchar,
    results_path      varchar,             -- the results tree the job published into
    result_files      varchar,             -- JSON list of its result files, relative to the source folder
    message           varchar,
    record_path       varchar   not null,  -- provenance: the record file, its hash, when it was loaded
    sha256            varchar   not null,
    loaded_at         timestamp not null,
    sampling_settings varchar,             -- noise-aware sampling: JSON of the asv attributes chosen (rounds, repeat, ...)
    sampling_noise    varchar              -- JSON: the pilot's noise per benchmark, the choice, the pilot itself
);
-- warehouses made before noise-aware sampling
alter table raw.benchmark_runs add column if not exists sampling_settings varchar;
alter table raw.benchmark_runs add column if not exists sampling_noise varchar;
"""
