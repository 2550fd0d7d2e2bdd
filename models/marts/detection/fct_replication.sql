-- Do speed-ups measured twice agree? Per pair of measurement sets and method (and overall per
-- method, where a_source is null): correlations of the log speed-ups over the same commit ranges,
-- sign agreement, how often one set's improvements are found by the other, and Bland-Altman
-- agreement of the log speed-ups. All with DuckDB's own aggregates.
with pairs as (
    select * from {{ ref('fct_replication_pairs') }}
),

-- Every compared range twice: once in its pair's scope, once in the method's overall scope (the
-- pair columns null), so one set of aggregates serves both.
scoped as (
    select repo, method, a_source, a_machine, b_source, b_machine, repo as series_repo,
           benchmark, params, env_key, log_speedup_a, log_speedup_b, improvement_a, improvement_b
    from pairs
    union all
    select null, method, null, null, null, null, repo,
           benchmark, params, env_key, log_speedup_a, log_speedup_b, improvement_a, improvement_b
    from pairs
),

ranked as (
    -- Spearman = Pearson on ranks, ties given their average rank, ranked within the scope.
    select
        *,
        rank() over (partition by repo, method, a_source, a_machine, b_source, b_machine order by log_speedup_a)
            + (count(*) over (partition by repo, method, a_source, a_machine, b_source, b_machine, log_speedup_a) - 1) / 2.0
            as rank_a,
        rank() over (partition by repo, method, a_source, a_machine, b_source, b_machine order by log_speedup_b)
            + (count(*) over (partition by repo, method, a_source, a_machine, b_source, b_machine, log_speedup_b) - 1) / 2.0
            as rank_b
    from scoped
)

select
    *,
    bland_altman_mean - 1.96 * bland_altman_sd as bland_altman_lower,
    bland_altman_mean + 1.96 * bland_altman_sd as bland_altman_upper
from (
    select
        repo, method, a_source, a_machine, b_source, b_machine,
        count(distinct (series_repo, benchmark, params, env_key))  as n_shared_series,
        count(*)                                                  as n_change_points,
        corr(log_speedup_a, log_speedup_b)                        as pearson_log_speedup,
        corr(rank_a, rank_b)                                      as spearman_speedup,
        avg(case when sign(log_speedup_a) = sign(log_speedup_b) then 1.0 else 0.0 end) as sign_agreement,
        count(*) filter (where improvement_a)                     as n_improvements_a,
        count(*) filter (where improvement_b)                     as n_improvements_b,
        count(*) filter (where improvement_a and improvement_b) / nullif(count(*) filter (where improvement_a), 0)
                                                                  as share_of_a_found_by_b,
        count(*) filter (where improvement_a and improvement_b) / nullif(count(*) filter (where improvement_b), 0)
                                                                  as share_of_b_found_by_a,
        avg(log_speedup_a - log_speedup_b)                        as bland_altman_mean,
        stddev_samp(log_speedup_a - log_speedup_b)                as bland_altman_sd
    from ranked
    group by repo, method, a_source, a_machine, b_source, b_machine
)
