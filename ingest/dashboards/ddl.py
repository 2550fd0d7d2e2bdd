"""The dashboards stage's raw tables: ``raw.dashboard_files``, ``raw.dashboard_crawls`` and
``raw.dashboard_missing`` (append-only; created by the loader and by the warehouse's raw schema)."""

DASHBOARD_DDL = """
create schema if not exists raw;

-- One row per distinct version of each file of a published asv dashboard (append-only): a new row
-- only when the file's content differs from its latest stored version.
create table if not exists raw.dashboard_files (
    source_name   varchar   not null,  -- the sources-file entry
    url           varchar   not null,  -- what was fetched (http(s) or file://)
    relative_path varchar   not null,  -- path inside the site, '/'-separated, not percent-encoded
    kind          varchar   not null,  -- index | info | series | summary_series | config_summary | regressions
    config_path   varchar,             -- series and config_summary: the config folder under graphs/
    config        varchar,             -- series and config_summary: the configuration, as JSON
    machine       varchar,             -- series and config_summary: the configuration's machine
    env_name      varchar,             -- series and config_summary: asv's environment name (no tool)
    benchmark     varchar,             -- series and summary_series: the benchmark name
    http_status   integer,             -- 200 (a local folder reports the same codes)
    etag          varchar,             -- validators kept for the next run's conditional request
    last_modified varchar,
    sha256        varchar   not null,
    size_bytes    bigint    not null,
    fetched_at    timestamp not null,
    content       varchar   not null   -- the JSON text as served, validated at load
);
-- One row per crawl that went through to the end, with the index.json and info.json it saw and how
-- many files failed transiently (retries used up on 429/5xx/timeouts/truncated bodies, robots.txt
-- unreachable). An unchanged pair lets the next run stop early only when the latest such crawl was
-- complete: nothing failed transiently (never after a crash either).
create table if not exists raw.dashboard_crawls (
    source_name    varchar   not null,
    completed_at   timestamp not null,
    index_sha256   varchar,
    info_sha256    varchar,
    files_promised integer
);
alter table raw.dashboard_crawls add column if not exists files_failed_transiently integer;
-- Promised files that could not be had, with why (404, bad JSON, truncated, refused redirect,
-- too large, robots.txt), and graph_param_list entries that are no configuration (kind 'config',
-- relative_path 'index.json#graph_param_list[i]'). A new row only when a file's state changes.
create table if not exists raw.dashboard_missing (
    source_name   varchar   not null,
    url           varchar   not null,
    relative_path varchar   not null,
    kind          varchar   not null,
    http_status   integer,
    reason        varchar   not null,
    attempts      integer   not null,
    fetched_at    timestamp not null
);
"""
