-- Every performance improvement (fct_performance_improvements, same columns) with the strongest
-- evidence behind it, which decides which of several findings of one speed-up becomes a task's
-- workload (fct_task_workloads, docs/detection.md "Tasks from the best evidence"):
--   replicated    another measurement set (source x machine) flagged an improvement, with the same
--                 method, over the same commit range projected onto the commits both measured
--                 (fct_replication_pairs), and measured it independently: its speed-up over that
--                 range differs from this set's (identical values are the same runs published twice,
--                 as a dashboard and the raw results it was built from);
--   ci_separated  the 99% confidence intervals asv recorded at commit_before and at commit_after do
--                 not overlap (asv's own test when no samples are stored: asv._stats.is_different);
--                 only raw results carry them;
--   segments      the Mann-Whitney U test between the two segments (every improvement has it).
with improvements as (
    select * from {{ ref('fct_performance_improvements') }}
),

projections as (
    select * from {{ ref('fct_replication_projections') }}
    where reason is null and direction = 'improvement'
),

pairs as (
    select * from {{ ref('fct_replication_pairs') }}
),

replications as (
    select
        projections.change_point_id,
        count(distinct case when projections.found_in = 'a' then (pairs.b_source, pairs.b_machine)
                            else (pairs.a_source, pairs.a_machine) end) as n_replicating_sets
    from projections
    join pairs
        on pairs.repo = projections.repo
        and pairs.method = projections.method
        and (pairs.a_source, pairs.a_machine, pairs.b_source, pairs.b_machine)
          = (projections.a_source, projections.a_machine, projections.b_source, projections.b_machine)
        and pairs.benchmark = projections.benchmark
        and pairs.params is not distinct from projections.params
        and pairs.env_key is not distinct from projections.env_key
        and (pairs.commit_before, pairs.commit_after) = (projections.projected_before, projections.projected_after)
    where (case when projections.found_in = 'a' then pairs.improvement_b else pairs.improvement_a end)
      and pairs.speedup_a <> pairs.speedup_b
    group by projections.change_point_id
),

intervals as (
    select
        improvements.change_point_id,
        -- asv._stats.is_different's fallback: the intervals overlap when each starts at or before the
        -- other's end
        before_point.ci_99_b >= after_point.ci_99_a and before_point.ci_99_a <= after_point.ci_99_b as overlap
    from improvements
    join {{ ref('fct_series_points') }} as before_point
        on (before_point.series_id, before_point.commit_hash) = (improvements.series_id, improvements.commit_before)
    join {{ ref('fct_series_points') }} as after_point
        on (after_point.series_id, after_point.commit_hash) = (improvements.series_id, improvements.commit_after)
    where before_point.ci_99_a is not null and before_point.ci_99_b is not null
      and after_point.ci_99_a is not null and after_point.ci_99_b is not null
)

select
    improvements.*,
    coalesce(replications.n_replicating_sets, 0)                    as n_replicating_sets,
    coalesce(not intervals.overlap, false)                          as ci_separated,
    case
        when replications.n_replicating_sets > 0 then 'replicated'
        when not intervals.overlap then 'ci_separated'
        else 'segments'
    end                                                             as evidence,
    case
        when replications.n_replicating_sets > 0 then 3
        when not intervals.overlap then 2
        else 1
    end                                                             as evidence_rank
from improvements
left join replications using (change_point_id)
left join intervals using (change_point_id)
