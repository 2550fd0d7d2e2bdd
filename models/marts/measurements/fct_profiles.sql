-- One row per profile (result file x benchmark) x function, with the project it belongs to and the
-- profile's total: asv's cProfile data as pstats reads it. profile_total_time is pstats' total_tt (the
-- sum of every function's own time), so cumulative_share is the share of the profiled call that the
-- function and its callees took.
with profiles as (
    select * from {{ ref('stg_results__profiles') }}
),

registry as (
    select source_name, repo from {{ ref('stg_sources__source_registry') }}
)

select
    md5(p.origin || '|' || p.source_name || '|' || p.file_path || '|' || p.benchmark) as profile_id,
    p.origin,
    p.source_name,
    p.file_path,
    p.file_sha256,
    coalesce(p.repo, registry.repo)                                          as repo,
    p.machine,
    p.env_name,
    p.commit_hash,
    p.benchmark,
    p.function_file,
    p.function_line,
    p.function_name,
    p.function_path,
    p.function_label,
    p.primitive_calls,
    p.total_calls,
    p.total_time,
    p.cumulative_time,
    sum(p.total_time) over (partition by p.origin, p.source_name, p.file_path, p.benchmark) as profile_total_time,
    p.cumulative_time / nullif(
        sum(p.total_time) over (partition by p.origin, p.source_name, p.file_path, p.benchmark), 0
    )                                                                        as cumulative_share,
    p.loaded_at
from profiles as p
left join registry on registry.source_name = p.source_name
