{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_name', 'file_path'],
        on_schema_change='append_new_columns',
    )
}}
-- depends_on: {{ ref('stg_results__benchmarks') }}
-- The warehouse's contract: one row per source x machine x environment x commit x benchmark x
-- parameter combination. Incremental by file: a run collates only the files loaded since the last
-- one (and every file of a source whose benchmarks.json or sources entry changed), replacing all the
-- rows of each such file, so a re-loaded file never leaves stale rows behind.
with sources as (
    select * from {{ ref('stg_ingest__sources') }}
),

configs as (
    select * from {{ ref('stg_results__configs') }}
),

results_measurements as (
    select * from {{ ref('int_results__measurements') }}
    {% if is_incremental() %}
    where file_loaded_at > (select coalesce(max(file_loaded_at), '-infinity'::timestamp) from {{ this }})
       or source_name in (
           select source_name from sources
           where registered_at > (select coalesce(max(loaded_at), '-infinity'::timestamp) from {{ this }})
           union all
           select source_name from {{ ref('stg_results__benchmarks') }}
           where file_loaded_at > (select coalesce(max(loaded_at), '-infinity'::timestamp) from {{ this }})
           union all
           select source_name from configs
           where file_loaded_at > (select coalesce(max(loaded_at), '-infinity'::timestamp) from {{ this }})
       )
    {% endif %}
)

select
    m.source_name,
    'results'                                             as source_kind,
    coalesce(
        sources.repo,
        nullif(regexp_extract(configs.repo_url, 'github\.com[/:]([^/]+/[^/]+?)(\.git)?/?$', 1), '')
    )                                                     as repo,
    m.machine,
    m.env_name,
    m.benchmark,
    m.params,
    m.param_index,
    m.commit_hash,
    cast(null as bigint)                                  as revision,
    m.commit_date,
    m.value,
    m.status,
    m.unit,
    m.benchmark_type,
    m.ci_99_a,
    m.ci_99_b,
    m.q_25,
    m.q_75,
    m.stats_number,
    m.stats_repeat,
    m.n_samples,
    m.benchmark_version,
    m.started_at,
    m.file_path,
    m.file_sha256,
    m.file_loaded_at,
    greatest(m.file_loaded_at, m.benchmarks_loaded_at, sources.registered_at, configs.file_loaded_at) as loaded_at
from results_measurements as m
left join sources on sources.source_name = m.source_name
left join configs on configs.source_name = m.source_name
