-- Do speed-ups measured twice agree? Per pair of measurement sets and method (and overall per
-- method, where a_source is null): correlations of the log speed-ups over the same commit ranges,
-- sign agreement, how often one set's improvements are found by the other, and Bland-Altman
-- agreement of the log speed-ups. All with DuckDB's own aggregates. The ranges are the change points
-- projected onto the commits both sets measured; the `_exact` columns repeat the figures over the
-- ranges whose own two commits both sets measured (the only ones compared before projection), and the
-- coverage columns say how many of each set's improvements could be compared at all.
with pairs as (
    select * from {{ ref('fct_replication_pairs') }}
),

improvements as (
    select * from {{ ref('fct_replication_projections') }}
    where direction = 'improvement'
),

-- Each set's improvements, compared or not, in the pair's scope and in the method's overall one.
coverage as (
    select repo, method, a_source, a_machine, b_source, b_machine,
           count(*) filter (where found_in = 'a')                        as n_improvements_found_a,
           count(*) filter (where found_in = 'a' and reason is null)     as n_improvements_compared_a,
           count(*) filter (where found_in = 'b')                        as n_improvements_found_b,
           count(*) filter (where found_in = 'b' and reason is null)     as n_improvements_compared_b
    from improvements
    group by repo, method, a_source, a_machine, b_source, b_machine
    union all
    select null, method, null, null, null, null,
           count(*) filter (where found_in = 'a'),
           count(*) filter (where found_in = 'a' and reason is null),
           count(*) filter (where found_in = 'b'),
           count(*) filter (where found_in = 'b' and reason is null)
    from improvements
    group by method
),

-- Every compared range twice: once in its pair's scope, once in the method's overall scope (the
-- pair columns null), so one set of aggregates serves both.
scoped as (
    select repo, method, a_source, a_machine, b_source, b_machine, repo as series_repo,
           benchmark, params, env_key, log_speedup_a, log_speedup_b, improvement_a, improvement_b, exact_range
    from pairs
    union all
    select null, method, null, null, null, null, repo,
           benchmark, params, env_key, log_speedup_a, log_speedup_b, improvement_a, improvement_b, exact_range
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

-- A full join: a pair with improvements but no comparable range still shows its coverage (0).
select
    coalesce(figures.repo, coverage.repo)           as repo,
    coalesce(figures.method, coverage.method)       as method,
    coalesce(figures.a_source, coverage.a_source)   as a_source,
    coalesce(figures.a_machine, coverage.a_machine) as a_machine,
    coalesce(figures.b_source, coverage.b_source)   as b_source,
    coalesce(figures.b_machine, coverage.b_machine) as b_machine,
    coalesce(figures.n_shared_series, 0)            as n_shared_series,
    coalesce(figures.n_change_points, 0)            as n_change_points,
    figures.* exclude (repo, method, a_source, a_machine, b_source, b_machine, n_shared_series, n_change_points),
    figures.bland_altman_mean - 1.96 * figures.bland_altman_sd as bland_altman_lower,
    figures.bland_altman_mean + 1.96 * figures.bland_altman_sd as bland_altman_upper,
    coverage.n_improvements_found_a,
    coverage.n_improvements_compared_a,
    coverage.n_improvements_compared_a / nullif(coverage.n_improvements_found_a, 0) as coverage_a,
    coverage.n_improvements_found_b,
    coverage.n_improvements_compared_b,
    coverage.n_improvements_compared_b / nullif(coverage.n_improvements_found_b, 0) as coverage_b
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
        stddev_samp(log_speedup_a - log_speedup_b)                as bland_altman_sd,
        count(*) filter (where exact_range)                       as n_change_points_exact,
        corr(log_speedup_a, log_speedup_b) filter (where exact_range) as pearson_log_speedup_exact,
        avg(case when sign(log_speedup_a) = sign(log_speedup_b) then 1.0 else 0.0 end) filter (where exact_range)
                                                                  as sign_agreement_exact
    from ranked
    group by repo, method, a_source, a_machine, b_source, b_machine
) as figures
full join coverage
    on (coverage.repo, coverage.method, coverage.a_source, coverage.a_machine, coverage.b_source, coverage.b_machine)
       is not distinct from
       (figures.repo, figures.method, figures.a_source, figures.a_machine, figures.b_source, figures.b_machine)
