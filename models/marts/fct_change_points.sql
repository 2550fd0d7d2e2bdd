-- Every change point of every method, both directions, tied to the commits on either side.
with change_points as (
    select * from {{ ref('stg_detection__breakpoints') }}
),

series as (
    select * from {{ ref('dim_series') }}
),

points as (
    select * from {{ ref('int_series__points') }}
)

select
    change_points.change_point_id,
    change_points.series_id,
    series.source_name,
    series.source_kind,
    series.repo,
    series.machine,
    series.env_name,
    series.benchmark,
    series.params,
    series.benchmark_type,
    series.unit,
    change_points.method,
    change_points.direction,
    before.commit_hash                  as commit_before,
    after.commit_hash                   as commit_after,
    before.revision                     as revision_before,
    after.revision                      as revision_after,
    before.commit_date                  as commit_date_before,
    after.commit_date                   as commit_date_after,
    change_points.value_before,
    change_points.value_after,
    change_points.mean_before,
    change_points.mean_after,
    change_points.n_before,
    change_points.n_after,
    change_points.spread_before,
    change_points.spread_after,
    change_points.relative_change,
    change_points.speedup,
    change_points.p_value               as significance,
    change_points.significant,
    change_points.passes_floor,
    -- Commits between the two were not measured, so the change could be any of them. Known only
    -- where the source numbers its commits (dashboard revisions); null when it does not.
    case
        when before.revision is not null and after.revision is not null
            then after.revision - before.revision > 1
    end                                 as ambiguous_range,
    change_points.detected_at
from change_points
inner join series on series.series_id = change_points.series_id
inner join points as before
    on before.series_id = change_points.series_id and before.position = change_points.index_before
inner join points as after
    on after.series_id = change_points.series_id and after.position = change_points.index_after
