-- Per pair of measurement sets x method x compared commit range x series: the speed-up over the same
-- commit range (value at commit_before / value at commit_after) in set A and in set B, and whether
-- each set's detection flagged an improvement there. The ranges are the significant change points
-- above the floor that either set found, projected onto the commits both sets measured
-- (fct_replication_projections: the narrowest shared range that holds the change); a range found by
-- both sets, or by two change points, is one row. `exact_range` marks the ranges that some change
-- point's own two commits were measured by both sets (the only ranges compared before projection).
-- A series is matched across sets on benchmark, params and the environment's Python version
-- (`env_key`): tools and pinned requirements differ between machines and between a dashboard (no
-- tool recorded) and raw results.
-- A view, as it was when it was an intermediate model (the layering moved it here: it reads marts).
{{ config(materialized='view') }}
select
    repo,
    method,
    a_source,
    a_machine,
    b_source,
    b_machine,
    benchmark,
    params,
    env_key,
    projected_before                                                       as commit_before,
    projected_after                                                        as commit_after,
    arg_min(value_before_a / value_after_a, found_in)                      as speedup_a,
    arg_min(value_before_b / value_after_b, found_in)                      as speedup_b,
    ln(arg_min(value_before_a / value_after_a, found_in))                  as log_speedup_a,
    ln(arg_min(value_before_b / value_after_b, found_in))                  as log_speedup_b,
    bool_or(found_in = 'a' and direction = 'improvement')                  as improvement_a,
    bool_or(found_in = 'b' and direction = 'improvement')                  as improvement_b,
    bool_or(exact_range)                                                   as exact_range,
    max(case when found_in = 'a' then n_commits_found else n_commits_other end) as n_commits_a,
    max(case when found_in = 'b' then n_commits_found else n_commits_other end) as n_commits_b
from {{ ref('fct_replication_projections') }}
where reason is null
group by repo, method, a_source, a_machine, b_source, b_machine, benchmark, params, env_key,
         projected_before, projected_after
