-- Every measured point of every series, in commit order: one series per source x machine x
-- environment x benchmark x parameter combination. Failed and skipped points are left out here
-- (dim_series counts them). Order is the revision where the source knows it (dashboards), else the
-- commit date; a commit measured by several result files of one series keeps its median.
--
-- A table, not a view: detection, fct_change_points and the replication pairs all read it, and a
-- view would recompute the median and the window over every measurement for each of them.
{{ config(materialized='table') }}
with measurements as (
    select *
    from {{ ref('fct_measurements') }}
    where status = 'ok'
),

per_commit as (
    select
        md5(concat_ws(chr(31), source_name, machine, env_name, benchmark, params)) as series_id,
        source_name,
        commit_hash,
        any_value(revision)    as revision,
        min(commit_date)       as commit_date,
        median(value)          as value,
        median(ci_99_a)        as ci_99_a,
        median(ci_99_b)        as ci_99_b,
        count(*)               as n_measurements
    from measurements
    group by all
)

select
    series_id,
    row_number() over (
        partition by series_id order by revision nulls last, commit_date, commit_hash
    ) - 1 as position,
    commit_hash,
    revision,
    commit_date,
    value,
    ci_99_a,
    ci_99_b,
    n_measurements
from per_commit
