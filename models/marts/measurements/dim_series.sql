-- One row per series (source x machine x environment x benchmark x parameter combination): what
-- change-point detection runs over, with how many points were measured, failed or skipped.
select
    md5(concat_ws(chr(31), source_name, machine, env_name, benchmark, params)) as series_id,
    source_name,
    any_value(source_kind)                                  as source_kind,
    any_value(repo)                                         as repo,
    machine,
    env_name,
    benchmark,
    params,
    any_value(benchmark_type)                               as benchmark_type,
    any_value(unit)                                         as unit,
    count(distinct commit_hash) filter (where status = 'ok') as n_points,
    count(*) filter (where status = 'failed')               as n_failed,
    count(*) filter (where status = 'skipped')              as n_skipped,
    min(commit_date)                                        as first_commit_date,
    max(commit_date)                                        as last_commit_date
from {{ ref('fct_measurements') }}
group by source_name, machine, env_name, benchmark, params
