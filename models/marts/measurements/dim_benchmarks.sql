-- One row per source x benchmark that has measurements, described from benchmarks.json where it
-- lists the benchmark (renamed or removed benchmarks keep their rows, described from their name).
with measured as (
    select
        source_name,
        benchmark,
        any_value(benchmark_type) as benchmark_type,
        any_value(unit)           as unit,
        count(*)                  as n_measurements,
        count(distinct commit_hash) as n_commits,
        count(distinct params)    as n_param_combinations,
        min(commit_date)          as first_commit_date,
        max(commit_date)          as last_commit_date
    from {{ ref('fct_measurements') }}
    group by source_name, benchmark
),

described as (
    select * from {{ ref('stg_results__benchmarks') }}
    qualify row_number() over (partition by source_name, benchmark order by file_loaded_at desc, tree_path) = 1
)

select
    measured.source_name,
    measured.benchmark,
    measured.benchmark_type,
    measured.unit,
    described.benchmark is not null as in_benchmarks_json,
    coalesce(described.param_names, [])  as param_names,
    coalesce(described.param_grid, [])   as param_grid,
    described.benchmark_version,
    described.timeout_s,
    described.code,
    measured.n_measurements,
    measured.n_commits,
    measured.n_param_combinations,
    measured.first_commit_date,
    measured.last_commit_date
from measured
left join described
    on described.source_name = measured.source_name
    and described.benchmark = measured.benchmark
