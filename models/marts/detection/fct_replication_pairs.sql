-- Per pair of measurement sets x method x commit range x series: the speed-up over the same commit
-- range (value at commit_before / value at commit_after) in set A and in set B, and whether each set
-- flagged an improvement there. The ranges are the significant change points above the floor that
-- either set's detection found; a series is matched across sets on benchmark, params and the
-- environment's Python version (`env_key`): tools and pinned requirements differ between machines
-- and between a dashboard (no tool recorded) and raw results.
--
-- Shape: each of the four point lookups joins on one key column of its own (a row value of the
-- series columns and the commit). Written as four multi-column joins sharing the range's series
-- columns, DuckDB's join order optimizer may join two lookups to each other on the series columns
-- alone (every commit of a series against every other: sum(points per series)^2 rows, issue 14).
-- A view, as it was when it was an intermediate model (the layering moved it here: it reads marts).
{{ config(materialized='view') }}
with set_pairs as (
    select * from {{ ref('fct_replication_set_pairs') }}
),

series as (
    select
        *,
        regexp_extract(env_name, '(^|-)py([0-9]+(\.[0-9]+)*)', 2) as env_key
    from {{ ref('dim_series') }}
),

points as (
    select
        (series.source_name, series.machine, series.benchmark, series.params, series.env_key,
         points.commit_hash) as point_key,
        points.value
    from {{ ref('fct_series_points') }} as points
    join series using (series_id)
),

ranges as (
    select distinct
        set_pairs.repo, set_pairs.a_source, set_pairs.a_machine, set_pairs.b_source, set_pairs.b_machine,
        cp.method, cp.benchmark, cp.params,
        regexp_extract(cp.env_name, '(^|-)py([0-9]+(\.[0-9]+)*)', 2) as env_key,
        cp.commit_before, cp.commit_after
    from {{ ref('fct_change_points') }} as cp
    join set_pairs
        on (cp.source_name, cp.machine) in ((set_pairs.a_source, set_pairs.a_machine),
                                            (set_pairs.b_source, set_pairs.b_machine))
    where cp.significant and cp.passes_floor
),

improvements as (
    select distinct source_name, machine, method, benchmark, params,
           regexp_extract(env_name, '(^|-)py([0-9]+(\.[0-9]+)*)', 2) as env_key,
           commit_after
    from {{ ref('fct_performance_improvements') }}
)

select
    ranges.repo,
    ranges.method,
    ranges.a_source,
    ranges.a_machine,
    ranges.b_source,
    ranges.b_machine,
    ranges.benchmark,
    ranges.params,
    ranges.env_key,
    ranges.commit_before,
    ranges.commit_after,
    a_before.value / a_after.value            as speedup_a,
    b_before.value / b_after.value            as speedup_b,
    ln(a_before.value / a_after.value)        as log_speedup_a,
    ln(b_before.value / b_after.value)        as log_speedup_b,
    improvement_a.commit_after is not null    as improvement_a,
    improvement_b.commit_after is not null    as improvement_b
from ranges
join points as a_before
    on a_before.point_key
     = (ranges.a_source, ranges.a_machine, ranges.benchmark, ranges.params, ranges.env_key, ranges.commit_before)
join points as a_after
    on a_after.point_key
     = (ranges.a_source, ranges.a_machine, ranges.benchmark, ranges.params, ranges.env_key, ranges.commit_after)
join points as b_before
    on b_before.point_key
     = (ranges.b_source, ranges.b_machine, ranges.benchmark, ranges.params, ranges.env_key, ranges.commit_before)
join points as b_after
    on b_after.point_key
     = (ranges.b_source, ranges.b_machine, ranges.benchmark, ranges.params, ranges.env_key, ranges.commit_after)
left join improvements as improvement_a
    on (improvement_a.source_name, improvement_a.machine, improvement_a.method, improvement_a.benchmark,
        improvement_a.params, improvement_a.env_key, improvement_a.commit_after)
     = (ranges.a_source, ranges.a_machine, ranges.method, ranges.benchmark, ranges.params, ranges.env_key,
        ranges.commit_after)
left join improvements as improvement_b
    on (improvement_b.source_name, improvement_b.machine, improvement_b.method, improvement_b.benchmark,
        improvement_b.params, improvement_b.env_key, improvement_b.commit_after)
     = (ranges.b_source, ranges.b_machine, ranges.method, ranges.benchmark, ranges.params, ranges.env_key,
        ranges.commit_after)
where a_before.value > 0 and a_after.value > 0 and b_before.value > 0 and b_after.value > 0
