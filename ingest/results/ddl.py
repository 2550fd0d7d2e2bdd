"""The tables the results stage writes (ingest.results.load); the Dagster WarehouseResource hands them to
ingest.warehouse.create_schema."""

RESULTS_DDL = """
create schema if not exists raw;

-- One row per distinct version of each file of a results tree (append-only).
create table if not exists raw.asv_result_files (
    source_name   varchar   not null,  -- the sources-file entry the file came from
    relative_path varchar   not null,  -- path inside the source folder, '/'-separated
    tree_path     varchar   not null,  -- the results folder (holding benchmarks.json) it belongs to
    machine_dir   varchar   not null,  -- asv's machine name: the folder the file sits in
    sha256        varchar   not null,
    size_bytes    bigint    not null,
    loaded_at     timestamp not null,
    content       varchar   not null   -- the file's JSON text as written, validated at load
);
create table if not exists raw.asv_benchmark_files (
    source_name varchar not null, relative_path varchar not null, tree_path varchar not null,
    sha256 varchar not null, size_bytes bigint not null, loaded_at timestamp not null, content varchar not null
);
create table if not exists raw.asv_machine_files (
    source_name varchar not null, relative_path varchar not null, tree_path varchar not null,
    machine_dir varchar not null, sha256 varchar not null, size_bytes bigint not null,
    loaded_at timestamp not null, content varchar not null
);
-- asv.conf.json is JSON with // comments; content holds it as plain JSON, the comments stripped.
create table if not exists raw.asv_config_files (
    source_name varchar not null, relative_path varchar not null, sha256 varchar not null,
    size_bytes bigint not null, loaded_at timestamp not null, content varchar not null
);
-- Every results file that could not be loaded, with why; its bytes are kept (decoded leniently).
create table if not exists raw.results_quarantine (
    source_name   varchar   not null,
    relative_path varchar   not null,
    sha256        varchar,
    size_bytes    bigint,
    loaded_at     timestamp not null,
    reason        varchar   not null,
    content       varchar
);
"""
