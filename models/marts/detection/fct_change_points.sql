-- Every change point of every method, both directions, tied to the commits on either side.
--
-- Shape: each change point looks up its two points (index_before, index_after) in one equality join
-- on (series_id, position) over a two-rows-per-change-point list, then folds them back to one row.
-- Joining the points twice (as `before` and `after`, both on series_id) lets DuckDB's join order
-- optimizer join the two copies to each other on series_id alone before the position filters:
-- sum(points per series)^2 rows, which filled the disk on a full dashboard (issue 14).
with change_points as (
    select * from {{ ref('stg_detection__breakpoints') }}
),

series as (
    select * from {{ ref('dim_series') }}
),

points as (
    select series_id, position, commit_hash, revision, commit_date from {{ ref('fct_series_points') }}
),

ends as (
    select change_point_id, series_id, index_before as position, true as is_before from change_points
    union all
    select change_point_id, series_id, index_after as position, false as is_before from change_points
),

-- (series_id, position) is unique in fct_series_points, so each side finds at most one point.
located as (
    select
        ends.change_point_id,
        any_value(points.commit_hash) filter (where ends.is_before)     as commit_before,
        any_value(points.commit_hash) filter (where not ends.is_before) as commit_after,
        any_value(points.revision) filter (where ends.is_before)        as revision_before,
        any_value(points.revision) filter (where not ends.is_before)    as revision_after,
        any_value(points.commit_date) filter (where ends.is_before)     as commit_date_before,
        any_value(points.commit_date) filter (where not ends.is_before) as commit_date_after
    from ends
    inner join points on points.series_id = ends.series_id and points.position = ends.position
    group by ends.change_point_id
    -- both ends found, as the two inner joins it replaces required
    having count(*) filter (where ends.is_before) = 1 and count(*) filter (where not ends.is_before) = 1
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
    located.commit_before,
    located.commit_after,
    located.revision_before,
    located.revision_after,
    located.commit_date_before,
    located.commit_date_after,
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
        when located.revision_before is not null and located.revision_after is not null
            then located.revision_after - located.revision_before > 1
    end                                 as ambiguous_range,
    change_points.detected_at
from change_points
inner join series on series.series_id = change_points.series_id
inner join located on located.change_point_id = change_points.change_point_id
