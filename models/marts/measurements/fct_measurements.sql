{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_name', 'file_path'],
        on_schema_change='append_new_columns',
    )
}}
-- depends_on: {{ ref('stg_results__benchmarks') }}
-- depends_on: {{ ref('stg_results__configs') }}
-- depends_on: {{ ref('stg_sources__source_registry') }}
-- depends_on: {{ ref('stg_dashboards__indexes') }}
-- The warehouse's contract: one row per source x machine x environment x commit x benchmark x
-- parameter combination. Incremental by file: a run collates only the files loaded since the last
-- one (and every file of a source whose benchmarks.json or sources entry changed), replacing all the
-- rows of each such file, so a re-loaded file never leaves stale rows behind.
with sources as (
    select * from {{ ref('stg_sources__source_registry') }}
),

-- The repo named by asv.conf.json, parsed once per source here rather than once per row below (a
-- regex on each of millions of rows; with the type rules in int_results__measurements, ~11% of this
-- model's CPU).
configs as (
    select
        *,
        nullif(regexp_extract(repo_url, 'github\.com[/:]([^/]+/[^/]+?)(\.git)?/?$', 1), '') as repo_from_url
    from {{ ref('stg_results__configs') }}
),

{#- The watermark and the sources whose metadata changed are read before the query is compiled, so
    the filter is made of constants that DuckDB pushes below the unnesting: only the new files are
    expanded at all. -#}
{% set files_since = "-infinity" %}
{% set changed_sources = [] %}
{% if is_incremental() and execute %}
    {% set watermark = run_query(
        "select coalesce(max(file_loaded_at), '-infinity'::timestamp)::varchar, "
        ~ "coalesce(max(loaded_at), '-infinity'::timestamp)::varchar from " ~ this
    ) %}
    {% set files_since = watermark.columns[0].values()[0] %}
    {% set metadata_since = watermark.columns[1].values()[0] %}
    {% set changed = run_query(
        "select source_name from " ~ ref('stg_sources__source_registry')
        ~ " where registered_at > timestamp '" ~ metadata_since ~ "'"
        ~ " union select source_name from " ~ ref('stg_results__benchmarks')
        ~ " where file_loaded_at > timestamp '" ~ metadata_since ~ "'"
        ~ " union select source_name from " ~ ref('stg_results__configs')
        ~ " where file_loaded_at > timestamp '" ~ metadata_since ~ "'"
        ~ " union select source_name from " ~ ref('stg_dashboards__indexes')
        ~ " where file_loaded_at > timestamp '" ~ metadata_since ~ "'"
    ) %}
    {% set changed_sources = changed.columns[0].values() | list %}
{% endif %}

{% set changed_files_only %}
    {% if is_incremental() %}
    where file_loaded_at > timestamp '{{ files_since }}'
    {% for name in changed_sources %}
       or source_name = '{{ name | replace("'", "''") }}'
    {% endfor %}
    {% endif %}
{% endset %}

results_measurements as (
    select * from {{ ref('int_results__measurements') }}
    {{ changed_files_only }}
),

dashboard_measurements as (
    select * from {{ ref('int_dashboards__measurements') }}
    {{ changed_files_only }}
),

from_results as (
select
    m.source_name,
    'results'                                             as source_kind,
    coalesce(sources.repo, configs.repo_from_url)         as repo,
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
    m.problem                                             as read_problem,
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
),

-- Published dashboards: revisions known, no statistics; several results of one revision and
-- configuration were already averaged by `asv publish`.
from_dashboards as (
select
    m.source_name,
    'dashboard'                                           as source_kind,
    coalesce(sources.repo, m.site_repo)                   as repo,
    m.machine,
    m.env_name,
    m.benchmark,
    m.params,
    m.param_index,
    m.commit_hash,
    m.revision,
    m.commit_date,
    m.value,
    m.status,
    m.unit,
    m.benchmark_type,
    cast(null as double)                                  as ci_99_a,
    cast(null as double)                                  as ci_99_b,
    cast(null as double)                                  as q_25,
    cast(null as double)                                  as q_75,
    cast(null as bigint)                                  as stats_number,
    cast(null as bigint)                                  as stats_repeat,
    cast(null as integer)                                 as n_samples,
    m.benchmark_version,
    cast(null as timestamp)                               as started_at,
    m.file_path,
    m.file_sha256,
    m.file_loaded_at,
    greatest(m.file_loaded_at, m.index_loaded_at, sources.registered_at) as loaded_at,
    m.problem                                             as read_problem
from dashboard_measurements as m
left join sources on sources.source_name = m.source_name
),

unioned as (
    select * from from_results
    union all by name
    select * from from_dashboards
),

-- One rule for both kinds: a value that detection and speed-ups must not use is 'invalid', with the
-- reason. Unlabelled (params null: the vector did not fit the grid), infinite, or <= 0 for a time
-- benchmark (an underflowed 0 or a negative time made infinite or negative speed-ups).
judged as (
    select
        *,
        case
            when status = 'invalid' then read_problem
            when params is null then 'the values do not fit the params grid: params unknown'
            when status <> 'ok' then null
            when isinf(value) then 'value is infinite'
            when benchmark_type = 'time' and value <= 0 then 'a time of ' || value || ' s (not above 0)'
        end as invalid_reason
    from unioned
)

select
    * exclude (invalid_reason, read_problem)
        replace (case when invalid_reason is not null then 'invalid' else status end as status),
    -- Why the row is 'invalid', else what in its file could not be read (null when nothing).
    coalesce(invalid_reason, read_problem) as problem
from judged
