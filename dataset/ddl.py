"""The tables the dataset stage writes (handed to ingest.warehouse.create_schema by the Dagster
WarehouseResource, so dbt can build its sources before the assets first run)."""

DATASET_DDL = """
create schema if not exists raw;
-- Every file of every `agent_results:` folder, once per distinct content (append-only, like
-- raw.asv_result_files but kept apart so agent runs never reach fct_measurements or detection).
create table if not exists raw.agent_result_files (
    agent_name    varchar   not null,  -- the agent_results entry
    relative_path varchar   not null,  -- path inside the folder, '/'-separated
    file_kind     varchar   not null,  -- 'result', 'benchmarks' or 'machine'
    machine_dir   varchar,             -- the machine folder of result and machine files
    sha256        varchar   not null,
    size_bytes    bigint    not null,
    loaded_at     timestamp not null,
    content       varchar   not null   -- the JSON text as written, validated at load
);
-- Files of an agent_results folder that could not be used, with why.
create table if not exists raw.agent_results_quarantine (
    agent_name varchar not null, relative_path varchar not null, sha256 varchar, size_bytes bigint,
    loaded_at timestamp not null, reason varchar not null
);
-- The agent_results entries as they were at each load: a new row only when one changes.
create table if not exists raw.agent_runs (
    agent_name varchar not null, location varchar not null, task_id varchar, repo varchar,
    base_commit varchar, agent_commit varchar, registered_at timestamp not null
);

create schema if not exists dataset;
-- Written by the `commit_reports` asset (dataset/reports.py), replaced whole on every run.
create table if not exists dataset.commit_reports (
    task_id varchar not null, commit_task_id varchar not null, repo varchar not null,
    commit_hash varchar not null, commit_subject varchar, commit_message varchar, commit_author varchar,
    committed_at varchar, pr_number bigint, pr_title varchar, pr_body varchar, pr_labels varchar[],
    pr_author varchar, pr_merged_by varchar, pr_merged_at varchar, pr_merge_commit_sha varchar,
    pr_base_sha varchar, pr_url varchar, n_comments integer, n_reviews integer,
    changed_files struct(path varchar, additions bigint, deletions bigint, coverage double)[],
    coverage_commit double, patch varchar, has_clone boolean not null, report_markdown varchar not null,
    report_path varchar not null, plot_path varchar, built_at timestamp not null
);
"""
