-- Per pair of measurement sets x significant change point above the floor that either set found:
-- the change point's commit range projected onto the commits both sets measured in that series, or
-- the reason it could not be. The projected range is the narrowest range of shared commits that
-- holds the change: from the last commit both sets measured at or before the change point's
-- commit_before to the first one at or after its commit_after (in the finding set's commit order).
-- When both of the change point's own commits were measured by the other set the projection is the
-- range itself (`exact_range`, the only ranges compared before projection).
--
-- The other set's series is matched on benchmark, params and the environment's Python version
-- (`env_key`); when several of its series share that key, the one sharing the most commits with
-- the finding series (then the smallest series_id).
--
-- Reasons (`reason`, null when compared):
--   no_matching_series       the other set has no series of that benchmark, params and Python
--   no_shared_commit_before  no commit at or before commit_before was measured by both
--   no_shared_commit_after   no commit at or after commit_after was measured by both
--   order_differs            the other set orders the two shared commits the other way (a range of
--                            the change point's own two commits is compared all the same, as before)
--   another_change_in_range  the projected range also holds another of the finding set's change
--                            points (same series and method): its speed-up is not this change's
--   nonpositive_value        a value at an end of the range is zero or negative (no log speed-up)
-- A table: fct_replication_pairs, fct_replication_coverage and fct_replication all read it.
{{ config(materialized='table') }}
with set_pairs as (
    select * from {{ ref('fct_replication_set_pairs') }}
),

series as (
    select
        series_id, source_name, machine, benchmark, params,
        regexp_extract(env_name, '(^|-)py([0-9]+(\.[0-9]+)*)', 2) as env_key
    from {{ ref('dim_series') }}
),

points as (
    select series_id, position, commit_hash, value
    from {{ ref('fct_series_points') }}
),

change_points as (
    select
        set_pairs.repo, set_pairs.a_source, set_pairs.a_machine, set_pairs.b_source, set_pairs.b_machine,
        case when (cp.source_name, cp.machine) = (set_pairs.a_source, set_pairs.a_machine)
             then 'a' else 'b' end                                        as found_in,
        case when (cp.source_name, cp.machine) = (set_pairs.a_source, set_pairs.a_machine)
             then set_pairs.b_source else set_pairs.a_source end          as other_source,
        case when (cp.source_name, cp.machine) = (set_pairs.a_source, set_pairs.a_machine)
             then set_pairs.b_machine else set_pairs.a_machine end        as other_machine,
        cp.change_point_id, cp.series_id, cp.method, cp.direction, cp.benchmark, cp.params,
        regexp_extract(cp.env_name, '(^|-)py([0-9]+(\.[0-9]+)*)', 2)      as env_key,
        cp.commit_before, cp.commit_after
    from {{ ref('fct_change_points') }} as cp
    join set_pairs
        on (cp.source_name, cp.machine) in ((set_pairs.a_source, set_pairs.a_machine),
                                            (set_pairs.b_source, set_pairs.b_machine))
    where cp.significant and cp.passes_floor
),

positioned as (
    select change_points.*, before_point.position as position_before, after_point.position as position_after
    from change_points
    join points as before_point
        on (before_point.series_id, before_point.commit_hash) = (change_points.series_id, change_points.commit_before)
    join points as after_point
        on (after_point.series_id, after_point.commit_hash) = (change_points.series_id, change_points.commit_after)
),

finding_series as (
    select distinct series_id, other_source, other_machine, benchmark, params, env_key
    from positioned
),

-- Every commit the finding series shares with each candidate series of the other set.
candidate_shared as (
    select
        finding.series_id  as x_series,
        finding.other_source,
        finding.other_machine,
        other.series_id    as y_series,
        x_point.position   as x_position,
        y_point.position   as y_position,
        x_point.commit_hash,
        x_point.value      as x_value,
        y_point.value      as y_value
    from finding_series as finding
    join series as other
        on other.source_name = finding.other_source
        and other.machine = finding.other_machine
        and other.benchmark = finding.benchmark
        and other.params is not distinct from finding.params
        and other.env_key is not distinct from finding.env_key
    join points as x_point on x_point.series_id = finding.series_id
    join points as y_point
        on (y_point.series_id, y_point.commit_hash) = (other.series_id, x_point.commit_hash)
),

chosen as (
    select x_series, other_source, other_machine, y_series
    from candidate_shared
    group by x_series, other_source, other_machine, y_series
    qualify row_number() over (
        partition by x_series, other_source, other_machine order by count(*) desc, y_series
    ) = 1
),

shared as (
    select candidate_shared.*
    from candidate_shared
    join chosen using (x_series, other_source, other_machine, y_series)
),

projected as (
    select
        positioned.*,
        chosen.y_series,
        lower_end.x_position as x_position_from,
        lower_end.y_position as y_position_from,
        lower_end.commit_hash as projected_before,
        lower_end.x_value    as x_value_before,
        lower_end.y_value    as y_value_before
    from positioned
    left join chosen
        on (chosen.x_series, chosen.other_source, chosen.other_machine)
         = (positioned.series_id, positioned.other_source, positioned.other_machine)
    asof left join shared as lower_end
        on lower_end.x_series = positioned.series_id
        and lower_end.y_series = chosen.y_series
        and lower_end.x_position <= positioned.position_before
),

projected_both as (
    select
        projected.*,
        upper_end.x_position  as x_position_to,
        upper_end.y_position  as y_position_to,
        upper_end.commit_hash as projected_after,
        upper_end.x_value     as x_value_after,
        upper_end.y_value     as y_value_after
    from projected
    asof left join shared as upper_end
        on upper_end.x_series = projected.series_id
        and upper_end.y_series = projected.y_series
        and upper_end.x_position >= projected.position_after
),

-- Other change points of the same series, method and pair inside each projected range.
others as (
    select projected_both.change_point_id, projected_both.a_source, projected_both.a_machine,
           projected_both.b_source, projected_both.b_machine, count(*) as n_other_changes
    from projected_both
    join positioned as other_change
        on other_change.series_id = projected_both.series_id
        and other_change.method = projected_both.method
        and other_change.found_in = projected_both.found_in
        and other_change.a_source = projected_both.a_source
        and other_change.a_machine = projected_both.a_machine
        and other_change.b_source = projected_both.b_source
        and other_change.b_machine = projected_both.b_machine
        and other_change.change_point_id <> projected_both.change_point_id
        and other_change.position_after > projected_both.x_position_from
        and other_change.position_after <= projected_both.x_position_to
    group by all
),

with_others as (
    select projected_both.*, coalesce(others.n_other_changes, 0) as n_other_changes
    from projected_both
    left join others using (change_point_id, a_source, a_machine, b_source, b_machine)
)

select
    repo, method, a_source, a_machine, b_source, b_machine, found_in, change_point_id, series_id,
    y_series                                                      as other_series_id,
    direction, benchmark, params, env_key, commit_before, commit_after,
    projected_before, projected_after,
    x_position_to - x_position_from                               as n_commits_found,
    y_position_to - y_position_from                               as n_commits_other,
    coalesce(projected_before = commit_before and projected_after = commit_after, false) as exact_range,
    case
        when y_series is null then 'no_matching_series'
        when projected_before is null then 'no_shared_commit_before'
        when projected_after is null then 'no_shared_commit_after'
        when y_position_from >= y_position_to
             and not (projected_before = commit_before and projected_after = commit_after) then 'order_differs'
        when n_other_changes > 0 then 'another_change_in_range'
        when least(x_value_before, x_value_after, y_value_before, y_value_after) <= 0 then 'nonpositive_value'
    end                                                           as reason,
    case when found_in = 'a' then x_value_before else y_value_before end as value_before_a,
    case when found_in = 'a' then x_value_after else y_value_after end   as value_after_a,
    case when found_in = 'a' then y_value_before else x_value_before end as value_before_b,
    case when found_in = 'a' then y_value_after else x_value_after end   as value_after_b
from with_others
