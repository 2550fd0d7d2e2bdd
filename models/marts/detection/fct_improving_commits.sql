-- One row per repository x commit that some method found improving at least one series.
select
    repo,
    commit_after                               as commit_hash,
    any_value(commit_before)                   as commit_before,
    min(commit_date_after)                     as commit_date,
    max(revision_after)                        as revision,
    list(distinct source_name order by source_name) as source_names,
    list(distinct method order by method)      as methods,
    count(distinct series_id)                  as n_improved_series,
    count(distinct benchmark)                  as n_improved_benchmarks,
    median(speedup)                            as median_speedup,
    max(speedup)                               as max_speedup,
    bool_or(coalesce(ambiguous_range, false))  as any_ambiguous_range
from {{ ref('fct_performance_improvements') }}
group by repo, commit_after
